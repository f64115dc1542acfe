"""Path B to the end (R-PA-5, §三.2.3B): each leg has a deadline and is confirmed by who received the part;
a late leg is escalated; the dealer who receives the good part works the request without seeing prices."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from parts.entrypoints.http import create_app
from shared.testing.fixtures import eventually, running
from shared.testing.identities import new_case_id

pytestmark = pytest.mark.integration

SHIP = {"carrier": "顺丰", "tracking_no": "SF10000001"}
TINY = 1 / 3600  # one second


async def to_path_b(client, request_id: str, keys) -> None:
    res = await client.post(
        f"/v1/parts-requests/{request_id}/local-sourcing",
        json={"found": False},
        headers=keys["regional_manager"],
    )
    assert res.status_code == 200 and res.json()["state"] == "supplier_rma"


async def test_path_b_deadlines_escalate_each_late_leg_once(parts_settings, scenario, keys) -> None:
    settings = parts_settings(
        rma_hours=TINY,
        defective_to_company_hours=TINY,
        defective_to_supplier_hours=1000,
        good_part_to_field_hours=1000,
    )
    async with running(create_app(settings)) as client:
        case_id = new_case_id()
        await scenario.assigned(case_id)
        await scenario.decided(case_id)

        async def opened():
            res = await client.get(
                "/v1/parts-requests", params={"case_id": case_id}, headers=keys["specialist"]
            )
            return res.json()["items"][0] if res.json()["items"] else None

        request_id = (await eventually(opened))["request_id"]
        await to_path_b(client, request_id, keys)

        def overdue(leg: str):
            return lambda rs: any(
                r.headers["event_type"] == b"parts.leg_overdue" and r.envelope().payload["leg"] == leg
                for r in rs
            )

        events = await scenario.parts_events(case_id, overdue("rma"))
        [rma] = [r.envelope().payload for r in events if r.headers["event_type"] == b"parts.leg_overdue"]
        assert rma["leg"] == "rma" and "电机" in rma["waiting_on"]

        res = await client.post(
            f"/v1/parts-requests/{request_id}/rma", json={"rma_no": "RMA-1"}, headers=keys["specialist"]
        )
        assert res.status_code == 200 and res.json()["legs"]["rma"]["done_at"]
        # The defective part is late to the company; the good part and the supplier leg (1000 h) are not.
        events = await scenario.parts_events(case_id, overdue("defective_at_company"))
        early = await client.post(
            f"/v1/parts-requests/{request_id}/arrivals",
            json={"leg": "defective_at_company"},
            headers=keys["specialist"],
        )
        assert early.status_code == 409  # not shipped yet
        for step in (
            ("shipments", {"direction": "defective_to_company", "to": "英德售后服务部"} | SHIP),
            ("arrivals", {"leg": "defective_at_company"}),
            ("shipments", {"direction": "defective_to_supplier", "to": "宁波某电机有限公司"} | SHIP),
            ("arrivals", {"leg": "defective_at_supplier"}),
        ):
            res = await client.post(
                f"/v1/parts-requests/{request_id}/{step[0]}", json=step[1], headers=keys["specialist"]
            )
            assert res.status_code == 200, res.text
        legs = res.json()["legs"]
        assert all(legs[leg]["done_at"] for leg in ("rma", "defective_at_company", "defective_at_supplier"))
        assert (
            legs["good_part_in_field"]["done_at"] is None
            and legs["good_part_in_field"]["escalated_at"] is None
        )

        events = await scenario.parts_events(
            case_id, lambda rs: sum(r.headers["event_type"] == b"parts.arrived" for r in rs) >= 2
        )
        late = [
            r.envelope().payload["leg"] for r in events if r.headers["event_type"] == b"parts.leg_overdue"
        ]
        assert sorted(late) == ["defective_at_company", "rma"]  # each late leg once; those in time never


def _amounts(data: Any, amount: Decimal) -> list[Any]:
    """Every value in a JSON document that is `amount` (a timestamp's milliseconds or an id may hold its
    digits, so the text is not searched for them)."""
    if isinstance(data, dict):
        return [v for value in data.values() for v in _amounts(value, amount)]
    if isinstance(data, list):
        return [v for value in data for v in _amounts(value, amount)]
    try:
        return [data] if not isinstance(data, bool) and Decimal(str(data)) == amount else []
    except ArithmeticError:
        return []


async def test_a_dealer_confirms_receipt_and_repairs_without_seeing_prices(
    parts, scenario, keys, prices
) -> None:
    case_id = new_case_id()
    await scenario.assigned(case_id)
    await scenario.decided(case_id, decision="chargeable", remedy="paid_repair")

    async def opened():
        res = await parts.get("/v1/parts-requests", params={"case_id": case_id}, headers=keys["specialist"])
        return res.json()["items"][0] if res.json()["items"] else None

    request_id = (await eventually(opened))["request_id"]
    assert (await parts.post("/v1/price-lists", json=prices(), headers=keys["finance"])).status_code == 201
    quote = await parts.post(
        "/v1/quotes", json={"case_id": case_id, "repair_request_id": request_id}, headers=keys["specialist"]
    )
    assert quote.status_code == 201, quote.text
    await to_path_b(parts, request_id, keys)

    # Not sent to the dealer yet: nothing to see.
    assert (await parts.get("/v1/parts-requests", headers=keys["dealer"])).json()["items"] == []
    assert (await parts.get(f"/v1/parts-requests/{request_id}", headers=keys["dealer"])).status_code == 404
    await parts.post(
        f"/v1/parts-requests/{request_id}/rma", json={"rma_no": "RMA-9"}, headers=keys["specialist"]
    )
    sent = await parts.post(
        f"/v1/parts-requests/{request_id}/shipments",
        headers=keys["specialist"],
        json={"direction": "good_part_to_field", "to": "D-GZ-001"} | SHIP,
    )
    assert sent.status_code == 200 and sent.json()["field_recipient"] == "D-GZ-001"

    listed = await parts.get("/v1/parts-requests", headers=keys["dealer"])
    [mine] = listed.json()["items"]
    assert mine["request_id"] == request_id and mine["chargeable"] is True
    for text in (
        listed.text,
        (await parts.get(f"/v1/parts-requests/{request_id}", headers=keys["dealer"])).text,
    ):
        assert "price" not in text and "¥" not in text and not _amounts(json.loads(text), Decimal(520))
    assert (
        await parts.get("/v1/quotes", params={"case_id": case_id}, headers=keys["dealer"])
    ).status_code == 403

    refused = await parts.post(
        f"/v1/parts-requests/{request_id}/arrivals",
        json={"leg": "defective_at_company"},
        headers=keys["dealer"],
    )
    assert refused.status_code == 403
    received = await parts.post(
        f"/v1/parts-requests/{request_id}/arrivals",
        json={"leg": "good_part_in_field"},
        headers=keys["dealer"],
    )
    assert received.status_code == 200, received.text
    assert received.json()["legs"]["good_part_in_field"]["done_by"] == "D-GZ-001"
    assert "price" not in received.text
    repaired = await parts.post(
        f"/v1/parts-requests/{request_id}/repair",
        headers=keys["dealer"],
        json={
            "technician": "D-GZ-001 王师傅",
            "repaired_on": "2026-11-26",
            "fault_found": "电机轴承损坏",
            "cause": "轴承磨损",
        },
    )
    assert repaired.status_code == 200 and repaired.json()["state"] == "repaired"
    record = await parts.get(f"/v1/parts-requests/{request_id}/repair-record", headers=keys["dealer"])
    assert record.status_code == 200 and "按报价单收费" in record.text and "520" not in record.text

    events = await scenario.parts_events(
        case_id, lambda rs: any(r.headers["event_type"] == b"parts.repaired" for r in rs)
    )
    [arrived] = [r.envelope().payload for r in events if r.headers["event_type"] == b"parts.arrived"]
    assert (arrived["leg"], arrived["confirmed_by"]) == ("good_part_in_field", "D-GZ-001")
