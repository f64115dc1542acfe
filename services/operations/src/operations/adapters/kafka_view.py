"""The topics as Kafka itself reports them (admin API, end offsets, consumer-group offsets).

Nothing here counts inside the services: rates come from end offsets sampled over time, lag from the
groups' committed offsets against the end offsets, dead letters from the dead-letter topics.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment
from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner
from prometheus_client import Gauge

from shared.contracts.envelope import InvalidMessage, decode
from shared.contracts.registry import TopicRegistry, load_registry
from shared.logging import get_logger

log = get_logger(__name__)


@dataclass
class KafkaView:
    """What Kafka reports about the topics and groups. Questions that change nothing (offsets, groups)
    go through one long-lived consumer and admin client, since the sampler asks them every few seconds
    and a fresh pair of connections each time cost more than the answers; reads that assign and seek
    get a short-lived consumer of their own."""

    bootstrap: str
    prefix: str = ""
    registry: TopicRegistry = field(default_factory=load_registry)
    _probe: tuple[AIOKafkaConsumer, AIOKafkaAdminClient] | None = field(default=None, init=False, repr=False)
    _probe_made: asyncio.Lock = field(default_factory=asyncio.Lock, init=False, repr=False)

    def physical(self, name: str) -> str:
        return f"{self.prefix}{name}"

    async def _consumer(self) -> AIOKafkaConsumer:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False, group_id=None)
        try:
            await consumer.start()
        except BaseException:
            await _stop(consumer)  # a start cut short (broker gone, caller cancelled) leaves nothing open
            raise
        return consumer

    async def _admin(self) -> AIOKafkaAdminClient:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        return admin

    @asynccontextmanager
    async def _probing(self) -> AsyncIterator[tuple[AIOKafkaConsumer, AIOKafkaAdminClient]]:
        """The long-lived pair, made on first use and made again after a failure (a lost broker, an
        answer aiokafka could not read, which also drops its connection)."""
        async with self._probe_made:
            if self._probe is None:
                consumer = await self._consumer()
                try:
                    self._probe = (consumer, await self._admin())
                except BaseException:
                    await _stop(consumer)
                    raise
            probe = self._probe
        try:
            yield probe
        except (KafkaError, OSError, ValueError):
            await self._drop_probe(probe)
            raise

    async def _drop_probe(self, probe: tuple[AIOKafkaConsumer, AIOKafkaAdminClient]) -> None:
        if self._probe is probe:
            self._probe = None
        consumer, admin = probe
        await _stop(consumer)
        with contextlib.suppress(Exception):
            await admin.close()

    async def close(self) -> None:
        """Close the long-lived clients (at shutdown)."""
        if self._probe is not None:
            await self._drop_probe(self._probe)

    async def end_offsets(self) -> dict[str, dict[int, tuple[int, int]]]:
        """Per registry topic that exists: partition -> (first offset, end offset)."""
        async with self._probing() as (consumer, admin):
            out: dict[str, dict[int, tuple[int, int]]] = {}
            # Which topics exist and their partitions come from a metadata request naming them, not from
            # the long-lived consumer's own metadata: once a partition's leader was unknown (a broker
            # restarting) aiokafka narrows that consumer's metadata to the topics it was then asked about,
            # and every other topic (the dead letters) looked absent from then on.
            described = {
                t["topic"]: sorted(p["partition"] for p in t["partitions"])
                for t in await admin.describe_topics(
                    [self.physical(spec.name) for spec in self.registry.topics]
                )
                if t["error_code"] == 0 and t["partitions"]
            }
            for spec in self.registry.topics:
                name = self.physical(spec.name)
                if name not in described:
                    continue
                tps = [TopicPartition(name, p) for p in described[name]]
                ends = await consumer.end_offsets(tps)
                starts = await consumer.beginning_offsets(tps)
                out[spec.name] = {tp.partition: (starts[tp], ends[tp]) for tp in tps}
            return out

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
            await _stop(consumer)
        return sizes

    async def groups(self) -> list[str]:
        async with self._probing() as (_, admin):
            listed = await admin.list_consumer_groups()
        # Only the services' own groups under this prefix (other prefixes belong to other environments).
        services = {c for t in self.registry.topics for c in t.consumers} | {
            t.owner for t in self.registry.topics
        }
        return sorted(
            g[0]
            for g in listed
            if g[0].startswith(self.prefix) and g[0].removeprefix(self.prefix) in services
        )

    async def assigned(self, groups: list[str]) -> dict[str, set[TopicPartition]]:
        """The partitions each group's live members hold now (as Kafka's consumer-group tool shows them)."""
        if not groups:
            return {}
        try:
            async with self._probing() as (_, admin):
                # One group per request: aiokafka 0.14 misreads Kafka 4.1's answer describing several
                # groups at once ("Buffer underrun decoding string", then drops the connection), and
                # reads each group's answer alone correctly (reproduced on this stack, 2026-12-01).
                responses = [r for g in groups for r in await admin.describe_consumer_groups([g])]
        except (ValueError, KafkaError) as exc:
            # Should a description still be unreadable, the view shows what the groups committed on,
            # and says so, rather than no lag at all.
            log.warning(
                "consumer group descriptions unreadable; lag from committed offsets only", error=repr(exc)
            )
            return {}
        out: dict[str, set[TopicPartition]] = {}
        for response in responses:
            for group in response.to_object()["groups"]:
                held = out.setdefault(group["group"], set())
                if group["protocol_type"] != "consumer":
                    continue
                for member in group["members"]:
                    if member["member_assignment"]:
                        held.update(
                            ConsumerProtocolMemberAssignment.decode(member["member_assignment"]).partitions()
                        )
        return out

    async def lag(self) -> list[dict[str, Any]]:
        """Per group, topic and partition: committed offset, end offset, lag.

        Every partition a group has committed on or holds now: a partition held but never committed
        (a consumer stuck on its first message) lags by everything in it, and shows no committed offset.
        """
        groups = await self.groups()
        held = await self.assigned(groups)
        rows: list[dict[str, Any]] = []
        async with self._probing() as (consumer, admin):
            for group in groups:
                committed = {
                    tp: meta.offset
                    for tp, meta in (await admin.list_consumer_group_offsets(group)).items()
                    if meta.offset >= 0
                }
                wanted = sorted(
                    {tp for tp in (*committed, *held.get(group, ())) if tp.topic.startswith(self.prefix)},
                    key=lambda t: (t.topic, t.partition),
                )
                if not wanted:
                    continue
                ends = await consumer.end_offsets(wanted)
                starts = await consumer.beginning_offsets(wanted)
                for tp in wanted:
                    offset = committed.get(tp)
                    rows.append(
                        {
                            "group": group.removeprefix(self.prefix),
                            "topic": tp.topic.removeprefix(self.prefix),
                            "partition": tp.partition,
                            "committed": offset,
                            "end": ends[tp],
                            # Without a commit, everything still in the partition waits.
                            "lag": max(0, ends[tp] - (offset if offset is not None else starts[tp])),
                            "assigned": tp in held.get(group, ()),
                        }
                    )
        return rows

    async def dead_letters(self, service: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        # Every topic's partitions first: once the consumer is assigned one, it knows no other topic.
        bounds = await self.dead_letter_bounds()
        held = [
            (spec, partition, first, end)
            for spec in self.registry.topics
            if spec.name in bounds and (not service or spec.owner == service)
            for partition, (first, end) in sorted(bounds[spec.name].items())
            if end > first
        ]
        out: list[dict[str, Any]] = []
        if not held:
            return out
        consumer = await self._consumer()
        try:
            for spec, partition, first, end in held:
                tp = TopicPartition(self.physical(spec.name), partition)
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
            await _stop(consumer)
        return out

    async def dead_letter_bounds(self) -> dict[str, dict[int, tuple[int, int]]]:
        """Per dead-letter topic that exists: partition -> (first offset, end offset)."""
        offsets = await self.end_offsets()
        return {name: parts for name, parts in offsets.items() if self.registry.get(name).dead_letters}

    async def dead_letter_record(self, dlq_topic: str, partition: int, offset: int) -> Any:
        """The dead letter at a position the caller has checked exists (see dead_letter_bounds)."""
        consumer = await self._consumer()
        try:
            tp = TopicPartition(self.physical(dlq_topic), partition)
            consumer.assign([tp])
            consumer.seek(tp, offset)
            records = await _drain(consumer, tp, offset + 1)
            return records[0] if records else None
        finally:
            await _stop(consumer)

    async def case_events(self, case_id: str, limit: int = 500) -> list[dict[str, Any]]:
        """Every event of one case on every topic keyed by case, in time order (the last `limit`).

        Each topic's events of the case are on the one partition Kafka's partitioner gives its key,
        read whole: a case is found however many events of other cases came after it. The complaint
        comes first, so once it is found the other topics are read from shortly before it.
        """
        key = case_id.encode()
        found: list[dict[str, Any]] = []
        since_ms: int | None = None
        specs = sorted(
            (t for t in self.registry.topics if t.key == "case_id"),
            key=lambda t: t.name != "intake.complaints.v1",
        )
        for spec in specs:
            records = await self._keyed(self.physical(spec.name), key, since_ms)
            if spec.name == "intake.complaints.v1" and records:
                since_ms = records[0].timestamp - _CLOCK_SKEW_MS
            found.extend(_case_event(spec.name, r) for r in records)
        return sorted(found, key=lambda e: (e["occurred_at"], e["topic"], e["offset"]))[-limit:]

    async def _keyed(self, topic: str, key: bytes, since_ms: int | None) -> list[Any]:
        """The records of `key` on `topic` (from `since_ms` on), read from the partition that holds it.

        One consumer per topic: assign() narrows a consumer's metadata to the assigned topic, after
        which partitions_for_topic() of the next topic answers None, and that topic was skipped
        (a case showed its complaint and nothing else).
        """
        consumer = await self._consumer()
        try:
            await consumer._client.force_metadata_update()
            parts = sorted(consumer.partitions_for_topic(topic) or ())
            if not parts:
                return []
            tp = TopicPartition(topic, DefaultPartitioner()(key, parts, parts))
            end = (await consumer.end_offsets([tp]))[tp]
            start = (await consumer.beginning_offsets([tp]))[tp]
            if since_ms is not None:
                at = (await consumer.offsets_for_times({tp: since_ms}))[tp]
                start = at.offset if at is not None else end
            consumer.assign([tp])
            consumer.seek(tp, start)
            return [r for r in await _drain(consumer, tp, end) if r.key == key]
        finally:
            await _stop(consumer)


# Producers' clocks differ a little: events about a case are read from this long before its complaint.
_CLOCK_SKEW_MS = 3600 * 1000


def _case_event(topic: str, r: Any) -> dict[str, Any]:
    try:
        env = decode(r.value)
    except InvalidMessage as exc:
        return {
            "topic": topic,
            "offset": r.offset,
            "event_type": "(unreadable)",
            "error": str(exc),
            "occurred_at": "",
        }
    return {
        "topic": topic,
        "offset": r.offset,
        "event_type": env.event_type,
        "event_id": str(env.event_id),
        "occurred_at": env.occurred_at.isoformat(),
        "producer": env.producer,
        "causation_id": str(env.causation_id) if env.causation_id else None,
    }


async def _stop(consumer: AIOKafkaConsumer) -> None:
    """Stop a short-lived consumer. aiokafka's stop() soon after start() can raise the CancelledError
    of its own offsets task; only a cancellation of the caller is passed on."""
    try:
        await consumer.stop()
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise


async def _drain(consumer: AIOKafkaConsumer, tp: TopicPartition, end: int, idle_s: float = 10.0) -> list[Any]:
    """Read `tp` from its current position up to `end` (exclusive), giving up only when nothing
    arrives for `idle_s` (a long partition takes as long as it takes)."""
    out: list[Any] = []
    idle_since = time.monotonic()
    while await consumer.position(tp) < end and time.monotonic() - idle_since < idle_s:
        batch = (await consumer.getmany(tp, timeout_ms=500)).get(tp, [])
        if batch:
            out.extend(batch)
            idle_since = time.monotonic()
    return [r for r in out if r.offset < end]


TOPIC_END_OFFSET = Gauge(
    "yingde_topic_end_offset", "Sum of a topic's partition end offsets (messages written).", ["topic"]
)
CONSUMER_LAG = Gauge(
    "yingde_consumer_lag",
    "Messages a consumer group has not yet committed, per partition.",
    ["group", "topic", "partition"],
)


@dataclass
class Sampler:
    """End offsets and lag sampled over time: message rates, and whether each lag is falling."""

    view: KafkaView
    window: int = 12
    offsets: deque[tuple[float, dict[str, int]]] = field(default_factory=deque)
    lags: deque[tuple[float, dict[tuple[str, str, int], int]]] = field(default_factory=deque)

    async def sample(self) -> None:
        now = time.monotonic()
        totals = {
            name: sum(end for _, end in parts.values())
            for name, parts in (await self.view.end_offsets()).items()
        }
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
