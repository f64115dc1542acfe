"""The topics as Kafka itself reports them (admin API, end offsets, consumer-group offsets).

Nothing here counts inside the services: rates come from end offsets sampled over time, lag from the
groups' committed offsets against the end offsets, dead letters from the dead-letter topics.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.partitioner import DefaultPartitioner
from prometheus_client import Gauge

from shared.contracts.envelope import InvalidMessage, decode
from shared.contracts.registry import TopicRegistry, load_registry


@dataclass
class KafkaView:
    """Short-lived clients per call: operations tools are run now and then, not on a hot path."""

    bootstrap: str
    prefix: str = ""
    registry: TopicRegistry = field(default_factory=load_registry)

    def physical(self, name: str) -> str:
        return f"{self.prefix}{name}"

    async def _consumer(self) -> AIOKafkaConsumer:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False, group_id=None)
        await consumer.start()
        return consumer

    async def _admin(self) -> AIOKafkaAdminClient:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        return admin

    async def end_offsets(self) -> dict[str, dict[int, tuple[int, int]]]:
        """Per registry topic that exists: partition -> (first offset, end offset)."""
        consumer = await self._consumer()
        try:
            out: dict[str, dict[int, tuple[int, int]]] = {}
            await consumer._client.force_metadata_update()
            for spec in self.registry.topics:
                name = self.physical(spec.name)
                parts = consumer.partitions_for_topic(name)
                if not parts:
                    continue
                tps = [TopicPartition(name, p) for p in sorted(parts)]
                ends = await consumer.end_offsets(tps)
                starts = await consumer.beginning_offsets(tps)
                out[spec.name] = {tp.partition: (starts[tp], ends[tp]) for tp in tps}
            return out
        finally:
            await consumer.stop()

    async def average_sizes(self, per_partition: int = 20) -> dict[str, float]:
        """Mean value size of the last few messages of each topic (bytes)."""
        consumer = await self._consumer()
        sizes: dict[str, float] = {}
        try:
            offsets = await self.end_offsets()
            for name, parts in offsets.items():
                total, count = 0, 0
                for partition, (first, end) in parts.items():
                    if end <= first:
                        continue
                    tp = TopicPartition(self.physical(name), partition)
                    consumer.assign([tp])
                    consumer.seek(tp, max(first, end - per_partition))
                    for record in await _drain(consumer, tp, end):
                        total += len(record.value or b"")
                        count += 1
                sizes[name] = total / count if count else 0.0
        finally:
            await consumer.stop()
        return sizes

    async def groups(self) -> list[str]:
        admin = await self._admin()
        try:
            listed = await admin.list_consumer_groups()
        finally:
            await admin.close()
        # Only the services' own groups under this prefix (other prefixes belong to other environments).
        services = {c for t in self.registry.topics for c in t.consumers} | {t.owner for t in self.registry.topics}
        return sorted(g[0] for g in listed if g[0].startswith(self.prefix) and g[0].removeprefix(self.prefix) in services)

    async def lag(self) -> list[dict[str, Any]]:
        """Per group, topic and partition: committed offset, end offset, lag."""
        admin = await self._admin()
        consumer = await self._consumer()
        rows: list[dict[str, Any]] = []
        try:
            for group in await self.groups():
                committed = await admin.list_consumer_group_offsets(group)
                wanted = [tp for tp in committed if tp.topic.startswith(self.prefix)]
                if not wanted:
                    continue
                ends = await consumer.end_offsets(wanted)
                for tp in sorted(wanted, key=lambda t: (t.topic, t.partition)):
                    offset = committed[tp].offset
                    rows.append(
                        {
                            "group": group.removeprefix(self.prefix),
                            "topic": tp.topic.removeprefix(self.prefix),
                            "partition": tp.partition,
                            "committed": offset,
                            "end": ends[tp],
                            "lag": max(0, ends[tp] - max(offset, 0)),
                        }
                    )
        finally:
            await consumer.stop()
            await admin.close()
        return rows

    async def dead_letters(self, service: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        consumer = await self._consumer()
        out: list[dict[str, Any]] = []
        try:
            await consumer._client.force_metadata_update()
            for spec in self.registry.topics:
                if not spec.dead_letters or (service and spec.owner != service):
                    continue
                name = self.physical(spec.name)
                parts = consumer.partitions_for_topic(name) or set()
                for partition in sorted(parts):
                    tp = TopicPartition(name, partition)
                    end = (await consumer.end_offsets([tp]))[tp]
                    first = (await consumer.beginning_offsets([tp]))[tp]
                    if end <= first:
                        continue
                    consumer.assign([tp])
                    consumer.seek(tp, max(first, end - limit))
                    for r in await _drain(consumer, tp, end):
                        headers = {k: v.decode(errors="replace") for k, v in (r.headers or ())}
                        out.append(
                            {
                                "dead_letter_topic": spec.name,
                                "service": spec.owner,
                                "partition": r.partition,
                                "offset": r.offset,
                                "key": r.key.decode(errors="replace") if r.key else None,
                                "original_topic": headers.get("original_topic"),
                                "original_offset": headers.get("original_offset"),
                                "original_event_id": headers.get("original_event_id") or None,
                                "exc_class": headers.get("exc_class"),
                                "exc_msg": headers.get("exc_msg"),
                                "attempts": headers.get("attempts"),
                                "failed_at": headers.get("failed_at"),
                                "size": len(r.value or b""),
                            }
                        )
        finally:
            await consumer.stop()
        return out

    async def dead_letter_record(self, dlq_topic: str, partition: int, offset: int) -> Any:
        consumer = await self._consumer()
        try:
            tp = TopicPartition(self.physical(dlq_topic), partition)
            consumer.assign([tp])
            consumer.seek(tp, offset)
            records = await _drain(consumer, tp, offset + 1)
            return records[0] if records else None
        finally:
            await consumer.stop()

    async def case_events(self, case_id: str, per_topic: int = 200) -> list[dict[str, Any]]:
        """The last events of one case across every topic keyed by case, in time order."""
        consumer = await self._consumer()
        partitioner = DefaultPartitioner()
        found: list[dict[str, Any]] = []
        key = case_id.encode()
        try:
            await consumer._client.force_metadata_update()
            for spec in self.registry.topics:
                if spec.key != "case_id":
                    continue
                name = self.physical(spec.name)
                parts = sorted(consumer.partitions_for_topic(name) or ())
                if not parts:
                    continue
                # Kafka's own partitioner says where this key lives: read one partition, not the topic.
                tp = TopicPartition(name, partitioner(key, parts, parts))
                end = (await consumer.end_offsets([tp]))[tp]
                first = (await consumer.beginning_offsets([tp]))[tp]
                consumer.assign([tp])
                consumer.seek(tp, max(first, end - per_topic))
                for r in await _drain(consumer, tp, end):
                    if r.key != key:
                        continue
                    try:
                        env = decode(r.value)
                        found.append({"topic": spec.name, "offset": r.offset, "event_type": env.event_type,
                                      "event_id": str(env.event_id), "occurred_at": env.occurred_at.isoformat(),
                                      "producer": env.producer})
                    except InvalidMessage as exc:
                        found.append({"topic": spec.name, "offset": r.offset, "event_type": "(unreadable)",
                                      "error": str(exc), "occurred_at": ""})
        finally:
            await consumer.stop()
        return sorted(found, key=lambda e: (e["occurred_at"], e["topic"], e["offset"]))


async def _drain(consumer: AIOKafkaConsumer, tp: TopicPartition, end: int, timeout_s: float = 10.0) -> list[Any]:
    """Read `tp` from its current position up to `end` (exclusive)."""
    out: list[Any] = []
    deadline = time.monotonic() + timeout_s
    while await consumer.position(tp) < end and time.monotonic() < deadline:
        batch = await consumer.getmany(tp, timeout_ms=500)
        out.extend(batch.get(tp, []))
    return [r for r in out if r.offset < end]


TOPIC_END_OFFSET = Gauge("yingde_topic_end_offset", "Sum of a topic's partition end offsets (messages written).",
                         ["topic"])
CONSUMER_LAG = Gauge("yingde_consumer_lag", "Messages a consumer group has not yet committed, per partition.",
                     ["group", "topic", "partition"])


@dataclass
class Sampler:
    """End offsets and lag sampled over time: message rates, and whether each lag is falling."""

    view: KafkaView
    window: int = 12
    offsets: deque[tuple[float, dict[str, int]]] = field(default_factory=deque)
    lags: deque[tuple[float, dict[tuple[str, str, int], int]]] = field(default_factory=deque)

    async def sample(self) -> None:
        now = time.monotonic()
        totals = {name: sum(end for _, end in parts.values()) for name, parts in (await self.view.end_offsets()).items()}
        self.offsets.append((now, totals))
        lag = {(r["group"], r["topic"], r["partition"]): r["lag"] for r in await self.view.lag()}
        self.lags.append((now, lag))
        # Exported for Prometheus too, so the dashboard and alerts read the same numbers as the page.
        for name, total in totals.items():
            TOPIC_END_OFFSET.labels(name).set(total)
        for (group, topic, partition), value in lag.items():
            CONSUMER_LAG.labels(group, topic, str(partition)).set(value)
        while len(self.offsets) > self.window:
            self.offsets.popleft()
        while len(self.lags) > self.window:
            self.lags.popleft()

    def rates(self) -> dict[str, float]:
        """Messages per second per topic over the sampled window."""
        if len(self.offsets) < 2:
            return {}
        (t0, first), (t1, last) = self.offsets[0], self.offsets[-1]
        span = max(t1 - t0, 1e-6)
        return {name: (last[name] - first.get(name, 0)) / span for name in last}

    def trend(self, group: str, topic: str, partition: int) -> str:
        """falling, rising, steady or unknown (fewer than two samples)."""
        points = [s.get((group, topic, partition)) for _, s in self.lags]
        points = [p for p in points if p is not None]
        if len(points) < 2:
            return "unknown"
        if points[-1] < points[0]:
            return "falling"
        if points[-1] > points[0]:
            return "rising"
        return "steady"
