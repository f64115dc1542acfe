"""Kafka or the store down: 503, nothing acknowledged, and the same key succeeds once, later, as one case."""

from __future__ import annotations

import socket
import uuid

import pytest
from pymongo import AsyncMongoClient

from intake.entrypoints.http import create_app
from shared.testing.fixtures import running

pytestmark = pytest.mark.integration


def _closed_port() -> int:
    """A local port with nothing listening: connecting is refused at once, like a stopped broker."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_kafka_down_is_503_and_leaves_nothing(
    isolation, intake_settings, complaints, keys, hotline_body
) -> None:
    down = intake_settings(kafka_bootstrap_servers=f"127.0.0.1:{_closed_port()}", kafka_ack_timeout_s=1.0)
    key = {"Idempotency-Key": f"call-{uuid.uuid4()}"}
    async with running(create_app(down)) as client:
        ready = await client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"] == {"kafka": False, "store": True}
        res = await client.post("/v1/complaints/hotline", json=hotline_body(), headers=keys["hotline"] | key)
        assert res.status_code == 503
        assert res.headers["Retry-After"]
        assert "Kafka" in res.json()["detail"]

    # The reservation stays (a timed-out send may still have reached the broker), so the retry
    # below keeps the case id reserved here instead of risking a second case.
    mongo: AsyncMongoClient = AsyncMongoClient(isolation.backends.mongodb_url)
    try:
        reserved = await mongo[down.database_name]["submissions"].find({}).to_list()
    finally:
        await mongo.close()
    assert len(reserved) == 1

    # Kafka is back (the real broker): the retry with the same key is accepted exactly once, under the
    # reserved case id, and a different body under that key is a conflict.
    async with running(create_app(intake_settings())) as client:
        res = await client.post("/v1/complaints/hotline", json=hotline_body(), headers=keys["hotline"] | key)
        again = await client.post(
            "/v1/complaints/hotline", json=hotline_body(), headers=keys["hotline"] | key
        )
        other = hotline_body() | {"transcript": "另一件事：遥控器失灵"}
        conflict = await client.post("/v1/complaints/hotline", json=other, headers=keys["hotline"] | key)
    assert res.status_code == again.status_code == 202
    assert res.json()["case_id"] == again.json()["case_id"] == reserved[0]["case_id"]
    assert conflict.status_code == 409
    # The retry published it (once the broker acknowledged, the replay after it published nothing).
    records = await complaints(1, settle_s=1.5)
    assert [r.key for r in records] == [res.json()["case_id"].encode()]


async def test_store_down_refuses_keyed_complaints_but_not_unkeyed(
    intake_settings, complaints, keys, hotline_body
):
    down = intake_settings(mongodb_url=f"mongodb://127.0.0.1:{_closed_port()}/", mongodb_timeout_s=0.5)
    async with running(create_app(down)) as client:
        keyed = await client.post(
            "/v1/complaints/hotline",
            json=hotline_body(),
            headers=keys["hotline"] | {"Idempotency-Key": "k-1"},
        )
        assert keyed.status_code == 503
        assert "store" in keyed.json()["detail"]
        # Without a key there is nothing to deduplicate: Kafka alone decides.
        unkeyed = await client.post("/v1/complaints/hotline", json=hotline_body(), headers=keys["hotline"])
        assert unkeyed.status_code == 202
    records = await complaints(1, settle_s=1.0)
    assert [r.key for r in records] == [unkeyed.json()["case_id"].encode()]
