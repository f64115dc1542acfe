"""Consumable quotes (R-PA-3) and who may see a price (R-PA-4).

Finance keeps versioned price lists with effective dates; the quote a specialist issues takes the
list price in effect today for items in stock. Out-of-stock items are not quoted: purchasing is told.
An out-of-warranty key-part repair is quoted at cost plus freight both ways (权益 2.7).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from pydantic import BaseModel, Field

from shared.contracts.parts import QuoteLine
from shared.roles import PRICE_READERS

# Only these roles may ever see a cost or list price; every other role gets 403.
PRICE_ROLES = PRICE_READERS
FREIGHT_ITEM = "freight"


class PriceEntry(BaseModel):
    cost: Decimal = Field(ge=0, description="What the company pays.")
    list_price: Decimal = Field(ge=0, description="What a customer is quoted.")
    name: str = ""


class PriceList(BaseModel):
    version: str
    effective_from: date
    items: dict[str, PriceEntry]
    created_by: str


def in_effect(lists: list[PriceList], day: date) -> PriceList | None:
    """The newest list whose effective date has come."""
    current = [p for p in lists if p.effective_from <= day]
    return max(current, key=lambda p: (p.effective_from, p.version)) if current else None


class NotPriced(Exception):
    def __init__(self, items: list[str]) -> None:
        super().__init__(f"no price in effect for: {', '.join(items)}")
        self.items = items


def _money(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Wanted:
    item: str
    quantity: int


def consumable_lines(prices: PriceList, wanted: list[Wanted]) -> list[QuoteLine]:
    missing = [w.item for w in wanted if w.item not in prices.items]
    if missing:
        raise NotPriced(missing)
    return [
        QuoteLine(
            item=w.item,
            description=prices.items[w.item].name or w.item,
            quantity=w.quantity,
            unit_price=_money(prices.items[w.item].list_price),
            amount=_money(prices.items[w.item].list_price * w.quantity),
        )
        for w in wanted
    ]


def repair_lines(prices: PriceList, part: str) -> list[QuoteLine]:
    """Out of warranty: the part at cost and freight both ways, paid by the customer (权益 2.7)."""
    missing = [i for i in (part, FREIGHT_ITEM) if i not in prices.items]
    if missing:
        raise NotPriced(missing)
    p, f = prices.items[part], prices.items[FREIGHT_ITEM]
    return [
        QuoteLine(
            item=part,
            description=f"{p.name or part}（成本价 / at cost）",
            quantity=1,
            unit_price=_money(p.cost),
            amount=_money(p.cost),
        ),
        QuoteLine(
            item=FREIGHT_ITEM,
            description="往返运费 / freight both ways",
            quantity=2,
            unit_price=_money(f.list_price),
            amount=_money(f.list_price * 2),
        ),
    ]


def total(lines: list[QuoteLine]) -> Decimal:
    return _money(sum((line.amount for line in lines), Decimal(0)))


# Finance's rate card is part of the price list: labour per hour for repairs and for installation work.
LABOUR_ITEM = "labour_hour"
INSTALLATION_LABOUR_ITEM = "installation_labour_hour"


def _need(prices: PriceList, items: list[str]) -> None:
    missing = [i for i in items if i not in prices.items]
    if missing:
        raise NotPriced(missing)


def paid_repair_lines(
    prices: PriceList, parts: list[str], labour_hours: Decimal, *, freight: bool
) -> list[QuoteLine]:
    """A paid repair: parts at cost, labour by finance's rate card, freight both ways only where the
    regulation puts it on the customer (权益 2.7: past the warranty period)."""
    _need(prices, [*parts, *([LABOUR_ITEM] if labour_hours else []), *([FREIGHT_ITEM] if freight else [])])
    lines = [
        QuoteLine(
            item=p,
            description=f"{prices.items[p].name or p}（成本价 / at cost）",
            quantity=1,
            unit_price=_money(prices.items[p].cost),
            amount=_money(prices.items[p].cost),
        )
        for p in parts
    ]
    if labour_hours:
        rate = prices.items[LABOUR_ITEM].list_price
        lines.append(
            QuoteLine(
                item=LABOUR_ITEM,
                description=f"人工 {labour_hours} 小时 / labour, hours",
                quantity=1,
                unit_price=_money(rate * labour_hours),
                amount=_money(rate * labour_hours),
            )
        )
    if freight:
        f = prices.items[FREIGHT_ITEM]
        lines.append(
            QuoteLine(
                item=FREIGHT_ITEM,
                description="往返运费 / freight both ways",
                quantity=2,
                unit_price=_money(f.list_price),
                amount=_money(f.list_price * 2),
            )
        )
    return lines


def replacement_lines(prices: PriceList, item: str, rate: float) -> list[QuoteLine]:
    """A replacement (§三.2.2B): the new product's cost times the depreciation the rule set gives the old one."""
    _need(prices, [item])
    charge = _money(prices.items[item].cost * Decimal(str(rate)))
    return [
        QuoteLine(
            item=item,
            description=f"{prices.items[item].name or item} 更换，折旧 {rate:.0%} / replacement, "
            f"{rate:.0%} depreciation",
            quantity=1,
            unit_price=charge,
            amount=charge,
        )
    ]


def installation_lines(prices: PriceList, labour_hours: Decimal, materials: list[Wanted]) -> list[QuoteLine]:
    """Paid installation maintenance (§二.3.4.2, past the maintenance year): labour and materials."""
    _need(prices, [INSTALLATION_LABOUR_ITEM, *(m.item for m in materials)])
    amount = _money(prices.items[INSTALLATION_LABOUR_ITEM].list_price * labour_hours)
    labour = QuoteLine(
        item=INSTALLATION_LABOUR_ITEM,
        description=f"工程维护人工 {labour_hours} 小时 / installation labour, hours",
        quantity=1,
        unit_price=amount,
        amount=amount,
    )
    return [labour, *consumable_lines(prices, materials)]
