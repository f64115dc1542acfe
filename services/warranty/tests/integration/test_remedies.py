"""Remedies carried out on the real stack: the customer's choice, an exchange's new unit with its own clock,
a return refunded at the invoice price, a quoted remedy agreed before anything ships (R-WA-8)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.contracts.envelope import make_envelope
from shared.contracts.parts import QuoteIssued
from shared.periods import china_date
from shared.testing.fixtures import eventually

pytestmark = pytest.mark.integration


async def _confirmed_case(suite, keys, ticket, ticket_id, serial, bought, **product):
    body = ticket(
        ticket_id=ticket_id,
        product={
            "model": "YD-XF250",
            "serial_no": serial,
            "purchase_date": str(bought),
            "invoice_no": "44001111",
            "service_card_stamped": True,
        }
        | product,
    )
    case_id = (await suite["intake"].post("/v1/complaints/dealer", json=body, headers=keys["dealer"])).json()[
        "case_id"
    ]

    async def known():
        return (
            await suite["warranty"].get(f"/v1/cases/{case_id}", headers=keys["manager"])
        ).status_code == 200

    await eventually(known, timeout_s=30)
    res = await suite["warranty"].post(
        f"/v1/cases/{case_id}/evidence", json={"confirmation": {"via": "phone"}}, headers=keys["manager"]
    )
    return case_id, res.json()["latest_decision"]


async def test_an_exchange_issues_a_new_serial_with_its_own_clock(suite, bus, keys, ticket) -> None:
    today = china_date(datetime.now(UTC))
    case_id, decision = await _confirmed_case(
        suite, keys, ticket, "T-R1", "XF2502405005555", today - timedelta(days=5)
    )
    assert decision["options"] == ["return", "exchange", "free_repair"]
    url = f"/v1/cases/{case_id}/remedies"
    assert (
        await suite["warranty"].post(url, json={"remedy": "replacement"}, headers=keys["manager"])
    ).status_code == 422
    assert (
        await suite["warranty"].post(url, json={"remedy": "exchange"}, headers=keys["engineering"])
    ).status_code == 403
    chosen = await suite["warranty"].post(
        url, json={"remedy": "exchange", "via": "phone"}, headers=keys["manager"]
    )
    assert chosen.status_code == 201, chosen.text
    remedy = chosen.json()
    assert remedy["pending"] == ["new_unit_issued", "old_unit_received"]
    again = await suite["warranty"].post(url, json={"remedy": "return"}, headers=keys["manager"])
    assert again.status_code == 409

    steps = f"/v1/remedies/{remedy['remedy_id']}/steps"
    other_model = await suite["warranty"].post(
        steps, json={"step": "new_unit_issued", "new_serial": "XF3502411000001"}, headers=keys["manager"]
    )
    assert other_model.status_code == 422 and other_model.json()["errors"][0]["field"] == "new_serial"
    issued = await suite["warranty"].post(
        steps, json={"step": "new_unit_issued", "new_serial": "xf250 2411 000001"}, headers=keys["manager"]
    )
    assert issued.status_code == 200, issued.text
    done = await suite["warranty"].post(steps, json={"step": "old_unit_received"}, headers=keys["manager"])
    assert done.json()["status"] == "completed" and done.json()["new_serial"] == "XF2502411000001"

    old = (await suite["warranty"].get("/v1/warranty/units/XF2502405005555", headers=keys["manager"])).json()
    new = (await suite["warranty"].get("/v1/warranty/units/XF2502411000001", headers=keys["manager"])).json()
    assert (old["status"], old["exchanged_for"]) == ("exchanged", "XF2502411000001")
    assert (new["replaces"], new["exchanged_in_on"]) == ("XF2502405005555", str(today))
    assert [(c["kind"], c["basis"], c["start"]) for c in new["clocks"]] == [
        ("product", "exchange", str(today))
    ]

    records = await bus.read(
        "warranty.remedies.v1", lambda rs: len([r for r in rs if r.key == case_id.encode()]) >= 4
    )
    types = [r.envelope().event_type for r in records if r.key == case_id.encode()]
    assert types == ["remedy.chosen", "remedy.progressed", "remedy.progressed", "remedy.completed"]
    completed = [r.envelope().payload for r in records if r.envelope().event_type == "remedy.completed"][0]
    assert completed["new_serial"] == "XF2502411000001" and completed["remedy"] == "exchange"

    # A complaint on the old serial is sent to the new one; the new one has its own period.
    _case2, on_old = await _confirmed_case(
        suite, keys, ticket, "T-R1b", "XF2502405005555", today - timedelta(days=5)
    )
    assert on_old["reasons"] == ["unit_exchanged"]


async def test_a_return_is_refunded_at_the_invoice_price_and_the_price_stays_hidden(
    suite, bus, keys, ticket
) -> None:
    today = china_date(datetime.now(UTC))
    serial = "XF2502405003333"
    sale = {
        "invoice_no": "44003333",
        "invoice_date": str(today - timedelta(days=3)),
        "invoice_amount": "3980.00",
    }
    assert (
        await suite["warranty"].post(f"/v1/warranty/units/{serial}/sale", json=sale, headers=keys["dealer"])
    ).status_code == 201
    case_id, decision = await _confirmed_case(suite, keys, ticket, "T-R2", serial, today - timedelta(days=3))
    remedy = (
        await suite["warranty"].post(
            f"/v1/cases/{case_id}/remedies",
            json={"remedy": "return", "via": "wechat"},
            headers=keys["manager"],
        )
    ).json()
    steps = f"/v1/remedies/{remedy['remedy_id']}/steps"
    wrong = await suite["warranty"].post(
        steps, json={"step": "refunded", "amount": "100.00"}, headers=keys["manager"]
    )
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "amount"
    await suite["warranty"].post(steps, json={"step": "goods_received"}, headers=keys["manager"])
    refunded = await suite["warranty"].post(steps, json={"step": "refunded"}, headers=keys["manager"])
    assert refunded.json()["status"] == "completed" and "refund_amount" not in refunded.json()
    finance = (await suite["warranty"].get(f"/v1/cases/{case_id}/remedies", headers=keys["finance"])).json()
    assert finance["items"][0]["refund_amount"] == "3980.00"
    unit = (await suite["warranty"].get(f"/v1/warranty/units/{serial}", headers=keys["manager"])).json()
    assert unit["status"] == "returned" and "invoice_amount" not in unit["sale"]
    records = await bus.read(
        "warranty.remedies.v1", lambda rs: len([r for r in rs if r.key == case_id.encode()]) >= 4
    )
    assert all(b"3980" not in r.value for r in records)


async def test_a_quoted_remedy_ships_only_after_the_customer_agreed(suite, bus, keys, ticket) -> None:
    today = china_date(datetime.now(UTC))
    case_id, _ = await _confirmed_case(
        suite, keys, ticket, "T-R3", "XF2502405002222", today - timedelta(days=200)
    )
    # A software fault no remote update can fix: replacement with depreciation, agreed with the customer.
    res = await suite["warranty"].post(
        f"/v1/cases/{case_id}/evidence",
        json={"fault_kind": "software", "remote_update_possible": False},
        headers=keys["manager"],
    )
    assert res.json()["latest_decision"]["remedy"] == "replacement_with_depreciation"
    remedy = (
        await suite["warranty"].post(
            f"/v1/cases/{case_id}/remedies", json={"remedy": "replacement"}, headers=keys["manager"]
        )
    ).json()
    steps = f"/v1/remedies/{remedy['remedy_id']}/steps"
    early = await suite["warranty"].post(
        steps, json={"step": "shipped", "carrier": "顺丰"}, headers=keys["manager"]
    )
    assert early.status_code == 409 and "customer_agreed" in early.json()["detail"]
    assert (
        await suite["warranty"].post(
            steps, json={"step": "customer_agreed", "via": "wechat"}, headers=keys["manager"]
        )
    ).status_code == 409  # no quote yet
    quote = QuoteIssued(
        case_id=case_id,
        quote_id="Q-R3",
        kind="replacement",
        remedy_id=remedy["remedy_id"],
        lines=[
            {
                "item": "YD-XF250",
                "description": "替换新品",
                "quantity": 1,
                "unit_price": "700.00",
                "amount": "700.00",
            }
        ],
        total="700.00",
        valid_until=today + timedelta(days=30),
        issued_by="sp-liu",
    )
    await bus.publish(
        "parts",
        make_envelope(
            quote, event_type="quote.issued", schema_version=1, correlation_id=case_id, producer="parts"
        ),
    )

    async def quoted():
        items = (
            await suite["warranty"].get(f"/v1/cases/{case_id}/remedies", headers=keys["manager"])
        ).json()["items"]
        return items[0] if items[0]["quote_id"] else None

    assert (await eventually(quoted))["pending"] == ["customer_agreed", "shipped", "delivered"]
    for step in (
        {"step": "customer_agreed", "via": "wechat"},
        {"step": "shipped", "carrier": "顺丰", "tracking_no": "SF1"},
        {"step": "delivered"},
    ):
        res = await suite["warranty"].post(steps, json=step, headers=keys["manager"])
        assert res.status_code == 200, res.text
    assert res.json()["status"] == "completed"
    cancel = await suite["warranty"].post(
        f"/v1/remedies/{remedy['remedy_id']}/cancellation", json={"reason": "晚了"}, headers=keys["manager"]
    )
    assert cancel.status_code == 409
