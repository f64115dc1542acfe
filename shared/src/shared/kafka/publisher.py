"""The durable event publisher: acks=all, idempotence on, and a bounded wait for the broker's ack."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.structs import RecordMetadata

from shared.config import ServiceSettings
from shared.contracts.envelope import Envelope, encode, headers_for
from shared.contracts.registry import MissingKey, TopicRegistry, UnknownEventType, load_registry
from shared.kafka.admin import ensure_topics
from shared.logging import get_logger
from shared.metrics import EVENTS_PRODUCED

log = get_logger(__name__)


class PublishFailed(Exception):
    """The broker did not acknowledge the event in time; nothing may be reported as accepted."""


class NotPublishable(ValueError):
    """The registry does not let this service publish this event (a bug: nothing is retried)."""


class EventPublisher:
    """Publishes envelopes to the topic the registry names for their event type, keyed by the payload
    field the registry names (the case id, the project id), and only the events this service owns.

    Starts lazily and retries its start on the next publish, so a service that came up while Kafka
    was down recovers on its own once the broker is back.
    """

    def __init__(self, settings: ServiceSettings, *, registry: TopicRegistry | None = None) -> None:
        self._settings = settings
        self._registry = registry or load_registry()
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    def _new_producer(self) -> AIOKafkaProducer:
        timeout_ms = int(self._settings.kafka_ack_timeout_s * 1000)
        return AIOKafkaProducer(
            bootstrap_servers=self._settings.kafka_bootstrap_servers,
            client_id=f"{self._settings.service_name}-publisher",
            acks="all",
            enable_idempotence=True,
            # A few ms of linger lets concurrent requests share one produce request.
            linger_ms=2,
            request_timeout_ms=timeout_ms,
            retry_backoff_ms=100,
        )

    async def start(self) -> None:
        """Connect now; raises PublishFailed when the broker cannot be reached."""
        async with self._lock:
            if self._producer is not None:
                return
            producer = self._new_producer()
            try:
                await asyncio.wait_for(producer.start(), self._settings.kafka_ack_timeout_s)
                # The topics this service writes exist before its first event (created from the registry).
                await ensure_topics(self._settings, self._registry.owned_by(self._settings.service_name))
            except (KafkaError, OSError, TimeoutError) as exc:
                await _quietly_stop(producer)
                raise PublishFailed(
                    f"Kafka unreachable at {self._settings.kafka_bootstrap_servers}: {exc!r}"
                ) from exc
            self._producer = producer

    async def stop(self) -> None:
        async with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            await _quietly_stop(producer)

    def route(self, envelope: Envelope) -> tuple[str, bytes]:
        """The topic (without prefix) and message key of an event, as topics.yaml declares them.

        Refuses an event version the registry does not list, and an event of a topic another
        service owns: one writer per topic, and no event consumers have no schema for.
        """
        service = self._settings.service_name
        try:
            spec = self._registry.event_spec(envelope.event_type, envelope.schema_version)
        except UnknownEventType as exc:
            raise NotPublishable(f"{service} may not publish {exc.args[0]}: not in topics.yaml") from None
        topic = self._registry.topic_of(envelope.event_type)
        if topic.owner != service:
            raise NotPublishable(
                f"{service} may not publish {envelope.event_type}: {topic.name} belongs to {topic.owner} (topics.yaml)"
            )
        try:
            key = spec.key_of(envelope.payload)
        except MissingKey as exc:
            raise NotPublishable(str(exc)) from None
        return topic.name, key.encode()

    async def publish(self, envelope: Envelope) -> RecordMetadata:
        """Send and wait for the broker's acknowledgement (acks=all)."""
        topic, key = self.route(envelope)
        meta = await self.send(self._settings.topic(topic), key, encode(envelope), headers_for(envelope))
        EVENTS_PRODUCED.labels(self._settings.service_name, envelope.event_type).inc()
        return meta

    async def publish_many(self, envelopes: Sequence[Envelope]) -> None:
        """Send a batch in order and wait for every acknowledgement together: one wait for the batch
        instead of one per event. The idempotent producer keeps the order of each partition."""
        if not envelopes:
            return
        routes = [self.route(envelope) for envelope in envelopes]  # refused before anything is sent
        if self._producer is None:
            await self.start()
        assert self._producer is not None
        try:
            async with asyncio.timeout(self._settings.kafka_ack_timeout_s + 1):
                pending = []
                for envelope, (topic, key) in zip(envelopes, routes, strict=True):
                    pending.append(
                        await self._producer.send(
                            self._settings.topic(topic),
                            value=encode(envelope),
                            key=key,
                            headers=headers_for(envelope),
                        )
                    )
                await asyncio.gather(*pending)
        except (KafkaError, OSError, TimeoutError) as exc:
            log.warning("batch publish failed", events=len(envelopes), error=repr(exc))
            raise PublishFailed(
                f"Kafka did not acknowledge a batch of {len(envelopes)} events: {exc!r}"
            ) from exc
        for envelope in envelopes:
            EVENTS_PRODUCED.labels(self._settings.service_name, envelope.event_type).inc()

    async def send(
        self, topic: str, key: bytes | None, value: bytes, headers: Sequence[tuple[str, bytes]] = ()
    ) -> RecordMetadata:
        """Send raw bytes (dead letters, replays) with the same durability as publish()."""
        if self._producer is None:
            await self.start()
        assert self._producer is not None
        try:
            # asyncio.timeout, not wait_for: no extra task per event on the hot path.
            async with asyncio.timeout(self._settings.kafka_ack_timeout_s + 1):
                fut = await self._producer.send(topic, value=value, key=key, headers=list(headers))
                return await fut
        except (KafkaError, OSError, TimeoutError) as exc:
            log.warning("publish failed", topic=topic, error=repr(exc))
            raise PublishFailed(f"Kafka did not acknowledge the event on {topic}: {exc!r}") from exc

    async def ready(self) -> bool:
        """True when the broker answers a metadata request now."""
        try:
            if self._producer is None:
                await self.start()
            assert self._producer is not None
            await asyncio.wait_for(
                self._producer.client.fetch_all_metadata(), self._settings.kafka_ack_timeout_s
            )
            return True
        except Exception:
            return False


async def _quietly_stop(producer: AIOKafkaProducer) -> None:
    try:
        await asyncio.wait_for(producer.stop(), 5)
    except Exception:
        pass
