"""Reading what services published, straight from the real broker."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.contracts.envelope import Envelope, decode


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes]

    def envelope(self) -> Envelope:
        return decode(self.value)


async def read_topic(
    bootstrap: str,
    topic: str,
    *,
    until: Callable[[list[Record]], bool] | None = None,
    timeout_s: float = 15.0,
    settle_s: float = 0.0,
) -> list[Record]:
    """Every record of `topic` from the beginning, until `until(records)` holds or the timeout.

    With `settle_s`, keep reading that long after `until` holds, to catch unwanted extra records.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id=f"test-reader-{uuid.uuid4().hex[:6]}",
    )
    await consumer.start()
    records: list[Record] = []
    try:
        partitions = await _partitions(consumer, topic, timeout_s)
        consumer.assign([TopicPartition(topic, p) for p in partitions])
        await consumer.seek_to_beginning()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        satisfied_at: float | None = None
        while loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for msgs in batch.values():
                records.extend(
                    Record(m.topic, m.partition, m.offset, m.key, m.value, dict(m.headers or ()))
                    for m in msgs
                )
            if until is None:
                if not batch:
                    break
                continue
            if satisfied_at is None and until(records):
                satisfied_at = loop.time()
            if satisfied_at is not None and loop.time() - satisfied_at >= settle_s:
                break
    finally:
        await consumer.stop()
    return records


async def _partitions(consumer: AIOKafkaConsumer, topic: str, timeout_s: float) -> set[int]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        parts: set[int] | None = consumer.partitions_for_topic(topic)
        if parts:
            return parts
        if loop.time() > deadline:
            raise AssertionError(f"topic {topic} does not exist on the broker")
        await consumer._client.force_metadata_update()
        await asyncio.sleep(0.2)


async def group_lag(bootstrap: str, group: str, topic: str) -> int:
    """How many records of `topic` the consumer group `group` has not committed yet (all, before its
    first commit): 0 means the group has handled everything published so far."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await admin.start()
    await reader.start()
    try:
        partitions = [TopicPartition(topic, p) for p in await _partitions(reader, topic, 15.0)]
        ends = await reader.end_offsets(partitions)
        committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
        return sum(
            end - (committed[tp].offset if tp in committed and committed[tp].offset >= 0 else 0)
            for tp, end in ends.items()
        )
    finally:
        await reader.stop()
        await admin.close()
