"""Messages that reach the customer (R-DS-6), on the real broker and store: once per message whatever the
broker redelivers, never as SMS at night, retried with backoff through the provider's HTTP API, failures
dead-lettered where operations sees and replays them."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from notifications.entrypoints.http import create_app
from notifications.handlers import deliver_due
from shared.periods import CHINA, china_today
from shared.testing.fixtures import eventually, running
from shared.testing.identities import new_case_id
from shared.testing.kafka import read_topic

pytestmark = pytest.mark.integration


async def test_a_reply_is_sent_once_when_the_broker_redelivers(notifications, feed, keys, delivered) -> None:
    case_id = new_case_id()
    await feed.complaint(case_id)
    reply = await feed.reply(case_id, message="已安排明早上门检修")
    await feed.publish("dispatch", reply)  # the very same event again (a redelivery, a producer retry)
    await feed.publish("dispatch", reply)
    [record] = await delivered(notifications, case_id)
    assert record["text"] == f"【英德售后】您的售后案件 {case_id}：已安排明早上门检修"
    assert (record["channel"], record["to"]) == ("sms", "***5678")  # the phone never shown whole

    told = await feed.told(case_id, lambda rs: len(rs) >= 1)
    assert [r.headers["event_type"] for r in told] == [b"notification.sent"]
    sent = told[0].envelope().payload
    assert (sent["kind"], sent["reference"], sent["channel"], sent["attempts"]) == ("reply", "R-1", "sms", 1)
    assert b"5678" not in told[0].value  # no phone in the event
    assert len(await delivered(notifications, case_id)) == 1
    [message] = (
        await notifications.get("/v1/messages", params={"case_id": case_id}, headers=keys["manager"])
    ).json()["items"]
    assert (message["state"], message["to"], message["attempts"]) == ("sent", "***5678", 1)
    assert (await notifications.get("/v1/messages", headers=keys["dealer"])).status_code == 403


async def test_replies_told_by_phone_are_not_sent_again_and_quotes_remedies_follow_ups_are(
    notifications, feed, delivered
) -> None:
    case_id = new_case_id()
    await feed.complaint(case_id)
    await feed.reply(case_id, reply_id="R-phone", via="phone")
    await feed.event(
        "parts",
        "quote.issued",
        case_id,
        {
            "case_id": case_id,
            "quote_id": "Q-1",
            "total": "536.00",
            "valid_until": "2026-12-21",
            "issued_by": "sp-liu",
            "lines": [
                {
                    "item": "YD-LX-H13-250",
                    "description": "H13 滤芯",
                    "quantity": 2,
                    "unit_price": "268.00",
                    "amount": "536.00",
                }
            ],
        },
    )
    await feed.event(
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
    await feed.event(
        "dispatch",
        "case.follow_up_due",
        case_id,
        {"case_id": case_id, "due_on": "2026-11-29", "assignee": "sp-liu"},
    )
    records = await delivered(notifications, case_id, count=3)
    kinds = sorted(r["kind"] for r in records)
    assert kinds == ["follow_up_request", "quote", "remedy_chosen"]
    assert any("合计 536.00 元" in r["text"] for r in records) and any("换货" in r["text"] for r in records)


async def test_no_sms_at_night_china_time(notifications_settings, feed, keys, delivered) -> None:
    app = create_app(notifications_settings(quiet_hours="21:00-08:00"))
    async with running(app) as client:
        n = app.state.runtime.components["notifications"]
        night = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)  # 23:30 in China
        n.clock = lambda: night
        case_id = new_case_id()
        await feed.complaint(case_id)
        await feed.reply(case_id)

        async def queued():
            res = await client.get("/v1/messages", params={"case_id": case_id}, headers=keys["manager"])
            return res.json()["items"] or None

        [message] = await eventually(queued)
        morning = datetime(2026, 11, 21, 0, 0, tzinfo=UTC)  # 08:00 in China
        assert message["state"] == "pending"
        assert datetime.fromisoformat(message["next_attempt_at"].replace("Z", "+00:00")) == morning
        n.clock = lambda: morning - timedelta(minutes=1)  # 07:59: still held
        assert await deliver_due(n) == 0  # a pass of the sender finds nothing due
        assert (
            await client.get("/v1/local-deliveries", params={"case_id": case_id}, headers=keys["manager"])
        ).json()["items"] == []
        n.clock = lambda: morning + timedelta(minutes=1)
        [record] = await delivered(client, case_id)
        assert record["kind"] == "reply"


async def test_the_provider_is_retried_with_backoff_and_a_failure_is_dead_lettered(
    notifications_settings, feed, keys, aliyun, isolation
) -> None:
    fake, url = aliyun
    settings = notifications_settings(
        sms_provider="aliyun",
        aliyun_sms_endpoint=url,
        aliyun_sms_access_key_id="LTAI-test",
        aliyun_sms_access_key_secret=fake.secret,
        aliyun_sms_templates={"reply": "SMS_100", "quote": "SMS_101"},
        retry_first_delay_s=0.2,
        retry_max_delay_s=0.5,
        max_attempts=3,
    )
    throttled, wrong = "+8613800000001", "+8613800000002"
    fake.script = {
        throttled: ["isv.BUSINESS_LIMIT_CONTROL", "isv.BUSINESS_LIMIT_CONTROL"],
        wrong: ["isv.MOBILE_NUMBER_ILLEGAL"],
    }
    async with running(create_app(settings)) as client:
        ok_case, bad_case = new_case_id(), new_case_id()
        await feed.complaint(ok_case, customer={"name": "张先生", "phone": throttled})
        await feed.complaint(bad_case, customer={"name": "李先生", "phone": wrong})
        await feed.reply(ok_case)
        bad = await feed.reply(bad_case)

        told = await feed.told(ok_case, lambda rs: len(rs) >= 1)
        assert told[0].envelope().payload["attempts"] == 3  # throttled twice, then taken
        calls = [r for r in fake.requests if r["PhoneNumbers"] == throttled]
        assert len(calls) == 3 and {r["OutId"] for r in calls} == {told[0].envelope().payload["message_id"]}
        assert calls[0]["TemplateCode"] == "SMS_100" and calls[0]["SignName"] == "英德售后"

        failed = await feed.told(bad_case, lambda rs: len(rs) >= 1)
        payload = failed[0].envelope().payload
        assert failed[0].headers["event_type"] == b"notification.failed"
        assert payload["reason"].startswith("isv.MOBILE_NUMBER_ILLEGAL") and payload["attempts"] == 1
        [dead] = await read_topic(
            isolation.backends.kafka_bootstrap_servers,
            isolation.topic("notifications.dead-letters.v1"),
            until=lambda rs: len(rs) >= 1,
        )
        assert dead.headers["exc_class"] == b"DeliveryFailed" and dead.headers["service"] == b"notifications"
        assert dead.headers["original_topic"] == b"dispatch.cases.v1"
        assert dead.envelope().event_id == bad.event_id and b"0000002" not in dead.headers["exc_msg"]

        # Operations replays the dead letter (the number was fixed at the provider): the message goes out.
        await feed.publish("dispatch", dead.envelope())
        told = await feed.told(
            bad_case, lambda rs: any(r.headers["event_type"] == b"notification.sent" for r in rs)
        )
        assert [r.headers["event_type"] for r in told] == [b"notification.failed", b"notification.sent"]
        retried = (
            await client.get("/v1/messages", params={"case_id": bad_case}, headers=keys["operations"])
        ).json()
        assert retried["items"][0]["state"] == "sent"


async def test_the_case_shows_a_reply_once_it_was_sent(isolation, notifications_settings, feed, keys) -> None:
    """Dispatch's reply goes out through notifications; the case and the customer's status page show it
    only once sent, with its delivery state."""
    from dispatch.config import DispatchSettings
    from dispatch.entrypoints.http import create_app as dispatch_app

    app = create_app(notifications_settings(quiet_hours="21:00-08:00"))
    async with running(dispatch_app(isolation.settings(DispatchSettings))) as dispatch, running(app):
        n = app.state.runtime.components["notifications"]
        n.clock = lambda: datetime(2026, 11, 20, 15, 30, tzinfo=UTC)  # 23:30 in China: the SMS waits
        case_id = new_case_id()
        await feed.complaint(case_id)

        async def assigned():
            res = await dispatch.get(f"/v1/cases/{case_id}", headers=keys["manager"])
            return res.status_code == 200 and res.json()["status"] == "assigned"

        await eventually(assigned)

        async def contact_known():
            return await n.repo.contact(case_id)

        # The reply's message needs the complaint's contact. Were the reply handled first, it would wait
        # (a young event); but this test moves the clock a day on below, and the event would then look
        # too old to wait for, and be dead-lettered instead (failed once under load).
        await eventually(contact_known)
        res = await dispatch.post(
            f"/v1/cases/{case_id}/replies",
            json={"message": "已安排明早上门", "via": "sms"},
            headers=keys["specialist"],
        )
        assert res.status_code == 201
        assert res.json()["case"]["replies"][0]["delivery"] == {"state": "pending", "channel": "sms"}
        public = (await dispatch.get(f"/v1/public/cases/{case_id}", params={"phone_last4": "5678"})).json()
        assert public["replies"] == []  # not sent yet: not shown to the customer

        # Morning comes: noon tomorrow in China, past whatever the message waits for (whenever this runs).
        noon = datetime.combine(china_today() + timedelta(days=1), time(12, 0), tzinfo=CHINA)
        n.clock = lambda: noon

        async def sent():
            case = (await dispatch.get(f"/v1/cases/{case_id}", headers=keys["manager"])).json()
            return case if case["replies"][0]["delivery"]["state"] == "sent" else None

        case = await eventually(sent)
        assert case["replies"][0]["delivery"]["channel"] == "sms"
        assert any(e["event_type"] == "notification.sent" for e in case["timeline"])
        public = (await dispatch.get(f"/v1/public/cases/{case_id}", params={"phone_last4": "5678"})).json()
        assert [r["message"] for r in public["replies"]] == ["已安排明早上门"]
