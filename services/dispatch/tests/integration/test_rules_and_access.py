"""Unknown cases, dead letters, time targets, channel access and statistics on the real stack."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaProducer

from dispatch.entrypoints.http import create_app as dispatch_app
from shared.contracts.envelope import make_envelope
from shared.contracts.warranty import WarrantyDecided
from shared.testing.fixtures import eventually, running
from shared.testing.identities import key_headers, new_case_id

pytestmark = pytest.mark.integration


def decision(case_id: str, when: datetime) -> WarrantyDecided:
    return WarrantyDecided(
        case_id=case_id,
        decision="needs_evidence",
        remedy="none",
        reasons=[{"code": "missing_documents", "message_zh": "缺少发票", "message_en": "No invoice"}],
        rule_set="2026-11-01",
        decided_at=when,
    )


async def test_event_for_an_unknown_case_waits_while_young(dispatch, events, keys) -> None:
    case_id = new_case_id()
    now = datetime.now(UTC)
    await events.publish(
        "warranty",
        make_envelope(
            decision(case_id, now),
            event_type="warranty.decided",
            schema_version=1,
            correlation_id=case_id,
            producer="warranty",
            occurred_at=now,
        ),
    )
    await events.complaint(case_id)  # the case arrives after the decision about it

    async def shown():
        res = await dispatch.get(f"/v1/cases/{case_id}", headers=keys["manager"])
        return res.status_code == 200 and res.json()["warranty"] is not None

    await eventually(shown, timeout_s=30)


async def test_event_for_an_unknown_case_dead_letters_once_old(dispatch, events) -> None:
    case_id = new_case_id()
    old = datetime.now(UTC) - timedelta(hours=1)
    await events.publish(
        "warranty",
        make_envelope(
            decision(case_id, old),
            event_type="warranty.decided",
            schema_version=1,
            correlation_id=case_id,
            producer="warranty",
            occurred_at=old,
        ),
    )
    [dead] = await events.read("dispatch.dead-letters.v1", lambda rs: len(rs) >= 1)
    assert dead.key == case_id.encode()
    assert dead.headers["exc_class"] == b"InvalidMessage"
    assert b"unknown" in dead.headers["exc_msg"]
    assert dead.headers["original_topic"] == b"warranty.decisions.v1"


async def test_a_bogus_payload_lands_in_dispatch_dead_letters(dispatch, events, isolation) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=isolation.backends.kafka_bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(
            isolation.topic("intake.complaints.v1"),
            b'{"event_type": "complaint.received", "payload": {}}',
            key=b"YD-BOGUS00001",
        )
    finally:
        await producer.stop()
    [dead] = await events.read("dispatch.dead-letters.v1", lambda rs: len(rs) >= 1)
    assert dead.key == b"YD-BOGUS00001" and dead.headers["service"] == b"dispatch"
    assert dead.headers["exc_class"] == b"InvalidMessage"


async def test_missed_target_is_flagged_and_escalated(dispatch_settings, events, keys, short_targets) -> None:
    async with running(dispatch_app(dispatch_settings(targets_file=short_targets))) as client:
        case_id = new_case_id()
        await events.complaint(case_id)
        [record] = await events.dispatched(case_id, "case.escalated")
        assert record.envelope().payload["target"] == "first_reply"
        case = (await client.get(f"/v1/cases/{case_id}", headers=keys["manager"])).json()
        assert case["breached"] == ["first_reply"]
        assert case["targets"]["first_reply"]["state"] == "breached"
        flagged = (await client.get("/v1/cases", params={"breached": "true"}, headers=keys["manager"])).json()
        assert [c["case_id"] for c in flagged["items"]] == [case_id]


async def test_follow_up_due_after_closure(
    dispatch_settings, events, keys, short_targets, case_status
) -> None:
    async with running(dispatch_app(dispatch_settings(targets_file=short_targets))) as client:
        case_id = new_case_id()
        await events.complaint(case_id)
        await case_status(client, case_id, "assigned", keys["manager"])
        await events.decided(case_id, decision="chargeable", remedy="paid_repair")
        await client.post(
            f"/v1/cases/{case_id}/replies", json={"message": "已处理"}, headers=keys["specialist"]
        )

        async def closed():
            res = await client.post(
                f"/v1/cases/{case_id}/closure",
                json={"resolution": "已处理", "outcome": "advice_given"},
                headers=keys["specialist"],
            )
            return res.status_code == 200  # once the decision reached the case

        await eventually(closed)
        due = (await client.get("/v1/follow-ups/due", headers=keys["specialist"])).json()
        assert [i["case_id"] for i in due["items"]] == [case_id]
        assert await events.dispatched(case_id, "case.follow_up_due")


async def test_channels_read_only_their_own_cases_and_never_reply(
    intake, dispatch, keys, case_status
) -> None:
    mine = await intake.post(
        "/v1/complaints/dealer",
        json={
            "dealer_code": "D-GZ-001",
            "ticket_id": "T-A",
            "customer": {"name": "王女士", "phone": "13812345678"},
            "product": {
                "model": "YD-XF250",
                "serial_no": "XF2502405009999",
                "purchase_date": "2026-03-18",
                "invoice_no": "1",
                "service_card_stamped": True,
            },
            "description": "电机异响",
        },
        headers=keys["dealer"],
    )
    theirs = await intake.post(
        "/v1/complaints/hotline",
        json={
            "caller_name": "张先生",
            "phone": "13900001111",
            "called_at": "2026-11-26T09:30:00",
            "transcript": "滤芯要换",
            "agent_id": "fd-he",
        },
        headers=keys["hotline"],
    )
    mine_id, theirs_id = mine.json()["case_id"], theirs.json()["case_id"]
    await case_status(dispatch, mine_id, "assigned", keys["manager"])
    await case_status(dispatch, theirs_id, "assigned", keys["manager"])

    listing = (await dispatch.get("/v1/cases", headers=keys["dealer"])).json()
    assert [c["case_id"] for c in listing["items"]] == [mine_id]
    assert (await dispatch.get(f"/v1/cases/{theirs_id}", headers=keys["dealer"])).status_code == 404
    own = (await dispatch.get(f"/v1/cases/{mine_id}", headers=keys["dealer"])).json()
    assert "timeline" not in own and "assignments" not in own and own["customer"]["phone"] == "***5678"
    assert (
        await dispatch.post(f"/v1/cases/{mine_id}/replies", json={"message": "x"}, headers=keys["dealer"])
    ).status_code == 403
    assert (await dispatch.get("/v1/cases", headers=keys["regional_manager"])).json()["total"] == 0

    # The front desk, with the caller on the line: does this phone already have open cases?
    calls = (
        await dispatch.get(
            "/v1/cases", params={"phone": "139 0000 1111", "open": "true"}, headers=keys["hotline"]
        )
    ).json()
    assert [c["case_id"] for c in calls["items"]] == [theirs_id]


async def test_statistics_and_roster(intake, dispatch, keys, case_status) -> None:
    posted = await intake.post(
        "/v1/complaints/hotline",
        json={
            "caller_name": "张先生",
            "phone": "13900001111",
            "called_at": "2026-11-26T09:30:00",
            "transcript": "APP 升级后死机",
            "agent_id": "fd-he",
        },
        headers=keys["hotline"],
    )
    await case_status(dispatch, posted.json()["case_id"], "assigned", keys["manager"])

    async def counted() -> dict | None:
        # Statistics read figures kept by day, brought up to date by dispatch's own events just after.
        res = (
            await dispatch.get("/v1/stats", params={"group_by": "category"}, headers=keys["manager"])
        ).json()
        return (
            res if res["overall"]["count"] == 1 and res["overall"]["hours_to"]["assign"]["n"] == 1 else None
        )

    stats = await eventually(counted)
    assert stats["overall"]["count"] == 1
    assert [g["key"] for g in stats["groups"]] == ["software"]
    assert stats["overall"]["hours_to"]["assign"]["n"] == 1
    assert (await dispatch.get("/v1/stats", headers=keys["dealer"])).status_code == 403

    roster = (await dispatch.get("/v1/specialists", headers=keys["manager"])).json()["items"]
    assert {s["specialist_id"] for s in roster} >= {"sp-liu", "sp-ma", "eng-wu"}
    assert sum(s["open_cases"] for s in roster) == 1
    res = await dispatch.put(
        "/v1/specialists/sp-new",
        json={
            "specialist_id": "sp-new",
            "name": "新同事",
            "department": "quality",
            "skills": ["software"],
            "regions": ["northwest"],
        },
        headers=keys["manager"],
    )
    assert res.status_code == 200 and "sp-new" in {s["specialist_id"] for s in res.json()["items"]}
    assert (
        await dispatch.put(
            "/v1/specialists/sp-x",
            json={"specialist_id": "sp-x", "name": "x", "department": "quality"},
            headers=keys["specialist"],
        )
    ).status_code == 403


async def test_the_customer_status_page_shows_replies_only_with_the_right_phone(
    dispatch, events, keys, case_status
):
    case_id = new_case_id()
    await events.complaint(case_id)  # the example customer's phone ends in 5678
    await case_status(dispatch, case_id, "assigned", keys["manager"])
    await dispatch.post(
        f"/v1/cases/{case_id}/replies", json={"message": "已安排明天上门"}, headers=keys["specialist"]
    )
    res = await dispatch.get(f"/v1/public/cases/{case_id}", params={"phone_last4": "5678"})
    assert res.status_code == 200
    body = res.json()
    assert (body["status"], body["status_zh"]) == ("in_progress", "处理中")
    assert [r["message"] for r in body["replies"]] == ["已安排明天上门"]
    assert set(body) == {"case_id", "status", "status_zh", "received_at", "replies", "closed_at"}
    wrong = await dispatch.get(f"/v1/public/cases/{case_id}", params={"phone_last4": "0000"})
    unknown = await dispatch.get("/v1/public/cases/YD-0000000000", params={"phone_last4": "5678"})
    assert wrong.status_code == unknown.status_code == 404 and wrong.json() == unknown.json()
    assert (
        await dispatch.get(f"/v1/public/cases/{case_id}", params={"phone_last4": "56"})
    ).status_code == 422


MORE_KEYS = {
    "management": key_headers()["management"],
    "operations": key_headers()["operations"],
    "purchasing": key_headers()["purchasing"],
    "front_desk": key_headers()["front_desk"],
}


async def test_only_those_who_see_phones_search_by_phone(dispatch, events, keys, case_status) -> None:
    """A search by phone tells whose number it is: open to the manager, the front desk and, among
    their own cases, the assignee; refused to every other role."""
    mine, other = new_case_id(), new_case_id()
    await events.complaint(mine)  # south_china product fault: sp-liu's
    await events.complaint(other, region="north_china")  # sp-ma's
    await case_status(dispatch, mine, "assigned", keys["manager"])
    await case_status(dispatch, other, "assigned", keys["manager"])
    phone = {"phone": "138 1234 5678"}
    all_keys = keys | MORE_KEYS

    async def found(role: str) -> tuple[int, set[str]]:
        res = await dispatch.get("/v1/cases", params=phone, headers=all_keys[role])
        return res.status_code, {c["case_id"] for c in res.json().get("items", [])}

    for role in ("manager", "front_desk", "hotline"):
        assert await found(role) == (200, {mine, other}), role
    assert await found("specialist") == (200, {mine})
    for role in ("finance", "management", "operations", "purchasing", "dealer", "regional_manager"):
        status, _ = await found(role)
        assert status == 403, role
    refused = await dispatch.get("/v1/cases", params=phone, headers=all_keys["finance"])
    assert "phone" in refused.json()["detail"]
    # Without a phone the same roles still list cases (the phone masked).
    listed = await dispatch.get("/v1/cases", headers=all_keys["finance"])
    assert listed.status_code == 200 and {c["customer"]["phone"] for c in listed.json()["items"]} == {
        "***5678"
    }


async def test_a_roster_leaving_a_department_unstaffed_is_409(dispatch, keys) -> None:
    roster = (await dispatch.get("/v1/specialists", headers=keys["manager"])).json()["items"]
    fields = ("specialist_id", "name", "department", "skills", "regions", "active")
    quality_only = [{k: s[k] for k in fields} for s in roster if s["department"] == "quality"]
    res = await dispatch.put("/v1/specialists", json=quality_only, headers=keys["manager"])
    assert res.status_code == 409
    assert res.json()["departments"] == ["engineering_installation"]
    assert "engineering_installation" in res.json()["detail"]
    everyone_inactive = [{k: s[k] for k in fields} | {"active": s["department"] != "quality"} for s in roster]
    assert (
        await dispatch.put("/v1/specialists", json=everyone_inactive, headers=keys["manager"])
    ).status_code == 409

    # One at a time: the last active engineer cannot be deactivated or moved, the others can.
    engineers = [s for s in roster if s["department"] == "engineering_installation" and s["active"]]
    *others, last = engineers
    for s in others:
        res = await dispatch.put(
            f"/v1/specialists/{s['specialist_id']}",
            json={k: s[k] for k in fields} | {"active": False},
            headers=keys["manager"],
        )
        assert res.status_code == 200
    body = {k: last[k] for k in fields}
    assert (
        await dispatch.put(
            f"/v1/specialists/{last['specialist_id']}", json=body | {"active": False}, headers=keys["manager"]
        )
    ).status_code == 409
    assert (
        await dispatch.put(
            f"/v1/specialists/{last['specialist_id']}",
            json=body | {"department": "quality"},
            headers=keys["manager"],
        )
    ).status_code == 409
    after = (await dispatch.get("/v1/specialists", headers=keys["manager"])).json()["items"]
    assert [
        s["specialist_id"] for s in after if s["department"] == "engineering_installation" and s["active"]
    ] == [last["specialist_id"]]


async def test_two_managers_deactivating_a_departments_last_two_at_once_leave_one(
    dispatch_settings, keys
) -> None:
    """Write skew: each change alone keeps the department staffed; together they would not. The roster
    changes conflict in the store, and the second is checked again on what the first left."""
    async with (
        running(dispatch_app(dispatch_settings())) as first,
        running(dispatch_app(dispatch_settings())) as second,
    ):
        roster = (await first.get("/v1/specialists", headers=keys["manager"])).json()["items"]
        fields = ("specialist_id", "name", "department", "skills", "regions", "active")
        engineers = [s for s in roster if s["department"] == "engineering_installation" and s["active"]]
        assert len(engineers) == 2
        answers = await asyncio.gather(
            *(
                replica.put(
                    f"/v1/specialists/{s['specialist_id']}",
                    json={k: s[k] for k in fields} | {"active": False},
                    headers=keys["manager"],
                )
                for replica, s in zip((first, second), engineers, strict=True)
            )
        )
        after = (await second.get("/v1/specialists", headers=keys["manager"])).json()["items"]
    assert sorted(a.status_code for a in answers) == [200, 409]
    assert len([s for s in after if s["department"] == "engineering_installation" and s["active"]]) == 1


@pytest.mark.parametrize(
    "params", [{"page": 2**63}, {"page": 10**30}, {"page": 10_001}, {"page_size": 101}, {"page": 0}]
)
async def test_paging_out_of_bounds_is_422_naming_it(dispatch, keys, params) -> None:
    res = await dispatch.get("/v1/cases", params=params, headers=keys["manager"])
    assert res.status_code == 422
    assert [e["field"] for e in res.json()["errors"]] == list(params)


async def test_the_last_page_allowed_is_an_empty_page(dispatch, keys) -> None:
    res = await dispatch.get("/v1/cases", params={"page": 10_000, "page_size": 100}, headers=keys["manager"])
    assert res.status_code == 200 and res.json()["items"] == []
