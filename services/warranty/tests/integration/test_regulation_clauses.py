"""Where the suite contradicted the regulation, on the real stack: each test is named after its clause."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.periods import CHINA, china_date
from shared.testing.fixtures import eventually

pytestmark = pytest.mark.integration


async def _decision(suite, case_id, keys, predicate=lambda w: True):
    async def check():
        res = await suite["warranty"].get(f"/v1/cases/{case_id}", headers=keys["manager"])
        latest = res.json()["latest_decision"] if res.status_code == 200 else None
        return res.json() if latest and predicate(latest) else None

    return await eventually(check, timeout_s=30)


async def test_clause_1_1_3_a_dealer_ticket_without_documents_is_accepted_and_the_decision_asks_for_them(
    suite, keys, ticket
) -> None:
    """§一.1.3: the dealer forwards every complaint it receives; the documents are warranty's question."""
    body = ticket(ticket_id="T-C113", product={"model": "YD-XF250"})
    posted = await suite["intake"].post("/v1/complaints/dealer", json=body, headers=keys["dealer"])
    assert posted.status_code == 202, posted.text
    case = await _decision(suite, posted.json()["case_id"], keys)
    assert case["latest_decision"]["decision"] == "needs_evidence"
    assert case["latest_decision"]["reasons"] == ["missing_documents"]

    async def dispatch_saw_the_decision():
        # Dispatch learns the decision from warranty's topic, a moment after warranty has it.
        res = await suite["dispatch"].get(f"/v1/cases/{case['case_id']}", headers=keys["manager"])
        return res.json().get("warranty") if res.status_code == 200 else None

    message = (await eventually(dispatch_saw_the_decision))["reasons"][0]["message_en"]
    for wanted in (
        "the invoice",
        "the dealer-stamped service card",
        "the purchase date",
        "the serial number",
    ):
        assert wanted in message


async def test_clause_3_2_2A_a_software_fault_without_invoice_gets_the_free_remote_update(
    suite, keys
) -> None:
    """§三.2.2A: a remote online update, free, 在第一时间 — no invoice or stamped card asked for first."""
    call = {
        "caller_name": "赵女士",
        "phone": "13700002222",
        "called_at": datetime.now(CHINA).replace(tzinfo=None).isoformat(timespec="seconds"),
        "transcript": "APP 升级固件以后新风机显示屏死机",
        "agent_id": "fd-he",
        "product": {"serial_no": "XF2502405007777"},
    }
    posted = await suite["intake"].post("/v1/complaints/hotline", json=call, headers=keys["hotline"])
    assert posted.status_code == 202, posted.text
    case = await _decision(suite, posted.json()["case_id"], keys)
    assert (case["invoice_no"], case["service_card_stamped"]) == (None, None)
    latest = case["latest_decision"]
    assert (latest["decision"], latest["remedy"], latest["reasons"]) == (
        "covered",
        "ota_update",
        ["software_ota_free"],
    )


async def test_sanbao_7_and_15_day_windows_count_to_the_day_the_customer_called(suite, keys) -> None:
    """三包 7/15 days: counted from the sale to the day the customer reported the fault. The hotline's
    called_at is that day; a specialist's evidence corrects it."""
    now = datetime.now(UTC)
    called = (now - timedelta(days=10)).astimezone(CHINA)
    call = {
        "caller_name": "钱先生",
        "phone": "13600003333",
        "called_at": called.replace(tzinfo=None).isoformat(timespec="seconds"),
        "transcript": "新风机电机异响",
        "agent_id": "fd-he",
        "product": {"model": "YD-XF250", "serial_no": "XF2502405008888"},
    }
    posted = await suite["intake"].post("/v1/complaints/hotline", json=call, headers=keys["hotline"])
    case_id = posted.json()["case_id"]
    case = await _decision(suite, case_id, keys)
    assert case["reported_on"] == str(called.date())
    bought = called.date() - timedelta(days=6)
    evidence = {
        "documents": {"purchase_date": str(bought), "invoice_no": "44009999", "service_card_stamped": True},
        "confirmation": {"via": "phone"},
    }
    res = await suite["warranty"].post(
        f"/v1/cases/{case_id}/evidence", json=evidence, headers=keys["manager"]
    )
    # Six days from sale to the call: the customer chooses return, exchange or repair (16 days to today).
    assert res.json()["latest_decision"]["remedy"] == "return", res.text
    assert res.json()["latest_decision"]["options"] == ["return", "exchange", "free_repair"]

    # The customer first told the dealer 9 days after the sale: evidence corrects the day reported.
    res = await suite["warranty"].post(
        f"/v1/cases/{case_id}/evidence",
        json={"reported_on": str(bought + timedelta(days=9))},
        headers=keys["manager"],
    )
    assert res.json()["latest_decision"]["remedy"] == "exchange"
    future = str(china_date(now) + timedelta(days=2))
    res = await suite["warranty"].post(
        f"/v1/cases/{case_id}/evidence", json={"reported_on": future}, headers=keys["manager"]
    )
    assert res.status_code == 422 and res.json()["errors"][0]["field"] == "reported_on"


async def test_sanbao_windows_count_to_the_day_the_customer_told_the_dealer(suite, keys, ticket) -> None:
    today = china_date(datetime.now(UTC))
    product = {
        "model": "YD-XF250",
        "serial_no": "XF2502405006666",
        "purchase_date": str(today - timedelta(days=20)),
        "invoice_no": "44006666",
        "service_card_stamped": True,
    }
    body = ticket(ticket_id="T-C715", product=product, reported_on=str(today - timedelta(days=7)))
    case_id = (await suite["intake"].post("/v1/complaints/dealer", json=body, headers=keys["dealer"])).json()[
        "case_id"
    ]
    case = await _decision(suite, case_id, keys)
    assert case["reported_on"] == str(today - timedelta(days=7))
    res = await suite["warranty"].post(
        f"/v1/cases/{case_id}/evidence", json={"confirmation": {"via": "wechat"}}, headers=keys["specialist"]
    )
    # 13 days from sale to the report: the 15-day window (20 days to today would be a free repair).
    assert res.json()["latest_decision"]["remedy"] == "exchange"
