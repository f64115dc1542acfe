"""A retried submission never becomes a second case (R-IN-3)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

pytestmark = pytest.mark.integration


async def test_same_key_same_body_same_case_one_event(intake, complaints, keys, hotline_body) -> None:
    key = {"Idempotency-Key": f"call-{uuid.uuid4()}"}
    first = await intake.post("/v1/complaints/hotline", json=hotline_body(), headers=keys["hotline"] | key)
    replays = [
        await intake.post("/v1/complaints/hotline", json=hotline_body(), headers=keys["hotline"] | key)
        for _ in range(3)
    ]
    assert first.status_code == 202 and {r.status_code for r in replays} == {202}
    assert {r.json()["case_id"] for r in replays} == {first.json()["case_id"]}
    assert {r.headers["Idempotent-Replayed"] for r in replays} == {"true"}
    # The replays read the recorded answer: Kafka holds the complaint once, not once per post.
    records = await complaints(1, settle_s=1.5)
    assert [r.key for r in records] == [first.json()["case_id"].encode()]


async def test_same_key_different_body_is_a_conflict(intake, complaints, keys, hotline_body) -> None:
    key = {"Idempotency-Key": f"call-{uuid.uuid4()}"}
    first = await intake.post("/v1/complaints/hotline", json=hotline_body(), headers=keys["hotline"] | key)
    other = await intake.post(
        "/v1/complaints/hotline",
        json=hotline_body(transcript="另一件事：滤芯"),
        headers=keys["hotline"] | key,
    )
    assert first.status_code == 202
    assert other.status_code == 409
    assert first.json()["case_id"] in other.json()["detail"]
    assert len(await complaints(1, settle_s=1.5)) == 1


async def test_dealer_ticket_id_is_a_natural_key(intake, complaints, keys, dealer_body) -> None:
    first = await intake.post("/v1/complaints/dealer", json=dealer_body(), headers=keys["dealer"])
    # Re-posted with another header key and the JSON keys in another order: still the same ticket.
    reordered = dict(reversed(list(dealer_body().items())))
    again = await intake.post(
        "/v1/complaints/dealer", json=reordered, headers=keys["dealer"] | {"Idempotency-Key": "whatever"}
    )
    changed = await intake.post(
        "/v1/complaints/dealer", json=dealer_body(description="完全不同的问题"), headers=keys["dealer"]
    )
    other_ticket = await intake.post(
        "/v1/complaints/dealer", json=dealer_body(ticket_id="T-9"), headers=keys["dealer"]
    )
    assert first.json()["case_id"] == again.json()["case_id"]
    assert changed.status_code == 409
    assert other_ticket.status_code == 202 and other_ticket.json()["case_id"] != first.json()["case_id"]
    records = await complaints(2, settle_s=1.5)
    assert sorted(r.key for r in records) == sorted(
        [first.json()["case_id"].encode(), other_ticket.json()["case_id"].encode()]
    )


async def test_concurrent_retries_make_one_case(intake, complaints, keys, hotline_body) -> None:
    key = {"Idempotency-Key": f"burst-{uuid.uuid4()}"}
    responses = await asyncio.gather(
        *(
            intake.post("/v1/complaints/hotline", json=hotline_body(), headers=keys["hotline"] | key)
            for _ in range(8)
        )
    )
    assert {r.status_code for r in responses} == {202}
    assert len({r.json()["case_id"] for r in responses}) == 1
    records = await complaints(1, settle_s=1.0)
    # Retries racing the first publish may republish the same event (same event id; dispatch
    # deduplicates by it). What must never happen is a second case id.
    assert {r.key for r in records} == {responses[0].json()["case_id"].encode()}
    assert len({r.envelope().event_id for r in records}) == 1
    # Once acknowledged, a retry reads the recorded answer and publishes nothing.
    later = await intake.post("/v1/complaints/hotline", json=hotline_body(), headers=keys["hotline"] | key)
    assert later.json()["case_id"] == responses[0].json()["case_id"]
    assert len(await complaints(len(records), settle_s=1.5)) == len(records)


async def test_keys_are_scoped_per_channel_principal(intake, complaints, keys, hotline_body) -> None:
    key = {"Idempotency-Key": f"shared-{uuid.uuid4()}"}
    a = await intake.post("/v1/complaints/hotline", json=hotline_body(), headers=keys["hotline"] | key)
    b = await intake.post(
        "/v1/complaints/online",
        json={"name": "张先生", "phone": "13900001111", "description": "新风安装后风管接口漏水"},
        headers=key,
    )
    assert a.status_code == b.status_code == 202
    assert a.json()["case_id"] != b.json()["case_id"]
