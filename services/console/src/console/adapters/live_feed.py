"""Live updates: every event about a case, from Kafka to the browsers watching that case.

One plain aiokafka consumer per console process, WITHOUT a consumer group: it assigns itself every
partition of the watched topics and starts at their end, so each console instance sees every new
event (a group would split them between instances) and commits nothing (a browser only wants what
happens from now on; what happened before is in dispatch's timeline, which the page fetches).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from console.config import ConsoleSettings
from console.labels import live_line, pair
from shared.contracts.envelope import InvalidMessage, decode
from shared.contracts.registry import load_registry
from shared.kafka.admin import ensure_topics
from shared.logging import get_logger
from shared.metrics import EVENTS_CONSUMED
from shared.periods import CHINA

log = get_logger(__name__)

WATCHED = (
    "dispatch.cases.v1",
    "warranty.decisions.v1",
    "warranty.remedies.v1",
    "parts.requests.v1",
    "engineering.case-work.v1",
)
QUEUE_SIZE = 100


@dataclass(frozen=True)
class CaseEvent:
    """What the browser is told: which event, when, from whom, and a short bilingual line."""

    case_id: str
    event_id: str
    event_type: str
    occurred_at: str
    producer: str
    zh: str
    en: str

    def as_dict(self) -> dict[str, Any]:
        moment = datetime.fromisoformat(self.occurred_at).astimezone(CHINA)
        producer_zh, producer_en = pair("producer", self.producer)
        return {
            "event_id": self.event_id,
            "event_type": self.event_type,
            "occurred_at": self.occurred_at,
            "at": moment.strftime("%Y-%m-%d %H:%M"),
            "producer": self.producer,
            "producer_zh": producer_zh,
            "producer_en": producer_en,
            "zh": self.zh,
            "en": self.en,
        }


class LiveFeed:
    def __init__(self, settings: ConsoleSettings) -> None:
        self.settings = settings
        registry = load_registry()
        self.specs = [registry.get(name) for name in WATCHED]
        self.topics = [settings.topic(name) for name in WATCHED]
        self._watchers: dict[str, set[asyncio.Queue[CaseEvent | None]]] = defaultdict(set)
        self.ready = asyncio.Event()
        self.seen = 0

    # ------------------------------------------------------------------ browsers

    def watch(self, case_id: str) -> asyncio.Queue[CaseEvent | None]:
        queue: asyncio.Queue[CaseEvent | None] = asyncio.Queue(QUEUE_SIZE)
        self._watchers[case_id].add(queue)
        return queue

    def unwatch(self, case_id: str, queue: asyncio.Queue[CaseEvent | None]) -> None:
        watchers = self._watchers.get(case_id)
        if watchers is not None:
            watchers.discard(queue)
            if not watchers:
                del self._watchers[case_id]

    @property
    def watching(self) -> int:
        return sum(len(w) for w in self._watchers.values())

    def deliver(self, event: CaseEvent) -> int:
        """Hand an event to every browser watching its case; a browser that stopped reading loses it."""
        delivered = 0
        for queue in list(self._watchers.get(event.case_id, ())):
            try:
                queue.put_nowait(event)
                delivered += 1
            except asyncio.QueueFull:
                log.warning(
                    "live stream not keeping up; event dropped for one browser", case_id=event.case_id
                )
        return delivered

    def close_all(self) -> None:
        """Tell every open stream to end (the browser reconnects to another instance or later)."""
        for watchers in self._watchers.values():
            for queue in watchers:
                try:
                    queue.put_nowait(None)
                except asyncio.QueueFull:
                    pass

    # ------------------------------------------------------------------ Kafka

    def on_message(self, topic: str, key: bytes | None, value: bytes | None) -> CaseEvent | None:
        try:
            env = decode(value)
        except InvalidMessage as exc:
            # Not ours to dead-letter (we are not a consumer of record); the owner's consumers will.
            log.warning("unreadable event skipped by the live feed", topic=topic, error=str(exc)[:200])
            return None
        case_id = env.correlation_id or (key.decode(errors="replace") if key else "")
        zh, en = live_line(env.event_type, env.payload)
        event = CaseEvent(
            case_id=case_id,
            event_id=str(env.event_id),
            event_type=env.event_type,
            occurred_at=env.occurred_at.isoformat(),
            producer=env.producer,
            zh=zh,
            en=en,
        )
        self.seen += 1
        EVENTS_CONSUMED.labels("console", topic, env.event_type, "live").inc()
        self.deliver(event)
        return event

    async def run(self) -> None:
        """The background job: assign every partition, start at the end, fan out until cancelled."""
        s = self.settings
        # The owners create these topics; creating a missing one here (same registry settings) only
        # means the console may start before them.
        await ensure_topics(s, self.specs)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=s.kafka_bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="latest",
            client_id=f"{s.service_name}-live-{uuid.uuid4().hex[:6]}",
            # Idle, the broker holds a fetch this long and the fetcher looks around once a second
            # (records still come at once: an idle console otherwise wakes several times a second).
            fetch_max_wait_ms=s.kafka_fetch_max_wait_ms,
            consumer_timeout_ms=1000,
        )
        await consumer.start()
        try:
            partitions = [TopicPartition(t, p) for t in self.topics for p in await _partitions(consumer, t)]
            consumer.assign(partitions)
            await consumer.seek_to_end(*partitions)
            for tp in partitions:
                await consumer.position(tp)  # resolve "the end" now, not at the first fetch
            self.ready.set()
            log.info("live feed started", topics=self.topics, partitions=len(partitions))
            while True:
                batch = await consumer.getmany(timeout_ms=10_000, max_records=500)
                for tp, messages in batch.items():
                    for m in messages:
                        self.on_message(tp.topic, m.key, m.value)
        finally:
            self.ready.clear()
            await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str, timeout_s: float = 30.0) -> set[int]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        found = consumer.partitions_for_topic(topic)
        if found:
            return found
        if loop.time() > deadline:
            raise TimeoutError(f"topic {topic} has no partitions after {timeout_s}s")
        await consumer._client.force_metadata_update()
        await asyncio.sleep(0.2)
