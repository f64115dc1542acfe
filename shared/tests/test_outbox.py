"""The outbox on the real store and broker: what a crash or a Kafka outage left behind gets published."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from shared.config import ServiceSettings
from shared.contracts.complaints import ComplaintReceived
from shared.contracts.envelope import Envelope, make_envelope
from shared.contracts.registry import load_registry
from shared.kafka.publisher import EventPublisher, PublishFailed
from shared.locks import KeyedLocks
from shared.outbox import Outbox, outbox_fields, outbox_map
from shared.testing.fixtures import eventually
from shared.testing.kafka import read_topic

pytestmark = pytest.mark.integration

EXAMPLE = load_registry().get("intake.complaints.v1").events[0].examples[0]


def _complaint(case_id: str, text: str) -> Envelope:
    payload = ComplaintReceived.model_validate({**EXAMPLE["payload"], "case_id": case_id, "description": text})
    return make_envelope(
        payload, event_type="complaint.received", schema_version=1, correlation_id=case_id, producer="intake"
    )


class SwitchablePublisher:
    """The real publisher behind a switch that makes it fail the way a broker outage does."""

    def __init__(self, real: EventPublisher) -> None:
        self.real = real
        self.down = False

    async def publish(self, envelope: Envelope) -> Any:
        if self.down:
            raise PublishFailed("broker unreachable (switched off by the test)")
        return await self.real.publish(envelope)


@pytest.fixture
async def kit(isolation):
    settings = isolation.settings(ServiceSettings, service_name="intake")
    publisher = EventPublisher(settings)
    await publisher.start()
    mongo: AsyncMongoClient = AsyncMongoClient(settings.mongodb_url)
    switch = SwitchablePublisher(publisher)
    collection = mongo[settings.mongodb_database]["cases"]
    outbox = Outbox(collection, switch, KeyedLocks())  # type: ignore[arg-type]
    yield outbox, collection, switch, isolation.topic("intake.complaints.v1"), settings.kafka_bootstrap_servers
    await mongo.close()
    await publisher.stop()


async def test_events_a_crash_left_are_published_in_order_by_the_sweep_at_start(kit) -> None:
    outbox, cases, _, topic, bootstrap = kit
    # As a writer that crashed right after its single-document write: events in, nothing published.
    first, second = _complaint("YD-CRASH00001", "第一条"), _complaint("YD-CRASH00001", "第二条")
    await cases.insert_one({"_id": "YD-CRASH00001", "outbox": outbox_map([first, second])})

    relay = asyncio.create_task(outbox.relay_forever(interval_s=0.2, sweep_interval_s=3600))
    try:
        records = await read_topic(bootstrap, topic, until=lambda r: len(r) >= 2, settle_s=0.5)
        assert [r.envelope().event_id for r in records] == [first.event_id, second.event_id]
        doc = await eventually(lambda: _emptied(cases, "YD-CRASH00001"))
        assert doc["outbox"] == {}
    finally:
        relay.cancel()


async def test_a_failed_flush_is_retried_without_waiting_for_a_sweep(kit) -> None:
    outbox, cases, switch, topic, bootstrap = kit
    relay = asyncio.create_task(outbox.relay_forever(interval_s=0.2, sweep_interval_s=3600))  # its one sweep finds nothing
    try:
        await asyncio.sleep(0.3)
        event = _complaint("YD-NETDWN0001", "断网时写入")
        await cases.insert_one({"_id": "YD-NETDWN0001", "outbox": {}})
        await cases.update_one({"_id": "YD-NETDWN0001"}, {"$set": outbox_fields([event])})
        switch.down = True
        with pytest.raises(PublishFailed):
            await outbox.flush("YD-NETDWN0001")
        assert outbox.unpublished == 1

        switch.down = False  # the broker is back: the next retry publishes, long before any sweep
        records = await read_topic(bootstrap, topic, until=lambda r: len(r) >= 1, settle_s=0.5)
        assert [r.envelope().event_id for r in records] == [event.event_id]
        await eventually(lambda: outbox.unpublished == 0 or None)
        assert (await _emptied(cases, "YD-NETDWN0001"))["outbox"] == {}
    finally:
        relay.cancel()


async def _emptied(cases, doc_id: str) -> dict | None:
    doc = await cases.find_one({"_id": doc_id})
    return doc if doc is not None and doc.get("outbox") == {} else None
