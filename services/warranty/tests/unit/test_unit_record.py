"""A unit's record, alone: sales, repairs told twice, exchange and return (R-WA-7)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from warranty.domain.unit import Sale, Unit, UnitRefused, UnitRepair, batch_of

AT = datetime(2026, 11, 30, tzinfo=UTC)


def sale(**changes) -> Sale:
    return Sale(
        **(
            {
                "source": "dealer",
                "dealer_code": "D-GZ-001",
                "invoice_no": "1",
                "invoice_date": date(2026, 6, 1),
                "purchase_date": date(2026, 6, 1),
                "service_card_stamped": True,
                "recorded_by": "D-GZ-001",
                "recorded_at": AT,
            }
            | changes
        )
    )


@pytest.mark.parametrize(
    ("serial", "batch"),
    [
        ("XF2502405001234", "XF250-2405"),
        ("XF1K2501000007", "XF1K-2501"),
        ("XF2509999", None),
        ("ZZ123", None),
    ],
)
def test_the_production_batch_comes_from_the_serial(serial, batch) -> None:
    assert batch_of(serial) == batch


def test_a_sale_is_registered_once_and_the_customer_completes_it() -> None:
    unit = Unit.new("XF2502405001234")
    assert unit.model == "YD-XF250"
    unit.register_sale(sale(), model="YD-XF250")
    unit.register_sale(sale(), model="YD-XF250")  # the same again: nothing new
    assert len(unit.history) == 1
    with pytest.raises(UnitRefused):
        unit.register_sale(sale(dealer_code="D-SZ-009"), model=None)
    with pytest.raises(UnitRefused):
        unit.register_sale(sale(invoice_no="2"), model=None)
    unit.register_sale(
        sale(
            source="customer",
            dealer_code=None,
            invoice_no=None,
            invoice_attachment="F-1",
            customer_phone="+8613800000000",
            recorded_by="customer",
        ),
        model=None,
    )
    assert (unit.sale.source, unit.sale.invoice_no, unit.sale.invoice_attachment) == ("dealer", "1", "F-1")


def test_a_repair_told_by_parts_and_by_its_record_is_one_repair_and_a_closure_gives_way() -> None:
    unit = Unit.new("XF2502405001234")
    unit.record_repair(
        UnitRepair(
            repair_id="close:YD-1", case_id="YD-1", repaired_on=date(2026, 7, 2), days=3, source="case.closed"
        ),
        at=AT,
    )
    unit.record_repair(
        UnitRepair(
            repair_id="PR-1",
            case_id="YD-1",
            part="motor",
            repaired_on=date(2026, 7, 1),
            days=2,
            source="parts.repaired",
        ),
        at=AT,
    )
    unit.record_repair(
        UnitRepair(
            repair_id="PR-1",
            case_id="YD-1",
            repaired_on=date(2026, 7, 1),
            days=2,
            source="repair.recorded",
            record_id="RR-1",
        ),
        at=AT,
    )
    assert [(r.repair_id, r.record_id, r.part) for r in unit.repairs] == [("PR-1", "RR-1", "motor")]
    unit.record_repair(
        UnitRepair(
            repair_id="close:YD-1", case_id="YD-1", repaired_on=date(2026, 7, 2), days=3, source="case.closed"
        ),
        at=AT,
    )
    assert len(unit.repairs) == 1
    assert [r.case_id for r in unit.engine_repairs(except_case="YD-2")] == ["YD-1"]
    assert unit.engine_repairs(except_case="YD-1") == ()


def test_an_exchange_closes_the_old_unit_and_starts_the_new_one() -> None:
    old, new = Unit.new("XF2502405001234"), Unit.new("XF2502411000001")
    old.register_sale(sale(), model=None)
    old.exchange_out(new.serial_no, on=date(2026, 11, 30), case_id="YD-3", at=AT)
    new.exchange_in(old, on=date(2026, 11, 30), case_id="YD-3", at=AT)
    assert (old.status, old.exchanged_for) == ("exchanged", "XF2502411000001")
    assert (new.replaces, new.exchanged_in_on, new.sale.source) == (
        "XF2502405001234",
        date(2026, 11, 30),
        "exchange",
    )
    with pytest.raises(UnitRefused):
        old.returned(on=date(2026, 12, 1), case_id="YD-4", at=AT)
    with pytest.raises(UnitRefused):
        old.register_sale(sale(), model=None)
    with pytest.raises(UnitRefused):  # a serial with a record of its own is no new unit
        Unit.new("XF2502411000002").model_copy(update={"sale": sale()}).exchange_in(
            old, on=date(2026, 11, 30), case_id="YD-3", at=AT
        )
