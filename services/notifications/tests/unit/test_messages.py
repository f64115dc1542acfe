"""Messages without I/O: quiet hours (China time), backoff, the delivery state machine, composition, and the
providers' request signing (R-DS-6)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from notifications.adapters.channels import AliyunSms, aliyun_signature
from notifications.domain.compose import Contact, compose
from notifications.domain.message import Message, NotDue, QuietHours, backoff
from shared.contracts.cases import CaseFollowedUp, CaseReplied, FollowUpDue
from shared.contracts.parts import QuoteIssued
from shared.contracts.warranty import RemedyChosen
from shared.periods import CHINA

NIGHT = QuietHours.parse("21:00-08:00")
CONTACT = Contact(case_id="YD-7K3M9QX2AB", phone="+8613812345678", name="王女士")


def china(hour: int, minute: int = 0, day: int = 20) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=CHINA)


@pytest.mark.parametrize(
    ("moment", "held"),
    [
        (china(20, 59), False),
        (china(21, 0), True),
        (china(23, 30), True),
        (china(0, 10), True),
        (china(7, 59), True),
        (china(8, 0), False),
        (china(12, 0), False),
    ],
)
def test_no_sms_at_night_china_time(moment, held) -> None:
    assert NIGHT.holds(moment) is held


def test_a_message_at_night_waits_for_the_morning() -> None:
    assert NIGHT.next_allowed(china(23, 30)) == china(8, 0, day=21)
    assert NIGHT.next_allowed(china(1, 15)) == china(8, 0)
    assert NIGHT.next_allowed(china(9, 0)) == china(9, 0)
    daytime = QuietHours.parse("12:00-14:00")  # a window within one day works too
    assert daytime.next_allowed(china(13, 0)) == china(14, 0) and not daytime.holds(china(14, 0))
    assert not QuietHours.parse("").holds(china(23, 0))
    with pytest.raises(ValueError):
        QuietHours.parse("late")


def test_backoff_doubles_up_to_a_ceiling() -> None:
    assert [backoff(n, first_s=30, max_s=3600).total_seconds() for n in (1, 2, 3, 8, 9)] == [
        30,
        60,
        120,
        3600,
        3600,
    ]


def message(channel: str = "sms", **changes) -> Message:
    return Message.model_validate(
        {
            "message_id": "MSG-0123456789ABCDEF",
            "case_id": CONTACT.case_id,
            "kind": "reply",
            "reference": "R-1",
            "channel": channel,
            "to": CONTACT.phone,
            "template": "reply",
            "params": {"case_id": CONTACT.case_id, "message": "m"},
            "text": "【英德售后】m",
            "source_topic": "dispatch.cases.v1",
            "source_event": {},
            "created_at": china(10),
            "next_attempt_at": china(10),
        }
        | changes
    )


def test_claim_send_and_the_lease() -> None:
    m = message()
    m.claim(now=china(10), lease_s=60)
    assert (m.state, m.attempts, m.due_at()) == ("sending", 1, china(10) + timedelta(seconds=60))
    with pytest.raises(NotDue):  # another instance, meanwhile
        m.claim(now=china(10, 0), lease_s=60)
    m.claim(now=china(10, 2), lease_s=60)  # the sender died: the lease ran out, another takes it
    assert m.attempts == 2
    [(t, sent)] = m.mark_sent(now=china(10, 2), provider_message_id="biz-1")
    assert (t, sent.attempts, m.due_at()) == ("notification.sent", 2, None)
    assert m.mark_sent(now=china(10, 3), provider_message_id="biz-1") == []  # once


def test_failures_retry_later_never_at_night_then_fail_for_good() -> None:
    m = message()
    m.claim(now=china(20, 59), lease_s=60)
    assert (
        m.attempt_failed(
            now=china(20, 59),
            error="isv.BUSINESS_LIMIT_CONTROL",
            permanent=False,
            max_attempts=3,
            first_s=120,
            max_s=3600,
            quiet=NIGHT,
        )
        == []
    )
    # Two minutes later would be 21:01: the next attempt waits for the morning.
    assert (m.state, m.next_attempt_at) == ("pending", china(8, 0, day=21))
    m.claim(now=china(8, 0, day=21), lease_s=60)
    m.attempt_failed(
        now=china(8, 0, day=21),
        error="x",
        permanent=False,
        max_attempts=3,
        first_s=120,
        max_s=3600,
        quiet=NIGHT,
    )
    assert m.next_attempt_at == china(8, 4, day=21)  # doubled: 240 s later
    m.claim(now=china(8, 4, day=21), lease_s=60)
    [(t, failed)] = m.attempt_failed(
        now=china(8, 4, day=21),
        error="x",
        permanent=False,
        max_attempts=3,
        first_s=120,
        max_s=3600,
        quiet=NIGHT,
    )
    assert (t, failed.attempts, m.state, m.due_at()) == ("notification.failed", 3, "failed", None)
    m.rearm(now=china(9, 0, day=21), quiet=NIGHT)
    assert (m.state, m.attempts, m.due_at()) == ("pending", 0, china(9, 0, day=21))


def test_a_bad_number_fails_at_once_and_wechat_is_not_held_at_night() -> None:
    m = message()
    m.claim(now=china(10), lease_s=60)
    [(t, _)] = m.attempt_failed(
        now=china(10),
        error="isv.MOBILE_NUMBER_ILLEGAL",
        permanent=True,
        max_attempts=8,
        first_s=30,
        max_s=3600,
        quiet=NIGHT,
    )
    assert t == "notification.failed"
    assert message("wechat").allowed_from(china(23, 0), NIGHT) == china(23, 0)


def test_what_each_event_asks_for() -> None:
    reply = CaseReplied(
        case_id=CONTACT.case_id,
        reply_id="R-1",
        message="明早上门",
        via="sms",
        by="sp-liu",
        channel="dealer",
        submitted_by="D-GZ-001",
        replied_at=china(10),
    )
    draft = compose("case.replied", reply, CONTACT)
    assert draft is not None and (draft.kind, draft.channel, draft.to) == ("reply", "sms", CONTACT.phone)
    assert draft.text == "【英德售后】您的售后案件 YD-7K3M9QX2AB：明早上门"
    assert (
        compose("case.replied", reply.model_copy(update={"via": "phone"}), CONTACT) is None
    )  # told by phone
    wechat = compose("case.replied", reply.model_copy(update={"via": "wechat"}), CONTACT)
    assert wechat is not None and wechat.channel == "sms" and "openid" in (wechat.note or "")
    bound = Contact(case_id=CONTACT.case_id, phone=CONTACT.phone, wechat_openid="oXyz123")
    assert compose("case.replied", reply.model_copy(update={"via": "wechat"}), bound).to == "oXyz123"  # type: ignore[union-attr]
    quote = QuoteIssued(
        case_id=CONTACT.case_id,
        quote_id="Q-1",
        lines=[
            {"item": "F", "description": "滤芯", "quantity": 2, "unit_price": "268.00", "amount": "536.00"}
        ],
        total=Decimal("536.00"),
        valid_until=date(2026, 12, 21),
        issued_by="sp-liu",
    )
    assert "合计 536.00 元" in compose("quote.issued", quote, CONTACT).text  # type: ignore[union-attr]
    remedy = RemedyChosen(
        case_id=CONTACT.case_id, remedy_id="RM-1", remedy="exchange", chosen_by="sp-liu", chosen_at=china(10)
    )
    assert "换货" in compose("remedy.chosen", remedy, CONTACT).text  # type: ignore[union-attr]
    due = FollowUpDue(case_id=CONTACT.case_id, due_on=date(2026, 11, 27), assignee="sp-liu")
    assert compose("case.follow_up_due", due, CONTACT).kind == "follow_up_request"  # type: ignore[union-attr]
    visit = CaseFollowedUp(
        case_id=CONTACT.case_id, visited_on=date(2026, 11, 27), satisfaction=5, notes="", by="x"
    )
    assert compose("case.followed_up", visit, CONTACT) is None


def test_aliyun_requests_are_signed_as_the_documentation_shows() -> None:
    """The example of Alibaba Cloud's SMS documentation (HTTP 协议及签名), signature and all."""
    params = {
        "AccessKeyId": "testId",
        "Action": "SendSms",
        "Format": "XML",
        "OutId": "123",
        "PhoneNumbers": "15300000001",
        "RegionId": "cn-hangzhou",
        "SignName": "阿里云短信测试专用",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
        "SignatureVersion": "1.0",
        "TemplateCode": "SMS_71390007",
        "TemplateParam": '{"customer":"test"}',
        "Timestamp": "2017-07-12T02:42:19Z",
        "Version": "2017-05-25",
    }
    assert aliyun_signature(params, "testSecret") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="


def test_aliyun_request_carries_the_template_variables_and_the_idempotency_key() -> None:
    sms = AliyunSms(
        endpoint="https://x/",
        access_key_id="id",
        access_key_secret="secret",
        sign_name="英德售后",
        templates={"reply": "SMS_1"},
        client=None,
    )  # type: ignore[arg-type]
    p = sms.request_params(message(), now=china(10), nonce="n-1")
    assert (p["TemplateCode"], p["OutId"], p["SignName"], p["PhoneNumbers"]) == (
        "SMS_1",
        "MSG-0123456789ABCDEF",
        "英德售后",
        "+8613812345678",
    )
    assert p["TemplateParam"] == '{"case_id":"YD-7K3M9QX2AB","message":"m"}'
    unsigned = {k: v for k, v in p.items() if k != "Signature"}
    assert p["Signature"] == aliyun_signature(unsigned, "secret")
