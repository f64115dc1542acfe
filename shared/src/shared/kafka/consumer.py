"""The consumer pattern: faust agents that never lose a message to an exception.

Faust acks a message whose handler raised, so nothing may escape an agent. Every message goes
through `EventConsumer.process`, which decides its fate once:

- invalid (unreadable, unknown type, payload failing its model): to the dead letters at once;
- transient (store or broker unreachable): retried with exponential backoff for a time budget,
  then dead-lettered;
- unexpected (a bug): retried a few times, then dead-lettered with the exception named;
- fatal (FatalError, or too many invalid messages in a row after a bad deploy): the process
  stops without committing, so the message is redelivered after the fix.

The offset of a message is committed only after its handler finished (or its dead letter was
acknowledged by Kafka), so a crash at any point redelivers it; handlers are therefore idempotent.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faust
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaTimeoutError,
    NotLeaderForPartitionError,
    RequestTimedOutError,
)
from pymongo.errors import AutoReconnect, ConnectionFailure, NetworkTimeout

from shared.config import ServiceSettings
from shared.contracts.base import Contract
from shared.contracts.envelope import Envelope, InvalidMessage, decode, utcnow, validate_payload
from shared.contracts.registry import TopicRegistry, TopicSpec, load_registry
from shared.kafka.admin import ensure_topics
from shared.kafka.dead_letters import dead_letter_headers, without_dead_letter_headers
from shared.kafka.publisher import EventPublisher, PublishFailed
from shared.logging import get_logger
from shared.metrics import EVENTS_CONSUMED, EVENTS_RETRIED, HANDLER_SECONDS

log = get_logger(__name__)

Handler = Callable[[Envelope, Any], Awaitable[None]]


class TransientError(Exception):
    """Worth retrying: a dependency is briefly unavailable."""


class FatalError(Exception):
    """The service cannot go on (misconfiguration, lost credentials): stop without committing."""


TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    TransientError,
    PublishFailed,
    AutoReconnect,
    ConnectionFailure,
    NetworkTimeout,
    KafkaConnectionError,
    KafkaTimeoutError,
    RequestTimedOutError,
    NotLeaderForPartitionError,
    TimeoutError,
)


@dataclass(frozen=True)
class RetryPolicy:
    first_delay_s: float = 0.2
    max_delay_s: float = 10.0
    # A store outage of a few minutes should delay events, not dead-letter them.
    transient_budget_s: float = 300.0
    unexpected_attempts: int = 3
    # Stop the consumer when most recent messages are invalid: a bad deploy should not drain a topic.
    poison_window: int = 100
    poison_min_samples: int = 20
    poison_max_share: float = 0.5


@dataclass(frozen=True)
class ConsumedMessage:
    """One Kafka record, whatever client delivered it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]] = ()


@dataclass
class _Route:
    handler: Handler
    model: type[Contract]
    concurrency: int = 1


@dataclass
class _PoisonMeter:
    window: int
    outcomes: deque[bool] = field(default_factory=deque)

    def record(self, invalid: bool) -> float:
        self.outcomes.append(invalid)
        while len(self.outcomes) > self.window:
            self.outcomes.popleft()
        return sum(self.outcomes) / len(self.outcomes)


def _default_on_fatal(exc: BaseException) -> None:
    # os._exit, not sys.exit: nothing may commit offsets on the way out.
    log.critical("fatal consumer error: stopping without committing", error=repr(exc))
    os._exit(70)


class EventConsumer:
    """Routes the event types a service consumes to its handlers, one faust agent per topic."""

    def __init__(
        self,
        settings: ServiceSettings,
        *,
        publisher: EventPublisher,
        registry: TopicRegistry | None = None,
        policy: RetryPolicy | None = None,
        on_fatal: Callable[[BaseException], None] = _default_on_fatal,
    ) -> None:
        self._settings = settings
        self._service = settings.service_name
        self._publisher = publisher
        self._registry = registry or load_registry()
        self._policy = policy or RetryPolicy()
        self._on_fatal = on_fatal
        self._routes: dict[tuple[str, str], _Route] = {}
        self._app: faust.App | None = None
        self._poison = _PoisonMeter(self._policy.poison_window)
        self.fatal_error: BaseException | None = None

    # ------------------------------------------------------------------ wiring

    def handle(self, event_type: str, handler: Handler, *, concurrency: int = 1) -> None:
        """Route every version of `event_type` that this service consumes to `handler`.

        `concurrency` > 1 handles that many events of the topic at once, in any order; offsets are
        still committed only up to the last event handled without a gap. Use it only where the order
        of one case's events on the topic cannot matter (one event per case, idempotent inserts).
        """
        topic = self._registry.topic_of(event_type)
        if self._service not in topic.consumers:
            raise ValueError(f"{self._service} is not a registered consumer of {topic.name} ({event_type})")
        for spec in topic.events:
            if spec.type == event_type:
                self._routes[(topic.name, event_type)] = _Route(handler, spec.payload_model, concurrency)

    @property
    def topics(self) -> tuple[TopicSpec, ...]:
        names = sorted({name for name, _ in self._routes})
        return tuple(self._registry.get(n) for n in names)

    @property
    def dead_letter_topic(self) -> str:
        return self._settings.topic(self._registry.dead_letter_topic(self._service).name)

    async def start(self) -> None:
        if not self._routes:
            return
        await ensure_topics(self._settings, [*self.topics, self._registry.dead_letter_topic(self._service)])
        self._app = self._build_app()
        await self._app.start()
        log.info("consumer started", group=self._app.conf.id, topics=[t.name for t in self.topics])

    async def stop(self) -> None:
        if self._app is not None:
            app, self._app = self._app, None
            await app.stop()

    def _build_app(self) -> faust.App:
        s = self._settings
        faust_dirs = Path(tempfile.gettempdir()) / "yingde-faust"
        faust_dirs.mkdir(parents=True, exist_ok=True)
        app = faust.App(
            f"{s.topic_prefix}{self._service}",
            broker=[f"kafka://{h.strip()}" for h in s.kafka_bootstrap_servers.split(",")],
            value_serializer="raw",
            key_serializer="raw",
            store="memory://",
            # faust makes a data directory even for in-memory tables; keep it out of the working tree.
            datadir=str(faust_dirs / f"{s.topic_prefix}{self._service}"),
            web_enabled=False,
            autodiscover=False,
            # Topics come from the registry (ensure_topics), never from faust's own declarations.
            topic_allow_declare=False,
            topic_disable_leader=True,
            consumer_auto_offset_reset="earliest",
            broker_commit_interval=s.kafka_commit_interval_s,
            # faust waits 60 s by default before a dead member's partitions are reassigned.
            broker_session_timeout=s.kafka_session_timeout_s,
            broker_heartbeat_interval=s.kafka_session_timeout_s / 3,
            producer_acks=-1,
        )
        for spec in self.topics:
            channel = app.topic(s.topic(spec.name), key_type=bytes, value_type=bytes, partitions=spec.partitions)
            # A topic is handled in order unless every route on it allows more (see handle()).
            concurrency = min(r.concurrency for (t, _), r in self._routes.items() if t == spec.name)
            app.agent(channel, name=f"{self._service}.{spec.name}", concurrency=concurrency)(self._agent_body())
        return app

    def _agent_body(self) -> Callable[[Any], Awaitable[None]]:
        async def agent(stream: Any) -> None:
            async for event in stream.events():
                m = event.message
                outcome = await self.process(
                    ConsumedMessage(m.topic, m.partition, m.offset, m.key, m.value, tuple(m.headers or ()))
                )
                if outcome == "halted":
                    # Never return to the stream: returning would ack this message.
                    await asyncio.Event().wait()

        return agent

    # ------------------------------------------------------------------ processing

    async def process(self, msg: ConsumedMessage) -> str:
        """Handle one message to a final outcome; returns it. Never raises (see module docstring)."""
        logical_topic = msg.topic.removeprefix(self._settings.topic_prefix)
        ctx = {"topic": msg.topic, "partition": msg.partition, "offset": msg.offset, "key": _text(msg.key)}
        try:
            envelope, route, payload = self._parse(logical_topic, msg)
        except InvalidMessage as exc:
            await self._dead_letter(msg, exc, attempts=0, event_id=_header(msg, "event_id"))
            self._count(logical_topic, _header(msg, "event_type") or "?", "dead_lettered")
            self._check_poison(invalid=True)
            return "dead_lettered"
        if route is None:
            # A type on this topic that other consumers care about; not ours.
            self._count(logical_topic, envelope.event_type, "ignored")
            return "ignored"
        ctx.update(event_id=str(envelope.event_id), event_type=envelope.event_type)
        started = time.perf_counter()
        outcome = await self._run_with_retries(msg, envelope, route, payload, ctx)
        HANDLER_SECONDS.labels(self._service, envelope.event_type).observe(time.perf_counter() - started)
        self._count(logical_topic, envelope.event_type, outcome)
        if outcome != "halted":
            self._check_poison(invalid=outcome == "dead_lettered")
        return outcome

    def _parse(self, logical_topic: str, msg: ConsumedMessage) -> tuple[Envelope, _Route | None, Any]:
        envelope = decode(msg.value)
        try:
            spec = self._registry.get(logical_topic).event(envelope.event_type, envelope.schema_version)
        except KeyError as exc:
            raise InvalidMessage(f"topic {logical_topic} is not in the registry") from exc
        if spec is None:
            raise InvalidMessage(
                f"{envelope.event_type} v{envelope.schema_version} is not an event of {logical_topic}"
            )
        route = self._routes.get((logical_topic, envelope.event_type))
        if route is None:
            return envelope, None, None
        return envelope, route, validate_payload(envelope, route.model)

    async def _run_with_retries(
        self, msg: ConsumedMessage, envelope: Envelope, route: _Route, payload: Any, ctx: dict[str, Any]
    ) -> str:
        p = self._policy
        attempts = 0
        unexpected = 0
        delay = p.first_delay_s
        deadline = time.monotonic() + p.transient_budget_s
        while True:
            attempts += 1
            try:
                await route.handler(envelope, payload)
                return "processed"
            except InvalidMessage as exc:
                # The handler found the event impossible to apply (e.g. contradicts the case).
                await self._dead_letter(msg, exc, attempts=attempts, event_id=str(envelope.event_id))
                return "dead_lettered"
            except FatalError as exc:
                self._fatal(exc)
                return "halted"
            except TRANSIENT_ERRORS as exc:
                EVENTS_RETRIED.labels(self._service, msg.topic, type(exc).__name__).inc()
                if time.monotonic() + delay > deadline:
                    log.error("transient error outlasted the retry budget", **ctx, error=repr(exc))
                    await self._dead_letter(msg, exc, attempts=attempts, event_id=str(envelope.event_id))
                    return "dead_lettered"
                log.warning("transient error, retrying", **ctx, error=repr(exc), retry_in_s=round(delay, 2))
            except Exception as exc:
                unexpected += 1
                EVENTS_RETRIED.labels(self._service, msg.topic, type(exc).__name__).inc()
                log.exception("handler failed", **ctx, attempt=unexpected)
                if unexpected >= p.unexpected_attempts:
                    await self._dead_letter(msg, exc, attempts=attempts, event_id=str(envelope.event_id))
                    return "dead_lettered"
            await asyncio.sleep(delay)
            delay = min(delay * 2, p.max_delay_s)

    async def _dead_letter(
        self, msg: ConsumedMessage, exc: BaseException, *, attempts: int, event_id: str | None
    ) -> None:
        """Park the message, unchanged, with its cause; retried until Kafka acknowledges it."""
        headers = without_dead_letter_headers(msg.headers) + dead_letter_headers(
            topic=msg.topic.removeprefix(self._settings.topic_prefix), partition=msg.partition, offset=msg.offset,
            event_id=event_id, exc=exc, service=self._service, attempts=attempts, failed_at=utcnow(),
        )
        delay = self._policy.first_delay_s
        while True:
            try:
                await self._publisher.send(self.dead_letter_topic, msg.key, msg.value or b"", headers)
                break
            except PublishFailed as err:
                log.warning("dead letter not yet acknowledged, retrying", error=repr(err))
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._policy.max_delay_s)
        log.warning(
            "message dead-lettered",
            topic=msg.topic,
            partition=msg.partition,
            offset=msg.offset,
            key=_text(msg.key),
            event_id=event_id,
            exc_class=type(exc).__name__,
            exc_msg=str(exc)[:300],
        )

    def _check_poison(self, *, invalid: bool) -> None:
        """Fatal when most of the recent messages were invalid (after they were dead-lettered)."""
        share = self._poison.record(invalid)
        p = self._policy
        if invalid and len(self._poison.outcomes) >= p.poison_min_samples and share > p.poison_max_share:
            self._fatal(
                FatalError(f"{share:.0%} of the last {len(self._poison.outcomes)} messages were invalid")
            )

    def _fatal(self, exc: BaseException) -> None:
        self.fatal_error = exc
        self._on_fatal(exc)

    def _count(self, topic: str, event_type: str, outcome: str) -> None:
        EVENTS_CONSUMED.labels(self._service, topic, event_type, outcome).inc()


def _header(msg: ConsumedMessage, name: str) -> str | None:
    for k, v in msg.headers:
        if k == name:
            return v.decode(errors="replace")
    return None


def _text(key: bytes | None) -> str | None:
    return key.decode(errors="replace") if key is not None else None
