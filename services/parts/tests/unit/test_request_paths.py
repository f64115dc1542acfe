"""A key-part request's paths (R-PA-1): A found; A not found → B; A deadline → B; B to the end."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from parts.domain.request import LegHours, PartsRequest, RepairDone, Shipment, StepRefused

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def request(**changes) -> PartsRequest:
    return PartsRequest(
        request_id="PR-1",
        case_id="YD-7K3M9QX2AB",
        part="motor",
        chargeable=False,
        sourcing_by="RM-SOUTH-01",
        deadline=T0 + timedelta(hours=48),
        opened_at=T0,
        decision_event_id="e",
        **changes,
    )


def repair(by: str = "RM-SOUTH-01") -> RepairDone:
    return RepairDone(
        technician="李师傅",
        repaired_on=date(2026, 11, 22),
        old_serial="M-1",
        new_serial="M-2",
        fault_found="电机轴承损坏",
        cause="正常老化",
        by=by,
    )


def types(events) -> list[str]:
    return [t for t, _ in events]


def test_path_a_found_then_repaired() -> None:
    r = request()
    events = r.report_local(
        found=True,
        by="RM-SOUTH-01",
        now=T0,
        supplier="S",
        source="广州某家电维修部",
        price_paid=Decimal("320.00"),
        receipt_no="R-9",
    )
    assert types(events) == ["parts.local_sourcing_reported"] and r.state == "sourced_locally"
    assert events[0][1].found is True and "price" not in events[0][1].model_dump_json()
    assert (
        types(r.record_repair(repair(), now=T0)) == ["parts.repaired"]
        and r.state == "repaired"
        and r.path == "A"
    )


def test_path_a_not_found_goes_to_the_supplier_at_once() -> None:
    r = request()
    events = r.report_local(found=False, by="RM-SOUTH-01", now=T0, supplier="宁波某电机")
    assert types(events) == ["parts.local_sourcing_reported", "parts.rma_opened"]
    assert (r.state, r.path, r.rma_reason, r.supplier) == (
        "supplier_rma",
        "B",
        "not_found_locally",
        "宁波某电机",
    )


def test_path_a_deadline_passing_goes_to_the_supplier() -> None:
    r = request()
    assert r.deadline_passed(now=T0 + timedelta(hours=47), supplier="S") == []
    events = r.deadline_passed(now=T0 + timedelta(hours=49), supplier="S")
    assert types(events) == ["parts.rma_opened"] and events[0][1].reason == "local_deadline_passed"
    assert r.deadline_passed(now=T0 + timedelta(hours=50), supplier="S") == []  # once


def test_path_b_complete() -> None:
    r = request()
    r.report_local(found=False, by="RM-SOUTH-01", now=T0, supplier="S")
    assert types(r.confirm_rma(rma_no="RMA-1", supplier=None, by="sp-liu", now=T0)) == ["parts.rma_opened"]
    back = Shipment(
        direction="defective_to_company", carrier="顺丰", tracking_no="SF1", to="英德", by="RM", at=T0
    )
    out = Shipment(
        direction="good_part_to_field", carrier="顺丰", tracking_no="SF2", to="D-GZ-001", by="sp", at=T0
    )
    assert types(r.ship(back)) == ["parts.shipped"] and r.state == "rma_confirmed"
    assert types(r.ship(out)) == ["parts.shipped"] and r.state == "good_part_shipped"
    assert r.field_recipient == "D-GZ-001"
    # Repairing with the good part confirms it reached the field.
    assert types(r.record_repair(repair(), now=T0)) == ["parts.arrived", "parts.repaired"]
    assert [s.step for s in r.steps] == [
        "local_sourcing_reported",
        "supplier_rma_opened",
        "rma_confirmed",
        "shipped_defective_to_company",
        "shipped_good_part_to_field",
        "arrived_good_part_in_field",
        "repaired",
    ]


def test_path_b_legs_have_deadlines_each_confirmed_and_escalated_once_when_late() -> None:
    r = request(
        hours=LegHours(rma=24, defective_at_company=72, defective_at_supplier=48, good_part_in_field=96)
    )
    r.report_local(found=False, by="RM-SOUTH-01", now=T0, supplier="宁波某电机")
    assert r.next_leg_due() == T0 + timedelta(hours=24)
    assert r.overdue_legs(T0 + timedelta(hours=23)) == []
    [(t, late)] = r.overdue_legs(T0 + timedelta(hours=25))
    assert (t, late.leg, late.waiting_on) == ("parts.leg_overdue", "rma", "宁波某电机")
    assert r.overdue_legs(T0 + timedelta(hours=26)) == []  # once
    t1 = T0 + timedelta(hours=30)
    r.confirm_rma(rma_no="RMA-1", supplier=None, by="sp-liu", now=t1)
    assert r.legs["rma"].done_at == t1
    assert {k: v.due_at for k, v in r.legs.items() if v.waiting} == {
        "defective_at_company": t1 + timedelta(hours=72),
        "good_part_in_field": t1 + timedelta(hours=96),
    }
    with pytest.raises(StepRefused):  # no arrival without its shipment
        r.confirm_arrival(leg="defective_at_company", arrived_on=date(2026, 11, 22), by="sp-liu", now=t1)
    with pytest.raises(StepRefused):  # the defective part goes to the supplier once it is back at the company
        r.ship(
            Shipment(
                direction="defective_to_supplier",
                carrier="顺丰",
                tracking_no="SF3",
                to="宁波某电机",
                by="sp",
                at=t1,
            )
        )
    r.ship(
        Shipment(
            direction="defective_to_company", carrier="顺丰", tracking_no="SF1", to="英德", by="RM", at=t1
        )
    )
    t2 = t1 + timedelta(hours=50)
    [(t, arrived)] = r.confirm_arrival(
        leg="defective_at_company", arrived_on=date(2026, 11, 23), by="sp-liu", now=t2
    )
    assert (t, arrived.leg, arrived.confirmed_by) == ("parts.arrived", "defective_at_company", "sp-liu")
    assert r.legs["defective_at_supplier"].due_at == t2 + timedelta(hours=48)
    # The good part is late: escalated; the supplier leg is not yet.
    [(_, late)] = r.overdue_legs(t1 + timedelta(hours=97))
    assert late.leg == "good_part_in_field"
    r.ship(
        Shipment(
            direction="defective_to_supplier",
            carrier="顺丰",
            tracking_no="SF3",
            to="宁波某电机",
            by="sp",
            at=t2,
        )
    )
    r.confirm_arrival(leg="defective_at_supplier", arrived_on=date(2026, 11, 25), by="sp-liu", now=t2)
    with pytest.raises(StepRefused):
        r.confirm_arrival(leg="defective_at_supplier", arrived_on=date(2026, 11, 25), by="sp-liu", now=t2)
    r.ship(
        Shipment(
            direction="good_part_to_field", carrier="顺丰", tracking_no="SF2", to="D-GZ-001", by="sp", at=t2
        )
    )
    r.confirm_arrival(leg="good_part_in_field", arrived_on=date(2026, 11, 26), by="D-GZ-001", now=t2)
    assert types(r.record_repair(repair(by="D-GZ-001"), now=t2)) == ["parts.repaired"]
    assert r.next_leg_due() is None and r.overdue_legs(t2 + timedelta(days=30)) == []


@pytest.mark.parametrize(
    "action",
    [
        lambda r: r.confirm_rma(rma_no="X", supplier=None, by="x", now=T0),  # no RMA before A failed
        lambda r: r.ship(
            Shipment(direction="good_part_to_field", carrier="c", tracking_no="t1234", to="d", by="x", at=T0)
        ),
        lambda r: r.record_repair(repair(), now=T0),  # no part yet
    ],
)
def test_steps_out_of_order_are_refused(action) -> None:
    with pytest.raises(StepRefused) as err:
        action(request())
    assert "sourcing_locally" in str(err.value)


def test_a_second_answer_or_shipment_is_refused() -> None:
    r = request()
    r.report_local(found=False, by="x", now=T0, supplier="S")
    with pytest.raises(StepRefused):
        r.report_local(found=True, by="x", now=T0, supplier="S", source="s")
    r.confirm_rma(rma_no="R", supplier=None, by="x", now=T0)
    out = Shipment(direction="good_part_to_field", carrier="c", tracking_no="t1234", to="d", by="x", at=T0)
    r.ship(out)
    with pytest.raises(StepRefused):
        r.ship(out)
    with pytest.raises(StepRefused, match="source"):
        request().report_local(found=True, by="x", now=T0, supplier="S")
