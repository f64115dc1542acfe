"""Price lists by effective date, quote lines and totals (R-PA-3)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from parts.domain.pricing import (
    PRICE_ROLES,
    NotPriced,
    PriceEntry,
    PriceList,
    Wanted,
    consumable_lines,
    in_effect,
    repair_lines,
    total,
)


def plist(version: str, day: str, **items: tuple[str, str]) -> PriceList:
    return PriceList(
        version=version,
        effective_from=date.fromisoformat(day),
        created_by="fin-zhao",
        items={k: PriceEntry(cost=Decimal(c), list_price=Decimal(p), name=k) for k, (c, p) in items.items()},
    )


def test_the_newest_list_in_effect_applies() -> None:
    lists = [plist("v1", "2026-01-01", f=("100", "200")), plist("v2", "2026-12-01", f=("110", "220"))]
    assert in_effect(lists, date(2026, 11, 30)).version == "v1"
    assert in_effect(lists, date(2026, 12, 1)).version == "v2"
    assert in_effect(lists, date(2025, 1, 1)) is None


def test_consumable_lines_use_the_list_price() -> None:
    lines = consumable_lines(plist("v1", "2026-01-01", f=("100", "268")), [Wanted("f", 2)])
    assert (lines[0].unit_price, lines[0].amount) == (Decimal("268.00"), Decimal("536.00"))
    assert total(lines) == Decimal("536.00")
    with pytest.raises(NotPriced, match="g"):
        consumable_lines(plist("v1", "2026-01-01", f=("1", "2")), [Wanted("g", 1)])


def test_out_of_warranty_repair_is_part_at_cost_plus_freight_both_ways() -> None:
    lines = repair_lines(plist("v1", "2026-01-01", motor=("300", "480"), freight=("20", "25")), "motor")
    assert [(line.item, line.quantity, line.unit_price) for line in lines] == [
        ("motor", 1, Decimal("300.00")),
        ("freight", 2, Decimal("25.00")),
    ]
    assert total(lines) == Decimal("350.00")


def test_only_finance_and_the_specialist_see_prices() -> None:
    assert set(PRICE_ROLES) == {"finance", "specialist"}
