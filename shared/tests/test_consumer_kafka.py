"""The consumer pattern on the real broker: handling, dead letters, and resuming after a restart."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from shared.config import ServiceSettings
from shared.contracts.complaints import ComplaintReceived
from shared.contracts.envelope import make_envelope
from shared.contracts.registry import load_registry
from shared.kafka.consumer import EventConsumer
from shared.kafka.publisher import EventPublisher
from shared.testing.fixtures import eventually
from shared.testing.kafka import read_topic

pytestmark = pytest.mark.integration

EXAMPLE = load_registry().get("intake.complaints.v1").events[0].examples[0]


def _complaint(case_id: str) -> Any:
    payload = ComplaintReceived.model_validate({**EXAMPLE["payload"], "case_id": case_id})
    return make_envelope(
        payload, event_type="complaint.received", schema_version=1, correlation_id=case_id, producer="intake"
    )


class Harness:
    def __init__(self, isolation) -> None:
        self.intake = isolation.settings(ServiceSettings, service_name="intake")
        self.dispatch = isolation.settings(ServiceSettings, service_name="dispatch")
        self.seen: list[str] = []

    async def handler(self, env, payload: ComplaintReceived) -> None:
        self.seen.append(payload.case_id)

    async def consumer(self) -> tuple[EventConsumer, EventPublisher]:
        publisher = EventPublisher(self.dispatch)
        consumer = EventConsumer(self.dispatch, publisher=publisher)
        consumer.handle("complaint.received", self.handler)
        await consumer.start()
        return consumer, publisher


@pytest.fixture
async def harness(isolation):
    h = Harness(isolation)
    publisher = EventPublisher(h.intake)
    await publisher.start()  # creates intake's topics from the registry
    h.publisher = publisher
    yield h
    await publisher.stop()


async def test_events_are_handled_and_bogus_ones_dead_lettered(harness, isolation) -> None:
    consumer, publisher = await harness.consumer()
    try:
        await harness.publisher.publish(_complaint("YD-AAAAAAAAA1"))
        raw = AIOKafkaProducer(bootstrap_servers=isolation.backends.kafka_bootstrap_servers)
        await raw.start()
        try:
            await raw.send_and_wait(isolation.topic("intake.complaints.v1"), b"{not json", key=b"YD-BOGUS")
        finally:
            await raw.stop()
        await harness.publisher.publish(_complaint("YD-AAAAAAAAA2"))
        await eventually(lambda: len(harness.seen) == 2)
        assert sorted(harness.seen) == ["YD-AAAAAAAAA1", "YD-AAAAAAAAA2"]

        [dead] = await read_topic(
            isolation.backends.kafka_bootstrap_servers,
            isolation.topic("dispatch.dead-letters.v1"),
            until=lambda r: len(r) >= 1,
            settle_s=0.5,
        )
        assert dead.key == b"YD-BOGUS" and dead.value == b"{not json"
        assert dead.headers["original_topic"] == b"intake.complaints.v1"
        assert dead.headers["exc_class"] == b"InvalidMessage"
        assert dead.headers["service"] == b"dispatch"
    finally:
        await consumer.stop()
        await publisher.stop()


async def test_a_restarted_consumer_resumes_after_the_last_processed_event(harness) -> None:
    consumer, publisher = await harness.consumer()
    for n in range(3):
        await harness.publisher.publish(_complaint(f"YD-BBBBBBBBB{n}"))
    await eventually(lambda: len(harness.seen) == 3)
    await asyncio.sleep(1.0)  # let the commit interval (0.5 s in tests) pass
    await consumer.stop()
    await publisher.stop()

    await harness.publisher.publish(_complaint("YD-BBBBBBBBB9"))
    consumer, publisher = await harness.consumer()
    try:
        await eventually(lambda: len(harness.seen) == 4)
        await asyncio.sleep(1.0)
        # The same consumer group picked up only what came after its committed offsets.
        assert sorted(harness.seen) == ["YD-BBBBBBBBB0", "YD-BBBBBBBBB1", "YD-BBBBBBBBB2", "YD-BBBBBBBBB9"]
    finally:
        await consumer.stop()
        await publisher.stop()
