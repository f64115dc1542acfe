"""Closure discipline, reopening, repeat complaints and overdue follow-ups on the real stack (R-DS-5)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from dispatch.entrypoints.http import create_app as dispatch_app
from shared.periods import china_date
from shared.testing.fixtures import running
from shared.testing.identities import new_case_id

pytestmark = pytest.mark.integration


async def in_progress(dispatch, events, keys, case_status, **complaint) -> str:
    case_id = new_case_id()
    await events.complaint(case_id, **complaint)
    await case_status(dispatch, case_id, "assigned", keys["manager"])
    res = await dispatch.post(
        f"/v1/cases/{case_id}/replies",
        json={"message": "已安排上门检修", "via": "phone"},
        headers=keys["specialist"],
    )
    assert res.status_code == 201
    return case_id


async def close(dispatch, case_id: str, headers, **body):
    return await dispatch.post(
        f"/v1/cases/{case_id}/closure",
        json={"resolution": "更换电机后运行正常", "outcome": "repaired"} | body,
        headers=headers,
    )


def missing(res) -> list[str]:
    assert res.status_code == 409, res.text
    return [m["item"] for m in res.json()["missing"]]


async def test_closure_is_refused_until_the_decision_is_settled(
    dispatch, events, keys, case_status, case_where
) -> None:
    case_id = await in_progress(dispatch, events, keys, case_status)
    refused = await close(dispatch, case_id, keys["specialist"], outcome="advice_given")
    assert missing(refused) == ["warranty: no decision"]
    assert refused.json()["missing"][0]["zh"] == "尚无保修判定"
    await events.decided(case_id, decision="needs_evidence", remedy="none")
    await case_where(dispatch, case_id, lambda c: (c["warranty"] or {}).get("decision") == "needs_evidence")
    assert missing(await close(dispatch, case_id, keys["specialist"], outcome="advice_given")) == [
        "warranty: needs_evidence"
    ]
    await events.decided(case_id, decision="chargeable", remedy="paid_repair")
    await case_where(dispatch, case_id, lambda c: (c["warranty"] or {}).get("decision") == "chargeable")
    ok = await close(dispatch, case_id, keys["specialist"], outcome="advice_given")
    assert ok.status_code == 200 and ok.json()["status"] == "closed"


async def test_closure_waits_for_the_parts_request(dispatch, events, keys, case_status, case_where) -> None:
    case_id = await in_progress(dispatch, events, keys, case_status)
    await events.decided(case_id)
    await events.other(
        "parts",
        "parts.request_opened",
        case_id,
        {
            "case_id": case_id,
            "request_id": "PR-X1",
            "part": "motor",
            "path": "A",
            "sourcing_by": "RM-SOUTH-01",
            "deadline": datetime.now(UTC).isoformat(),
            "chargeable": False,
        },
    )
    await case_where(dispatch, case_id, lambda c: c["warranty"] and c["parts_actions"])
    assert missing(await close(dispatch, case_id, keys["specialist"])) == [
        "parts request PR-X1: sourcing_locally",
        "repair record",
    ]
    await events.other(
        "parts",
        "parts.repaired",
        case_id,
        {
            "case_id": case_id,
            "request_id": "PR-X1",
            "path": "A",
            "technician": "李师傅",
            "repaired_on": "2026-11-25",
        },
    )
    await case_where(dispatch, case_id, lambda c: not c["parts_actions"] and c["repair_records"])
    assert (
        await close(dispatch, case_id, keys["specialist"])
    ).status_code == 200  # the request's record counts


async def test_closure_waits_for_the_remedy_and_the_repair_record(
    dispatch, events, keys, case_status, case_where
) -> None:
    case_id = await in_progress(dispatch, events, keys, case_status)
    await events.decided(case_id, remedy="exchange")
    await events.other(
        "warranty",
        "remedy.chosen",
        case_id,
        {
            "case_id": case_id,
            "remedy_id": "RM-1",
            "remedy": "exchange",
            "chosen_by": "sp-liu",
            "chosen_at": datetime.now(UTC).isoformat(),
        },
    )
    await case_where(dispatch, case_id, lambda c: c["warranty"] and c["remedies"])
    assert missing(await close(dispatch, case_id, keys["specialist"])) == [
        "remedy RM-1: exchange",
        "repair record",
    ]
    await events.other(
        "warranty",
        "remedy.completed",
        case_id,
        {
            "case_id": case_id,
            "remedy_id": "RM-1",
            "remedy": "exchange",
            "completed_at": datetime.now(UTC).isoformat(),
        },
    )
    await case_where(dispatch, case_id, lambda c: c["remedies"][0]["state"] == "completed")
    assert missing(await close(dispatch, case_id, keys["specialist"])) == ["repair record"]
    # An exchange is not a repair: no record needed for that outcome.
    assert (await close(dispatch, case_id, keys["specialist"], outcome="replaced")).status_code == 200


async def test_a_repair_outcome_needs_its_record(dispatch, events, keys, case_status, case_where) -> None:
    case_id = await in_progress(dispatch, events, keys, case_status)
    await events.decided(case_id)
    await case_where(dispatch, case_id, lambda c: c["warranty"])
    assert missing(await close(dispatch, case_id, keys["specialist"])) == ["repair record"]
    await events.other(
        "parts",
        "repair.recorded",
        case_id,
        {"case_id": case_id, "record_id": "RR-7", "request_id": None, "repaired_on": "2026-11-25"},
    )
    await case_where(dispatch, case_id, lambda c: c["repair_records"])
    assert (await close(dispatch, case_id, keys["specialist"])).status_code == 200


async def test_only_the_manager_closes_with_items_open_and_the_reason_is_kept(
    dispatch, events, keys, case_status
) -> None:
    case_id = await in_progress(dispatch, events, keys, case_status)
    by_specialist = await close(dispatch, case_id, keys["specialist"], override_reason="客户撤回投诉")
    assert by_specialist.status_code == 403
    res = await close(
        dispatch, case_id, keys["manager"], outcome="other", override_reason="客户已自行处理，撤回投诉"
    )
    assert res.status_code == 200 and res.json()["status"] == "closed"
    assert res.json()["closure_override"]["reason"] == "客户已自行处理，撤回投诉"
    assert [i["item"] for i in res.json()["closure_override"]["open_items"]] == ["warranty: no decision"]
    [closed] = await events.dispatched(case_id, "case.closed")
    payload = closed.envelope().payload
    assert payload["override_reason"] == "客户已自行处理，撤回投诉" and payload["open_items"] == [
        "warranty: no decision"
    ]


async def test_low_satisfaction_reopens_the_case(dispatch, events, keys, case_status, case_where) -> None:
    case_id = await in_progress(dispatch, events, keys, case_status)
    await events.decided(case_id, decision="chargeable", remedy="paid_repair")
    await case_where(dispatch, case_id, lambda c: c["warranty"])
    assert (await close(dispatch, case_id, keys["specialist"], outcome="advice_given")).status_code == 200
    today = china_date(datetime.now(UTC)).isoformat()
    res = await dispatch.post(
        f"/v1/cases/{case_id}/follow-ups",
        headers=keys["specialist"],
        json={"visited_on": today, "satisfaction": 2, "notes": "电机仍有异响"},
    )
    assert res.status_code == 201 and res.json()["status"] == "reopened"
    [history] = res.json()["reopenings"]
    assert (history["trigger"], history["satisfaction"], history["previous_outcome"]) == (
        "low_satisfaction",
        2,
        "advice_given",
    )
    assert res.json()["follow_up"]["visits"][0]["satisfaction"] == 2
    [reopened] = await events.dispatched(case_id, "case.reopened")
    assert reopened.envelope().payload["trigger"] == "low_satisfaction"
    listed = await dispatch.get(
        "/v1/cases", params={"open": "true", "status": "reopened"}, headers=keys["manager"]
    )
    assert case_id in [c["case_id"] for c in listed.json()["items"]]
    public = (await dispatch.get(f"/v1/public/cases/{case_id}", params={"phone_last4": "5678"})).json()
    assert (public["status"], public["status_zh"]) == ("reopened", "已重新打开")
    # Worked again and closed again; the earlier closure stays in the history.
    again = await dispatch.post(
        f"/v1/cases/{case_id}/replies",
        json={"message": "明天再次上门", "via": "phone"},
        headers=keys["specialist"],
    )
    assert again.status_code == 201
    closed = await close(dispatch, case_id, keys["specialist"], resolution="更换风轮", outcome="advice_given")
    assert closed.status_code == 200 and closed.json()["reopenings"][0]["previous_outcome"] == "advice_given"


async def test_the_customer_reopens_through_a_channel(
    dispatch, events, keys, case_status, case_where
) -> None:
    case_id = await in_progress(dispatch, events, keys, case_status)
    early = await dispatch.post(
        f"/v1/cases/{case_id}/reopening", json={"reason": "又坏了"}, headers=keys["hotline"]
    )
    assert early.status_code == 409 and early.json()["current_status"] == "in_progress"
    await close(dispatch, case_id, keys["manager"], outcome="other", override_reason="测试：经理结案")
    # The dealer who raised it passes the customer's request on; the regional manager (not theirs) cannot.
    assert (
        await dispatch.post(
            f"/v1/cases/{case_id}/reopening", json={"reason": "又坏了"}, headers=keys["regional_manager"]
        )
    ).status_code == 404
    res = await dispatch.post(
        f"/v1/cases/{case_id}/reopening", json={"reason": "客户反映又出现异响"}, headers=keys["dealer"]
    )
    assert res.status_code == 200 and res.json()["status"] == "reopened"
    [event] = await events.dispatched(case_id, "case.reopened")
    assert (event.envelope().payload["trigger"], event.envelope().payload["by"]) == (
        "customer_request",
        "D-GZ-001",
    )
    # Online: the customer on the status page, with the phone's last four digits.
    await close(dispatch, case_id, keys["manager"], outcome="other", override_reason="测试：再次结案")
    wrong = await dispatch.post(
        f"/v1/public/cases/{case_id}/reopening", json={"phone_last4": "0000", "reason": "又坏了"}
    )
    assert wrong.status_code == 404
    ok = await dispatch.post(
        f"/v1/public/cases/{case_id}/reopening", json={"phone_last4": "5678", "reason": "又坏了"}
    )
    assert ok.status_code == 200 and ok.json()["status"] == "reopened"
    case = await case_where(dispatch, case_id, lambda c: len(c["reopenings"]) == 2)
    assert [r["by"] for r in case["reopenings"]] == ["D-GZ-001", "customer"]


async def test_a_new_complaint_on_the_same_unit_links_to_the_earlier_case(
    dispatch, events, keys, case_status
) -> None:
    serial = {"product": {"model": "YD-XF250", "serial_no": f"XF250{new_case_id()[3:]}"}}
    first = await in_progress(dispatch, events, keys, case_status, **serial)
    await close(dispatch, first, keys["manager"], outcome="other", override_reason="测试")
    second = new_case_id()
    await events.complaint(second, **serial)
    case = await case_status(dispatch, second, "assigned", keys["manager"])
    assert (case["linked_to"], case["linked_days_since"], case["repeats"]) == (first, 0, [])
    earlier = (await dispatch.get(f"/v1/cases/{first}", headers=keys["manager"])).json()
    assert (earlier["linked_to"], earlier["repeats"]) == (None, [second])
    # Two complaints about another unit at the same moment link the same way whoever handled them first.
    other = {"product": {"model": "YD-XF250", "serial_no": f"XF250{new_case_id()[3:]}"}}
    a, b = new_case_id(), new_case_id()
    at = datetime.now(UTC)
    await events.complaint(b, received_at=(at + timedelta(seconds=1)).isoformat(), **other)
    await events.complaint(a, received_at=at.isoformat(), **other)
    # Once both are open (b, sent first, may be opened before a exists: a consumer takes what has arrived).
    await case_status(dispatch, b, "assigned", keys["manager"])
    assert (await case_status(dispatch, a, "assigned", keys["manager"]))["repeats"] == [b]
    assert (await dispatch.get(f"/v1/cases/{b}", headers=keys["manager"])).json()["linked_to"] == a
    # A dealer reads its own case without the links (internal).
    assert "linked_to" not in (await dispatch.get(f"/v1/cases/{second}", headers=keys["dealer"])).json()


async def test_an_overdue_follow_up_is_escalated_once(
    dispatch_settings, events, keys, short_targets, tmp_path: Path, case_status
) -> None:
    policy = yaml.safe_load(
        (Path(__import__("dispatch").__file__).parent / "policy.yaml").read_text(encoding="utf-8")
    )
    policy["closure"]["follow_up_overdue_after_days"] = 0  # due the day of closure, overdue at once
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(policy, allow_unicode=True), encoding="utf-8")
    async with running(
        dispatch_app(dispatch_settings(targets_file=short_targets, policy_file=path))
    ) as client:
        case_id = await in_progress(client, events, keys, case_status)
        assert (
            await close(client, case_id, keys["manager"], outcome="other", override_reason="测试")
        ).status_code == 200
        [overdue] = await events.dispatched(case_id, "case.follow_up_overdue")
        assert overdue.envelope().payload["assignee"] == "sp-liu"
        due = (await client.get("/v1/follow-ups/due", headers=keys["manager"])).json()
        assert [(i["case_id"], i["escalated"]) for i in due["items"]] == [(case_id, True)]
        assert len(await events.dispatched(case_id, "case.follow_up_overdue")) == 1
