"""Each channel posts to intake and its complaint is read back from the real Kafka topic (R-IN-1)."""

from __future__ import annotations

import uuid

import pytest

from shared.contracts.complaints import ComplaintReceived

pytestmark = pytest.mark.integration


async def test_dealer_ticket_lands_in_kafka_normalised(intake, complaints, keys, dealer_body) -> None:
    res = await intake.post("/v1/complaints/dealer", json=dealer_body(), headers=keys["dealer"])
    assert res.status_code == 202, res.text
    case_id = res.json()["case_id"]
    assert res.json()["status"] == "received"

    [record] = await complaints(1)
    assert record.key == case_id.encode()
    assert record.headers["event_type"] == b"complaint.received"
    env = record.envelope()
    assert (env.event_type, env.schema_version, env.correlation_id, env.producer) == (
        "complaint.received",
        1,
        case_id,
        "intake",
    )
    assert record.headers["event_id"] == str(env.event_id).encode()
    c = ComplaintReceived.model_validate(env.payload)
    assert c.case_id == case_id and c.channel == "dealer"
    assert c.customer.phone == "+8613812345678"
    assert c.product.model == "YD-XF250" and c.product.service_card_stamped is True
    assert c.region == "south_china"
    assert c.category_guess.category == "product_fault"
    assert c.original["product"]["model"] == "yd xf-250"  # the payload as posted is kept


async def test_hotline_call(intake, complaints, keys, hotline_body) -> None:
    res = await intake.post("/v1/complaints/hotline", json=hotline_body(), headers=keys["hotline"])
    assert res.status_code == 202, res.text
    [record] = await complaints(1)
    c = ComplaintReceived.model_validate(record.envelope().payload)
    assert c.channel == "hotline" and c.customer.phone == "+8613900001111"
    assert c.category_guess.category == "installation"
    assert c.reported_at is not None


async def test_front_desk_staff_may_post_hotline_calls(intake, complaints, keys, hotline_body) -> None:
    res = await intake.post("/v1/complaints/hotline", json=hotline_body(), headers=keys["front_desk"])
    assert res.status_code == 202, res.text
    assert len(await complaints(1)) == 1


async def test_regional_manager_report(intake, complaints, keys) -> None:
    body = {
        "manager_id": "RM-SOUTH-01",
        "region": "华南",
        "customer": {"name": "深圳某学校", "phone": "0755-87654321"},
        "dealer_code": "D-SZ-002",
        "product": {"model": "XF1000", "serial_no": "XF1K2501000007"},
        "description": "项目验收后机组经常停机",
        "project_ref": "P-2026-017",
    }
    res = await intake.post("/v1/complaints/regional-manager", json=body, headers=keys["regional_manager"])
    assert res.status_code == 202, res.text
    [record] = await complaints(1)
    c = ComplaintReceived.model_validate(record.envelope().payload)
    assert (c.channel, c.region, c.project_ref, c.product.model) == (
        "regional_manager",
        "south_china",
        "P-2026-017",
        "YD-XF1000",
    )
    assert c.submitted_by.principal_id == "RM-SOUTH-01"


async def test_online_form_needs_no_key(intake, complaints) -> None:
    body = {
        "name": "李先生",
        "phone": "13900001111",
        "serial_no": "xf3502311000042",
        "description": "想买新的滤芯",
    }
    res = await intake.post(
        "/v1/complaints/online", json=body, headers={"Idempotency-Key": str(uuid.uuid4())}
    )
    assert res.status_code == 202, res.text
    [record] = await complaints(1)
    c = ComplaintReceived.model_validate(record.envelope().payload)
    assert c.channel == "online" and c.category_guess.category == "consumable"
    assert c.product.serial_no == "XF3502311000042"


async def test_the_complaint_names_the_request_that_caused_it(intake, complaints) -> None:
    request_id = uuid.uuid4()
    res = await intake.post(
        "/v1/complaints/online",
        headers={"X-Request-ID": str(request_id)},
        json={"name": "王", "phone": "13900005555", "description": "电机异响"},
    )
    assert res.status_code == 202 and res.headers["X-Request-ID"] == str(request_id)
    [record] = await complaints(1)
    assert record.envelope().causation_id == request_id
    assert record.headers["causation_id"] == str(request_id).encode()
