"""Remedy quotes (R-WA-8) through the handler, against in-memory fakes: paid installation maintenance."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from parts.adapters.repository import CaseContext, Quote
from parts.domain.pricing import NotPriced, PriceEntry, PriceList, Wanted
from parts.domain.request import LegHours
from parts.handlers import Parts, QuoteInvalid, quote_remedy
from shared.testing.fakes import FakeAggregates
from shared.testing.identities import new_case_id

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # 10:00 in China
REMEDY = "RM-000000000C"


def rate_card(**extra: tuple[str, str]) -> PriceList:
    """Finance's list: repair and installation labour differ, so a quote shows which rate it used."""
    items = {
        "labour_hour": ("40.00", "80.00"),
        "installation_labour_hour": ("60.00", "120.00"),
        "duct_clamp": ("3.50", "6.50"),
        "seal_tape": ("8.00", "15.00"),
        **extra,
    }
    return PriceList(
        version="v-2026-11",
        effective_from=date(2026, 1, 1),
        created_by="fin-zhao",
        items={k: PriceEntry(cost=Decimal(c), list_price=Decimal(p), name=k) for k, (c, p) in items.items()},
    )


class PriceLists:
    """The parts repository's price lists and quotes, without a store."""

    def __init__(self, *lists: PriceList) -> None:
        self.lists = list(lists)
        self.quotes: FakeAggregates[Quote] = FakeAggregates(
            Quote, id_field="quote_id", producer="parts", kind="quote", correlation=lambda q: q.case_id
        )

    async def price_list_versions(self) -> list[PriceList]:
        return self.lists


def parts_with(*lists: PriceList) -> Parts:
    return Parts(
        repo=PriceLists(*lists),  # type: ignore[arg-type]
        regional_managers={},
        suppliers={},
        local_sourcing_hours=48,
        leg_hours=LegHours(),
        quote_valid_days=15,
        restock_days=7,
        unknown_case_grace_s=0,
        pdf_font=Path("unused.ttf"),
        clock=lambda: NOW,
    )


def installation_case() -> CaseContext:
    """A project's unit past its maintenance year: warranty offered paid installation maintenance."""
    return CaseContext(
        case_id=new_case_id(),
        specialist_id="sp-liu",
        decision="chargeable",
        remedy="paid_installation_maintenance",
        remedies={REMEDY: "paid_installation_maintenance"},
    )


async def test_paid_installation_maintenance_is_quoted_labour_and_materials_from_the_rate_card() -> None:
    """§二.3.4.2: past the maintenance year the work is charged: installation labour at finance's hourly rate
    (not the repair rate), materials at their list price."""
    parts, ctx = parts_with(rate_card()), installation_case()
    quote = await quote_remedy(
        parts,
        ctx,
        REMEDY,
        by="sp-liu",
        labour_hours=Decimal("2.5"),
        materials=[Wanted("duct_clamp", 4), Wanted("seal_tape", 1)],
    )
    assert [(q.item, q.quantity, q.unit_price, q.amount) for q in quote.lines] == [
        ("installation_labour_hour", 1, Decimal("300.00"), Decimal("300.00")),
        ("duct_clamp", 4, Decimal("6.50"), Decimal("26.00")),
        ("seal_tape", 1, Decimal("15.00"), Decimal("15.00")),
    ]
    assert "2.5" in quote.lines[0].description
    assert quote.total == Decimal("341.00")
    assert (quote.kind, quote.remedy_id, quote.price_list, quote.issued_by) == (
        "installation_maintenance",
        REMEDY,
        "v-2026-11",
        "sp-liu",
    )
    assert quote.valid_until == date(2026, 12, 5)
    [issued] = parts.repo.quotes.events("quote.issued")
    assert (issued.payload["kind"], issued.payload["remedy_id"], issued.payload["total"]) == (
        "installation_maintenance",
        REMEDY,
        "341.00",
    )
    assert issued.correlation_id == ctx.case_id


async def test_paid_installation_maintenance_needs_labour_hours_and_its_own_rate() -> None:
    ctx = installation_case()
    with pytest.raises(QuoteInvalid, match="labour_hours"):
        await quote_remedy(
            parts_with(rate_card()), ctx, REMEDY, by="sp-liu", materials=[Wanted("seal_tape", 1)]
        )
    without_rate = rate_card()
    del without_rate.items["installation_labour_hour"]
    parts = parts_with(without_rate)
    with pytest.raises(NotPriced, match="installation_labour_hour"):
        await quote_remedy(parts, ctx, REMEDY, by="sp-liu", labour_hours=Decimal("1"))
    assert parts.repo.quotes.published == []
