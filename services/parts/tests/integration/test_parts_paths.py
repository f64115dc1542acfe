"""Key parts on the real stack: a decision opens a request, path A then B, dispatch shows it (R-PA-1, R-PA-2)."""

from __future__ import annotations

import io

import pytest
from aiokafka import AIOKafkaProducer
from pypdf import PdfReader

from shared.testing.fixtures import eventually, running
from shared.testing.identities import new_case_id
from shared.testing.kafka import read_topic

pytestmark = pytest.mark.integration


async def test_a_motor_decision_opens_a_request_that_dispatch_shows(parts, dispatch, scenario, keys) -> None:
    case_id = new_case_id()
    await scenario.complaint(case_id)
    await scenario.assigned(case_id)
    await scenario.decided(case_id)  # covered, free_repair, key_part motor

    async def shown():
        case = (await dispatch.get(f"/v1/cases/{case_id}", headers=keys["manager"])).json()
        return case.get("parts_actions") or None  # 404 until dispatch has opened the case

    [action] = await eventually(shown, timeout_s=30)
    assert (action["part"], action["state"], action["path"], action["sourcing_by"]) == (
        "motor",
        "sourcing_locally",
        "A",
        "RM-SOUTH-01",
    )
    request_id = action["request_id"]

    # Path A: the regional manager could not find one locally -> path B at once.
    res = await parts.post(
        f"/v1/parts-requests/{request_id}/local-sourcing",
        json={"found": False},
        headers=keys["regional_manager"],
    )
    assert res.status_code == 200 and res.json()["state"] == "supplier_rma"
    res = await parts.post(
        f"/v1/parts-requests/{request_id}/rma", json={"rma_no": "RMA-88123"}, headers=keys["specialist"]
    )
    assert res.json()["state"] == "rma_confirmed"
    early = await parts.post(
        f"/v1/parts-requests/{request_id}/repair",
        headers=keys["regional_manager"],
        json={
            "technician": "李师傅",
            "repaired_on": "2026-11-25",
            "fault_found": "电机轴承损坏",
            "cause": "正常老化",
        },
    )
    assert early.status_code == 409 and "good part" in early.json()["detail"]
    for direction, to in (("defective_to_company", "英德售后服务部"), ("good_part_to_field", "RM-SOUTH-01")):
        res = await parts.post(
            f"/v1/parts-requests/{request_id}/shipments",
            headers=keys["specialist"],
            json={"direction": direction, "carrier": "顺丰", "tracking_no": f"SF{len(to)}0001", "to": to},
        )
        assert res.status_code == 200, res.text
    res = await parts.post(
        f"/v1/parts-requests/{request_id}/repair",
        headers=keys["regional_manager"],
        json={
            "technician": "广州某家电维修部 李师傅",
            "repaired_on": "2026-11-25",
            "old_serial": "M-0001",
            "new_serial": "M-0932",
            "fault_found": "电机轴承损坏异响",
            "cause": "轴承磨损",
        },
    )
    assert res.status_code == 200 and res.json()["state"] == "repaired"

    events = await scenario.parts_events(
        case_id, lambda rs: any(r.headers["event_type"] == b"repair.recorded" for r in rs)
    )
    assert [r.headers["event_type"].decode() for r in events] == [
        "parts.request_opened",
        "parts.local_sourcing_reported",
        "parts.rma_opened",
        "parts.rma_opened",
        "parts.shipped",
        "parts.shipped",
        "parts.arrived",
        "parts.repaired",
        "repair.recorded",
    ]  # the repair confirms the good part arrived
    for r in events:
        assert b"price" not in r.value  # no price leaves parts except in a customer's quote

    async def timeline_done():
        case = (await dispatch.get(f"/v1/cases/{case_id}", headers=keys["manager"])).json()
        types = [e["event_type"] for e in case["timeline"]]
        return case if "parts.repaired" in types else None

    case = await eventually(timeline_done, timeout_s=30)
    assert case["parts_actions"] == []  # repaired: nothing open any more

    html = await parts.get(f"/v1/parts-requests/{request_id}/repair-record", headers=keys["specialist"])
    assert (
        html.status_code == 200 and "产品(设备)售后服务维修记录单" in html.text and "RMA-88123" in html.text
    )
    pdf = await parts.get(f"/v1/parts-requests/{request_id}/repair-record.pdf", headers=keys["specialist"])
    assert pdf.headers["content-type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    for expected in (
        "产品(设备)售后服务维修记录单",
        "Repair Record",
        "电机轴承损坏异响",
        "M-0932",
        "客户签字",
    ):
        assert expected in text


async def test_local_deadline_passing_goes_to_the_supplier(parts_settings, scenario, keys) -> None:
    from parts.entrypoints.http import create_app

    async with running(create_app(parts_settings(local_sourcing_hours=1 / 3600))) as client:
        case_id = new_case_id()
        await scenario.assigned(case_id)
        await scenario.decided(case_id)

        async def moved():
            res = await client.get(
                "/v1/parts-requests", params={"case_id": case_id}, headers=keys["specialist"]
            )
            items = res.json()["items"]
            return items[0] if items and items[0]["state"] == "supplier_rma" else None

        req = await eventually(moved, timeout_s=20)
        assert req["rma_reason"] == "local_deadline_passed" and req["path"] == "B"


async def test_the_same_decision_twice_opens_one_request(parts, scenario, keys) -> None:
    case_id = new_case_id()
    await scenario.assigned(case_id)
    decision = await scenario.decided(case_id)
    await scenario.publish("warranty", decision)
    opened = await scenario.parts_events(case_id, lambda rs: len(rs) >= 1)
    assert len({r.envelope().event_id for r in opened}) == 1
    res = await parts.get("/v1/parts-requests", params={"case_id": case_id}, headers=keys["specialist"])
    assert len(res.json()["items"]) == 1


async def test_decisions_without_a_key_part_open_nothing(parts, scenario, keys) -> None:
    case_id = new_case_id()
    await scenario.assigned(case_id)
    await scenario.decided(case_id, remedy="exchange", key_part="motor")
    await scenario.decided(case_id, decision="needs_evidence", remedy="none", key_part=None)
    marker = new_case_id()
    await scenario.assigned(marker)
    await scenario.decided(marker)
    await scenario.parts_events(marker, lambda rs: len(rs) >= 1)  # parts got this far
    res = await parts.get("/v1/parts-requests", params={"case_id": case_id}, headers=keys["specialist"])
    assert res.json()["items"] == []


async def test_a_regional_manager_sees_only_the_requests_asked_of_them(open_request, parts, keys) -> None:
    case_id, req = await open_request(key_part="control_board")
    mine = await parts.get("/v1/parts-requests", headers=keys["regional_manager"])
    assert [r["request_id"] for r in mine.json()["items"]] == [req["request_id"]]
    assert "local_price_paid" not in mine.json()["items"][0]
    # A dealer sees only requests whose good part was sent to them: this one looks like none at all.
    assert (
        await parts.get(f"/v1/parts-requests/{req['request_id']}", headers=keys["dealer"])
    ).status_code == 404


async def test_a_bogus_payload_lands_in_parts_dead_letters(parts, isolation) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=isolation.backends.kafka_bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(
            isolation.topic("warranty.decisions.v1"), b'{"event_type": 7}', key=b"YD-X"
        )
    finally:
        await producer.stop()
    [dead] = await read_topic(
        isolation.backends.kafka_bootstrap_servers,
        isolation.topic("parts.dead-letters.v1"),
        until=lambda r: len(r) >= 1,
    )
    assert dead.headers["service"] == b"parts" and dead.headers["original_topic"] == b"warranty.decisions.v1"
