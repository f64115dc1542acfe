"""A complaint becomes an assigned case; replies, closure and follow-ups publish their events (R-DS-1..3)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.contracts.cases import CaseAssigned
from shared.testing.identities import new_case_id

pytestmark = pytest.mark.integration

DEALER_BODY = {
    "dealer_code": "D-GZ-001",
    "ticket_id": "T-77",
    "customer": {"name": "王女士", "phone": "13812345678", "address": "广东省广州市天河区体育西路1号"},
    "product": {
        "model": "YD-XF250",
        "serial_no": "XF2502405001234",
        "purchase_date": "2026-03-18",
        "invoice_no": "44001234",
        "service_card_stamped": True,
    },
    "description": "新风机开机后电机异响，风量明显变小",
}


async def test_a_posted_complaint_is_assigned_within_seconds(
    intake, dispatch, events, keys, case_status
) -> None:
    posted = await intake.post("/v1/complaints/dealer", json=DEALER_BODY, headers=keys["dealer"])
    case_id = posted.json()["case_id"]
    case = await case_status(dispatch, case_id, "assigned", keys["manager"])
    assert (case["department"], case["category"], case["assignee"]) == ("quality", "product_fault", "sp-liu")
    assert case["customer"]["phone"] == "+8613812345678"  # the manager sees it
    assert case["targets"]["assign"]["state"] == "met"
    [record] = await events.dispatched(case_id, "case.assigned")
    assigned = CaseAssigned.model_validate(record.envelope().payload)
    assert assigned.specialist_id == "sp-liu" and assigned.product.serial_no == "XF2502405001234"
    assert "region south_china" in assigned.reason
    assert record.envelope().causation_id is not None


async def test_installation_complaints_go_to_the_engineering_department(
    dispatch, events, keys, case_status
) -> None:
    case_id = new_case_id()
    await events.complaint(
        case_id,
        description="风管接口漏水",
        category_guess={"category": "installation", "confidence": 0.9, "evidence": ["description: 漏水"]},
    )
    case = await case_status(dispatch, case_id, "assigned", keys["manager"])
    assert (case["department"], case["assignee"]) == ("engineering_installation", "eng-wu")


async def test_the_same_event_delivered_twice_makes_one_case(
    dispatch, events, keys, case_status, isolation
) -> None:
    case_id = new_case_id()
    env = await events.complaint(case_id)
    await events.publish("intake", env)  # the very same event again (a producer retry, a replay)
    await case_status(dispatch, case_id, "assigned", keys["manager"])
    records = await events.read("intake.complaints.v1", lambda rs: len(rs) >= 2)
    assert len(records) == 2
    assigned = await events.dispatched(case_id, "case.assigned")
    # Let dispatch handle the duplicate, then look again: still one case, one assignment event id.
    listing = (
        await dispatch.get("/v1/cases", params={"serial_no": "XF2502405001234"}, headers=keys["manager"])
    ).json()
    assert [c["case_id"] for c in listing["items"]] == [case_id]
    assert len({r.envelope().event_id for r in assigned}) == 1
    case = (await dispatch.get(f"/v1/cases/{case_id}", headers=keys["manager"])).json()
    assert len(case["assignments"]) == 1
    assert [e["event_type"] for e in case["timeline"]].count("complaint.received") == 1


async def test_reply_close_and_follow_up_publish_their_events(
    dispatch, events, keys, case_status, dispatch_settings, short_targets, case_where
) -> None:
    case_id = new_case_id()
    await events.complaint(case_id)
    await case_status(dispatch, case_id, "assigned", keys["manager"])
    # Nothing left open when it closes: the warranty decided, the repair record in (R-DS-5).
    await events.decided(case_id)
    await events.other(
        "parts",
        "repair.recorded",
        case_id,
        {"case_id": case_id, "record_id": "RR-1", "repaired_on": "2026-11-25"},
    )
    await case_where(dispatch, case_id, lambda c: c["warranty"] and c["repair_records"])

    res = await dispatch.post(
        f"/v1/cases/{case_id}/replies",
        json={"message": "已安排明早上门检修", "via": "phone"},
        headers=keys["specialist"] | {"Idempotency-Key": "reply-1"},
    )
    assert res.status_code == 201 and res.json()["case"]["status"] == "in_progress"
    again = await dispatch.post(
        f"/v1/cases/{case_id}/replies",
        json={"message": "已安排明早上门检修", "via": "phone"},
        headers=keys["specialist"] | {"Idempotency-Key": "reply-1"},
    )
    assert len(again.json()["case"]["replies"]) == 1  # a retried reply is not sent twice

    early = await dispatch.post(
        f"/v1/cases/{case_id}/follow-ups",
        json={"visited_on": "2026-11-26", "satisfaction": 5},
        headers=keys["specialist"],
    )
    assert early.status_code == 409 and early.json()["current_status"] == "in_progress"
    missing = await dispatch.post(f"/v1/cases/{case_id}/closure", json={}, headers=keys["specialist"])
    assert missing.status_code == 422
    closed = await dispatch.post(
        f"/v1/cases/{case_id}/closure",
        json={"resolution": "更换电机后运行正常", "outcome": "repaired"},
        headers=keys["specialist"],
    )
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    today = datetime.now(UTC).date().isoformat()
    visit = await dispatch.post(
        f"/v1/cases/{case_id}/follow-ups",
        json={"visited_on": today, "satisfaction": 4, "notes": "运行安静"},
        headers=keys["specialist"],
    )
    assert visit.status_code == 201 and visit.json()["status"] == "followed_up"

    [replied] = await events.dispatched(case_id, "case.replied")
    assert replied.envelope().payload["message"] == "已安排明早上门检修"
    assert replied.envelope().payload["channel"] == "dealer"
    for event_type in ("case.resolved", "case.closed", "case.followed_up"):
        assert await events.dispatched(case_id, event_type)


async def test_timeline_shows_every_service_in_order(dispatch, events, keys, case_status) -> None:
    case_id = new_case_id()
    await events.complaint(case_id)
    await case_status(dispatch, case_id, "assigned", keys["manager"])
    decided_at = datetime.now(UTC)
    from shared.contracts.envelope import make_envelope
    from shared.contracts.warranty import WarrantyDecided

    decision = WarrantyDecided(
        case_id=case_id,
        serial_no="XF2502405001234",
        decision="covered",
        remedy="free_repair",
        key_part="motor",
        reasons=[
            {"code": "within_product_warranty", "message_zh": "整机保修期内", "message_en": "Within warranty"}
        ],
        warranty=[{"basis": "purchase", "kind": "product", "start": "2026-03-18", "end": "2027-03-17"}],
        rule_set="2026-11-01",
        decided_at=decided_at,
    )
    await events.publish(
        "warranty",
        make_envelope(
            decision,
            event_type="warranty.decided",
            schema_version=1,
            correlation_id=case_id,
            producer="warranty",
            occurred_at=decided_at,
        ),
    )
    await dispatch.post(
        f"/v1/cases/{case_id}/replies",
        json={"message": "保修期内免费维修", "via": "sms"},
        headers=keys["specialist"],
    )

    async def full_timeline():
        case = (await dispatch.get(f"/v1/cases/{case_id}", headers=keys["manager"])).json()
        return case if len(case["timeline"]) >= 4 else None

    from shared.testing.fixtures import eventually

    case = await eventually(full_timeline)
    assert [e["event_type"] for e in case["timeline"]] == [
        "complaint.received",
        "case.assigned",
        "warranty.decided",
        "case.replied",
    ]
    assert [e["producer"] for e in case["timeline"]] == ["intake", "dispatch", "warranty", "dispatch"]
    assert case["warranty"]["decision"] == "covered" and case["warranty"]["remedy"] == "free_repair"
    assert "保修判定" in case["timeline"][2]["summary"]


async def test_manager_reassigns_with_a_reason(dispatch, events, keys, case_status) -> None:
    case_id = new_case_id()
    await events.complaint(case_id)
    await case_status(dispatch, case_id, "assigned", keys["manager"])
    by_specialist = await dispatch.post(
        f"/v1/cases/{case_id}/assignment",
        json={"specialist_id": "sp-ma", "reason": "换人"},
        headers=keys["specialist"],
    )
    assert by_specialist.status_code == 403
    wrong_dept = await dispatch.post(
        f"/v1/cases/{case_id}/assignment",
        json={"specialist_id": "eng-wu", "reason": "试试"},
        headers=keys["manager"],
    )
    assert wrong_dept.status_code == 422 and "triage" in wrong_dept.json()["detail"]
    res = await dispatch.post(
        f"/v1/cases/{case_id}/assignment",
        json={"specialist_id": "sp-ma", "reason": "刘工休假，转马工"},
        headers=keys["manager"],
    )
    assert res.status_code == 200 and res.json()["assignee"] == "sp-ma"
    [record] = await events.dispatched(case_id, "case.reassigned")
    assert record.envelope().payload["reason"] == "刘工休假，转马工"
    # sp-liu no longer owns it: may read (phone masked) but not act.
    view = (await dispatch.get(f"/v1/cases/{case_id}", headers=keys["specialist"])).json()
    assert view["customer"]["phone"] == "***5678"
    denied = await dispatch.post(
        f"/v1/cases/{case_id}/replies", json={"message": "x"}, headers=keys["specialist"]
    )
    assert denied.status_code == 403


async def test_triage_moves_a_case_to_engineering(dispatch, events, keys, case_status) -> None:
    case_id = new_case_id()
    await events.complaint(case_id)
    await case_status(dispatch, case_id, "assigned", keys["manager"])
    res = await dispatch.post(
        f"/v1/cases/{case_id}/triage",
        json={"category": "installation", "priority": "high", "reason": "现场确认为风管问题"},
        headers=keys["manager"],
    )
    assert res.status_code == 200
    assert (res.json()["department"], res.json()["priority"]) == ("engineering_installation", "high")
    # Routed again inside the new department; case.assigned tells engineering the whole case.
    assert res.json()["assignee"] == "eng-wu"
    assert await events.dispatched(case_id, "case.triaged")
    first, second = await events.dispatched(case_id, "case.assigned", count=2)
    assert (first.envelope().payload["department"], second.envelope().payload["department"]) == (
        "quality",
        "engineering_installation",
    )
    assert second.envelope().payload["product"]["serial_no"] == "XF2502405001234"
    # sp-liu no longer owns it, but still answers the customer for engineering (§一.2, the one window).
    assert res.json()["answered_by"] == "sp-liu"
    denied = await dispatch.post(
        f"/v1/cases/{case_id}/replies", json={"message": "x"}, headers=keys["engineering"]
    )
    assert denied.status_code == 403
