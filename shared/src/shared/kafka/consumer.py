"""The consumer pattern: one aiokafka consumer per service that never loses a message to an exception.

It fetches continuously and hands each topic's records to one worker task per topic at a time: what
arrives meanwhile waits, and the next batch is everything that waited (a batch handler takes a run of
them at once; otherwise partitions go side by side, each in order). Less than a full batch waits until
its first record has waited `consumer_linger_ms`, for more to join it. Offsets are committed after each
batch. A topic waiting for something (an event about a case whose complaint is still on its way)
never holds up another; a topic far behind stops fetching until its worker catches up. Every message
goes through `EventConsumer.process` (or `process_batch`), which decides its fate once:

- invalid (unreadable, unknown type, payload failing its model): to the dead letters at once;
- transient (store or broker unreachable): retried with exponential backoff for a time budget,
  then dead-lettered;
- unexpected (a bug): retried a few times, then dead-lettered with the exception named;
- fatal (FatalError, or too many invalid messages in a row after a bad deploy): the process
  stops without committing, so the message is redelivered after the fix.

The consumer never goes quiet while looking alive: a broker error on a fetch or a commit is logged and
outlived (the next commit covers what one missed); commits or fetches failing for `client_stuck_s` get
the group client replaced by a new one (it rejoins the group and is redelivered what was not committed); a bug
that ends the fetch loop or a worker stops the process (on_fatal), and a worker busy for longer than
the poll interval is logged with its stack and reported by `stall()`, which /healthz turns into a
restart.

The offset of a message is committed only after its handler finished (or its dead letter was
acknowledged by Kafka), so a crash at any point redelivers it; handlers are therefore idempotent.
A rebalance waits for the batch in hand and its commit, so a partition moves on with its offsets.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import (
    ClusterAuthorizationFailedError,
    CommitFailedError,
    GroupAuthorizationFailedError,
    IllegalStateError,
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    NotLeaderForPartitionError,
    RequestTimedOutError,
    TopicAuthorizationFailedError,
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
from shared.metrics import (
    COMMITS_FAILED,
    CONSUMER_CLIENTS_REPLACED,
    EVENTS_CONSUMED,
    EVENTS_RETRIED,
    HANDLER_SECONDS,
)

log = get_logger(__name__)

Handler = Callable[[Envelope, Any], Awaitable[None]]
# Handles a run of consecutive events of one type at once; returns the events it left for one at a
# time (each with every later event of the same case, so per-case order holds).
BatchHandler = Callable[[list[tuple[Envelope, Any]]], Awaitable[list[Envelope] | None]]


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
# The transient errors that mean the store or the broker is away, not that one event must wait.
OUTAGE_ERRORS = tuple(e for e in TRANSIENT_ERRORS if not issubclass(e, TransientError))


def _next_delay(delay: float, exc: BaseException, policy: RetryPolicy) -> float:
    """Exponential backoff, kept short while the store or the broker is away."""
    ceiling = policy.outage_max_delay_s if isinstance(exc, OUTAGE_ERRORS) else policy.max_delay_s
    return min(delay * 2, ceiling)


@dataclass(frozen=True)
class RetryPolicy:
    first_delay_s: float = 0.2
    max_delay_s: float = 10.0
    # The store or the broker unreachable is tried again at least this often (each try itself waits
    # for the server a while), so work resumes within moments of its return instead of after the
    # longest backoff: after a 30 s store outage a worker asleep for 10 s held the drain back.
    outage_max_delay_s: float = 2.0
    # A batch rides out an outage this long as one batch (then one event at a time, each with the
    # transient budget; together within the poll interval). Other transient errors in a batch (an
    # event waiting for its case) go one at a time after `batch_transient_budget_s`.
    batch_outage_budget_s: float = 90.0
    batch_transient_budget_s: float = 30.0
    # A store outage of a few minutes should delay events, not dead-letter them.
    transient_budget_s: float = 300.0
    unexpected_attempts: int = 3
    # How much longer than the transient budget one batch may take before the group gives its
    # partitions away and the watchdog calls the worker stuck.
    poll_margin_s: float = 120.0
    # A commit normally takes milliseconds; one that has waited this long is given up (the next covers it).
    commit_timeout_s: float = 10.0
    # Commits, or fetches, failing this long, none getting through meanwhile: the group client is
    # wedged (after a broker restart aiokafka's coordinator was seen never to come back, and another
    # time its connection to the coordinator stayed closed) and a new one replaces it.
    client_stuck_s: float = 20.0
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
    batch: BatchHandler | None = None


@dataclass
class _Parsed:
    msg: ConsumedMessage
    envelope: Envelope
    route: _Route
    payload: Any


@dataclass
class _PoisonMeter:
    window: int
    outcomes: deque[bool] = field(default_factory=deque)

    def record(self, invalid: bool) -> float:
        self.outcomes.append(invalid)
        while len(self.outcomes) > self.window:
            self.outcomes.popleft()
        return sum(self.outcomes) / len(self.outcomes)


def late_commit_failures_as_warnings(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """The event loop's exception handler, except for a commit given up earlier that failed later.

    aiokafka runs a commit inside its own `asyncio.shield`, so a commit given up after
    `commit_timeout_s` goes on; when it then fails (the group rebalanced meanwhile), nobody awaits it
    and asyncio logs "Task exception was never retrieved" at ERROR after every broker restart. The
    next commit covers its offsets: a warning says so. Anything else goes to the default handler."""
    task = context.get("future")
    coro = task.get_coro() if isinstance(task, asyncio.Task) else None
    if getattr(coro, "__qualname__", "") == "GroupCoordinator._do_commit_offsets":
        log.warning(
            "a commit given up earlier failed later; a later commit covers it",
            error=repr(context.get("exception")),
        )
        return
    loop.default_exception_handler(context)


def _default_on_fatal(exc: BaseException) -> None:
    # os._exit, not sys.exit: nothing may commit offsets on the way out.
    log.critical("fatal consumer error: stopping without committing", error=repr(exc))
    os._exit(70)


class EventConsumer:
    """Routes the event types a service consumes to its handlers; one consumer group per service."""

    def __init__(
        self,
        settings: ServiceSettings,
        *,
        publisher: EventPublisher,
        registry: TopicRegistry | None = None,
        policy: RetryPolicy | None = None,
        on_fatal: Callable[[BaseException], None] = _default_on_fatal,
        client_factory: Callable[[], AIOKafkaConsumer] | None = None,
    ) -> None:
        self._settings = settings
        self._client_factory = client_factory or self._new_client
        self._service = settings.service_name
        self._publisher = publisher
        self._registry = registry or load_registry()
        self._policy = policy or RetryPolicy()
        self._on_fatal = on_fatal
        self._routes: dict[tuple[str, str], _Route] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        # Fetched, not yet handled, by topic and partition (in offset order); one worker per topic.
        self._waiting: dict[str, dict[TopicPartition, list[ConsumedMessage]]] = {}
        self._waiting_since: dict[str, float] = {}  # by topic, monotonic: when its first waiting record came
        self._working: dict[str, asyncio.Task[str]] = {}
        self._work_began: dict[str, float] = {}  # by topic, monotonic: what the watchdog measures
        self._reported_stuck: set[asyncio.Task[str]] = set()
        self._watchdog: asyncio.Task[None] | None = None
        self._rebalancing = False
        self._halted = False
        self._stopping = False
        self._commits_failing_since: float | None = None  # monotonic; None while commits get through
        self._fetches_failing_since: float | None = None  # monotonic; None while fetches get through
        self._replacing: asyncio.Task[None] | None = None
        self.clients_replaced = 0
        self._poison = _PoisonMeter(self._policy.poison_window)
        self.fatal_error: BaseException | None = None

    # ------------------------------------------------------------------ wiring

    def handle(self, event_type: str, handler: Handler, *, batch: BatchHandler | None = None) -> None:
        """Route every version of `event_type` that this service consumes to `handler`.

        Without `batch`, a topic's partitions are handled side by side, each in order. With `batch`,
        a run of consecutive events that share the batch handler goes to it at once (one read, one
        write, one publish for all); it must keep each case's events in order. `handler` remains the
        way for one event at a time, which a failed batch falls back to.
        """
        topic = self._registry.topic_of(event_type)
        if self._service not in topic.consumers:
            raise ValueError(f"{self._service} is not a registered consumer of {topic.name} ({event_type})")
        for spec in topic.events:
            if spec.type == event_type:
                self._routes[(topic.name, event_type)] = _Route(handler, spec.payload_model, batch)

    @property
    def topics(self) -> tuple[TopicSpec, ...]:
        names = sorted({name for name, _ in self._routes})
        return tuple(self._registry.get(n) for n in names)

    @property
    def dead_letter_topic(self) -> str:
        return self._settings.topic(self._registry.dead_letter_topic(self._service).name)

    @property
    def group(self) -> str:
        return f"{self._settings.topic_prefix}{self._service}"

    async def start(self) -> None:
        if not self._routes:
            return
        await ensure_topics(self._settings, [*self.topics, self._registry.dead_letter_topic(self._service)])
        loop = asyncio.get_running_loop()
        if loop.get_exception_handler() is None:
            loop.set_exception_handler(late_commit_failures_as_warnings)
        await self._connect()
        log.info("consumer started", group=self.group, topics=[t.name for t in self.topics])

    async def _connect(self) -> None:
        """A new group client, subscribed and started, and the fetch loop on it."""
        consumer = self._client_factory()
        consumer.subscribe([self._settings.topic(t.name) for t in self.topics], listener=_WaitForBatch(self))
        try:
            await consumer.start()
        except BaseException:
            with contextlib.suppress(KafkaError, OSError):
                await consumer.stop()
            raise
        self.run(consumer)

    def _new_client(self) -> AIOKafkaConsumer:
        s = self._settings
        session_ms = int(s.kafka_session_timeout_s * 1000)
        return AIOKafkaConsumer(
            bootstrap_servers=s.kafka_bootstrap_servers,
            group_id=self.group,
            client_id=f"{self._service}-consumer",
            enable_auto_commit=False,  # committed by hand, after the handlers
            auto_offset_reset="earliest",
            session_timeout_ms=session_ms,
            heartbeat_interval_ms=session_ms // 3,
            # A handler may retry an outage for the whole transient budget before the next poll.
            max_poll_interval_ms=int(self._poll_interval_s * 1000),
            max_poll_records=s.consumer_batch_max,
            # The broker answers a fetch as soon as a record arrives; this long when none does.
            fetch_max_wait_ms=s.kafka_fetch_max_wait_ms,
            # The fetcher's own look-around when nothing happens (assignment, pause and consumption
            # wake it at once): five times a second by default, once here.
            consumer_timeout_ms=1000,
        )

    def run(self, consumer: AIOKafkaConsumer) -> None:
        """Fetch and handle in the background, from a started client, with the watchdog beside it."""
        self._consumer = consumer
        self._task = asyncio.create_task(self._run(consumer), name=f"{self._service}-consumer")
        self._task.add_done_callback(self._fetch_loop_ended)
        self._watchdog = asyncio.create_task(self._watch(), name=f"{self._service}-consumer-watchdog")

    @property
    def _poll_interval_s(self) -> float:
        return self._policy.transient_budget_s + self._policy.poll_margin_s

    def stall(self) -> str | None:
        """Why this consumer cannot make progress, if it cannot (None when it can, or never started)."""
        task = self._task
        if task is not None and task.done():
            return "the fetch loop has ended"
        for topic, busy_s in self._stuck_workers():
            return f"the worker of {topic} has been busy for {busy_s:.0f} s"
        return None

    def _stuck_workers(self) -> list[tuple[str, float]]:
        """(topic, seconds busy) of every worker busy for longer than the poll interval."""
        now = time.monotonic()
        busy = ((topic, now - began) for topic, began in self._work_began.items())
        return [(topic, s) for topic, s in busy if s > self._poll_interval_s]

    def _fetch_loop_ended(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or self._stopping or self._replacing is not None:
            return
        exc = task.exception() or RuntimeError("the fetch loop returned")
        log.critical("the consumer's fetch loop ended", group=self.group, error=repr(exc), exc_info=exc)
        self._fatal(exc)

    async def _watch(self) -> None:
        """Log, with its stack, a worker busy for longer than the poll interval (once per batch); replace
        a wedged group client."""
        while True:
            await asyncio.sleep(min(30.0, self._poll_interval_s / 4, self._policy.client_stuck_s / 2))
            self._replace_if_wedged()
            for topic, busy_s in self._stuck_workers():
                work = self._working.get(topic)
                if work is None or work in self._reported_stuck:
                    continue
                self._reported_stuck.add(work)
                stack = io.StringIO()
                work.print_stack(file=stack)
                log.error(
                    "a topic worker is stuck", topic=topic, busy_s=round(busy_s), stack=stack.getvalue()
                )

    async def stop(self) -> None:
        self._stopping = True  # no worker starts from here on, not even from a finishing one
        if self._replacing is not None:
            self._replacing.cancel()
            await asyncio.gather(self._replacing, return_exceptions=True)
        await self._stop_client()

    async def _stop_client(self) -> None:
        """Stop fetching and working (what is in hand is not committed: it is redelivered), then the
        client, given at most a commit's time (a wedged one is left to its session's expiry)."""
        tasks = [t for t in (self._task, self._watchdog) if t is not None]
        self._task = self._watchdog = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        while self._working:
            working = list(self._working.values())
            for work in working:
                work.cancel()
            await asyncio.gather(*working, return_exceptions=True)
        self._waiting.clear()
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            try:
                await asyncio.wait_for(consumer.stop(), timeout=self._policy.commit_timeout_s)
            except (TimeoutError, KafkaError) as exc:
                log.warning("the group client did not stop cleanly; left behind", error=repr(exc))

    async def _run(self, consumer: AIOKafkaConsumer) -> None:
        s = self._settings
        while True:
            try:
                # Returns as soon as records arrive; the timeout only bounds an idle wait (stop cancels it).
                fetched = await consumer.getmany(timeout_ms=10_000, max_records=s.consumer_batch_max)
            except (
                ClusterAuthorizationFailedError,
                GroupAuthorizationFailedError,
                TopicAuthorizationFailedError,
            ):
                raise  # lost credentials: nothing to wait for (the fetch loop's end stops the process)
            except KafkaError as exc:
                # What the group's coordinator met meanwhile (a broker restart, a rebalance); aiokafka
                # recovers on its own, so the loop goes on, unless it fails for `client_stuck_s`.
                log.warning("fetch failed; fetching again", group=self.group, error=repr(exc))
                self._fetches_failing_since = self._fetches_failing_since or time.monotonic()
                self._replace_if_wedged()
                await asyncio.sleep(self._policy.max_delay_s / 10)
                continue
            self._fetches_failing_since = None
            for tp, records in fetched.items():
                if tp.topic not in self._waiting:
                    self._waiting_since[tp.topic] = time.monotonic()
                self._waiting.setdefault(tp.topic, {}).setdefault(tp, []).extend(
                    ConsumedMessage(r.topic, r.partition, r.offset, r.key, r.value, tuple(r.headers or ()))
                    for r in records
                )
            for topic in list(self._waiting):
                self._take(consumer, topic)
                waiting = self._waiting.get(topic, {})
                if sum(map(len, waiting.values())) > 4 * s.consumer_batch_max:
                    consumer.pause(*waiting)  # far behind: fetch no more until its worker catches up

    def _take(self, consumer: AIOKafkaConsumer, topic: str) -> None:
        """Start the topic's worker on everything waiting for it, unless it is busy. Less than a full
        batch is handled once its first record has waited `consumer_linger_ms` (the worker lingers for
        the rest of that time, taking in what arrives meanwhile)."""
        if topic in self._working or self._rebalancing or self._halted or self._stopping or self._replacing:
            return
        batch = self._waiting.pop(topic, None)
        waited_s = time.monotonic() - self._waiting_since.pop(topic, 0.0)
        if not batch:
            return
        linger_s = 0.0
        if sum(map(len, batch.values())) < self._settings.consumer_batch_max:
            linger_s = max(0.0, self._settings.consumer_linger_ms / 1000 - waited_s)
        work = asyncio.create_task(self._work(consumer, topic, batch, linger_s), name=f"{self.group} {topic}")
        self._working[topic] = work
        self._work_began[topic] = time.monotonic()
        work.add_done_callback(lambda done: self._worked(consumer, topic, done))

    def _worked(self, consumer: AIOKafkaConsumer, topic: str, done: asyncio.Task[str]) -> None:
        self._working.pop(topic, None)
        self._work_began.pop(topic, None)
        self._reported_stuck.discard(done)
        if done.cancelled():
            return
        exc = done.exception()
        if exc is not None or done.result() == "halted":
            # Nothing more is taken or committed: redelivered after the fix.
            self._halted = True
            if exc is not None:  # a bug (processing never raises): stop rather than idle on, unseen
                log.critical("a topic worker failed", topic=topic, error=repr(exc), exc_info=exc)
                self._fatal(exc)
            return
        owned = consumer.assignment()
        consumer.resume(*(tp for tp in consumer.paused() if tp.topic == topic and tp in owned))
        self._take(consumer, topic)  # what arrived meanwhile (it may have waited long enough already)

    async def _work(
        self,
        consumer: AIOKafkaConsumer,
        topic: str,
        partitions: dict[TopicPartition, list[ConsumedMessage]],
        linger_s: float = 0.0,
    ) -> str:
        """Handle one topic's records, then commit them."""
        if linger_s:
            # At a few records a second a batch would hold one or two and pay every round trip for
            # them: at 75/s the pipeline's processes spent 20 ms of CPU per complaint, 14 with 40 ms.
            await asyncio.sleep(linger_s)
            if not self._rebalancing:
                self._waiting_since.pop(topic, None)
                for tp, records in self._waiting.pop(topic, {}).items():
                    partitions.setdefault(tp, []).extend(records)  # fetched later: later offsets
        outcome = await self._handle_topic(topic, list(partitions.values()))
        if outcome != "halted":
            await self._commit(consumer, {tp: records[-1].offset + 1 for tp, records in partitions.items()})
        return outcome

    async def _settle_before_rebalance(self) -> None:
        """A rebalance waits for the batches in hand and their commits; what was fetched and not yet
        handled is dropped (the group's next owner fetches it again from the committed offsets)."""
        self._rebalancing = True
        await asyncio.gather(*self._working.values(), return_exceptions=True)
        self._waiting.clear()

    def _resume_after_rebalance(self) -> None:
        self._rebalancing = False

    async def _handle_topic(self, topic: str, partitions: list[list[ConsumedMessage]]) -> str:
        logical = topic.removeprefix(self._settings.topic_prefix)
        if any(r.batch for (t, _), r in self._routes.items() if t == logical):
            # One run across the partitions (each still in order), so the batch handler gets them all.
            return await self.process_batch([m for part in partitions for m in part])
        outcomes = await asyncio.gather(*(self.process_batch(part) for part in partitions))
        return "halted" if "halted" in outcomes else "processed"

    async def _commit(self, consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
        try:
            # Bounded: after a broker restart aiokafka's commit could wait for its coordinator for good,
            # and every topic's worker then hung in it while the lag grew (chaos at 75/s, round 3).
            await asyncio.wait_for(consumer.commit(offsets), timeout=self._policy.commit_timeout_s)
        except TimeoutError:
            log.warning(
                "offsets not committed in time; the next commit covers them",
                group=self.group,
                timeout_s=self._policy.commit_timeout_s,
            )
            self._commit_failed()
        except (CommitFailedError, IllegalStateError) as exc:
            # The partitions moved to another member during the batch: it redelivers from the last
            # commit, and the handlers are idempotent.
            log.warning(
                "offsets not committed (rebalanced meanwhile); the new owner redelivers", error=repr(exc)
            )
        except KafkaError as exc:
            # The broker refused or lost the commit: the topic's next commit covers these offsets, and
            # a restart before it redelivers them to idempotent handlers.
            log.warning("offsets not committed; the next commit covers them", error=repr(exc))
            self._commit_failed()
        else:
            self._commits_failing_since = None

    def _commit_failed(self) -> None:
        """Count a failed commit; commits failing for `client_stuck_s` get the group client replaced.

        Seen at 75/s after a broker restart: every commit waited for a coordinator that aiokafka never
        looked up again, so nothing was committed and the lag never went down, while fetching and
        handling went on. A new client finds the coordinator afresh."""
        COMMITS_FAILED.labels(self._service).inc()
        self._commits_failing_since = self._commits_failing_since or time.monotonic()
        self._replace_if_wedged()

    def _replace_if_wedged(self) -> None:
        """Replace the group client when commits or fetches have failed for `client_stuck_s` (checked
        on each failure and by the watchdog, so a topic gone quiet after its last failed commit gets
        its batch redelivered and committed too).

        Fetches, at 150/s after a broker restart: every one failed for minutes with aiokafka's
        "Unexpected error during coordination" (its connection to the coordinator closed and never
        reopened), so nothing was fetched or committed and the lag grew to 74,000."""
        failing = [t for t in (self._commits_failing_since, self._fetches_failing_since) if t is not None]
        if not failing or self._replacing is not None or self._stopping:
            return
        failing_s = time.monotonic() - min(failing)
        if failing_s >= self._policy.client_stuck_s:
            self._replacing = asyncio.create_task(
                self._replace_client(failing_s), name=f"{self.group} new client"
            )

    async def _replace_client(self, failing_s: float) -> None:
        log.error(
            "commits or fetches have failed for too long: replacing the group client",
            group=self.group,
            failing_s=round(failing_s, 1),
        )
        try:
            await self._stop_client()
            delay = self._policy.first_delay_s
            while True:
                try:
                    await self._connect()
                    break
                except (KafkaError, OSError) as exc:  # the broker still away: keep trying, as at start-up
                    log.warning("new group client not started yet", error=repr(exc), retry_in_s=delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self._policy.max_delay_s)
            self.clients_replaced += 1
            CONSUMER_CLIENTS_REPLACED.labels(self._service).inc()
            self._commits_failing_since = self._fetches_failing_since = None
            log.info("group client replaced", group=self.group)
        finally:
            self._replacing = None

    # ------------------------------------------------------------------ processing

    async def process(self, msg: ConsumedMessage) -> str:
        """Handle one message to a final outcome; returns it. Never raises (see module docstring)."""
        parsed = await self._admit(msg)
        if isinstance(parsed, str):
            return parsed
        return await self._handle_one(parsed)

    async def process_batch(self, msgs: list[ConsumedMessage]) -> str:
        """Handle messages in order, runs of one batch-handled type together; "halted" if it stopped."""
        runs: list[list[_Parsed]] = []
        for msg in msgs:
            parsed = await self._admit(msg)
            if isinstance(parsed, str):
                continue
            # One batch handler may take several types (a timeline records them all alike). A run is
            # at most one fetch's worth: after an outage a worker is handed thousands of records, and
            # one store round trip for all of them outlasted the socket timeout, was retried whole
            # and then fell back to one event at a time, so the backlog grew instead of draining.
            if (
                runs
                and parsed.route.batch is not None
                and runs[-1][0].route.batch is parsed.route.batch
                and len(runs[-1]) < self._settings.consumer_batch_max
            ):
                runs[-1].append(parsed)
            else:
                runs.append([parsed])
        for run in runs:
            if len(run) > 1:
                outcome = await self._handle_run(run)
            else:
                outcome = await self._handle_one(run[0])
            if outcome == "halted":
                return "halted"
        return "processed"

    async def _admit(self, msg: ConsumedMessage) -> _Parsed | str:
        """Parse a message; what cannot be handled (invalid, not ours) gets its outcome here."""
        logical_topic = msg.topic.removeprefix(self._settings.topic_prefix)
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
        return _Parsed(msg, envelope, route, payload)

    async def _handle_one(self, p: _Parsed) -> str:
        msg, envelope = p.msg, p.envelope
        ctx = {
            "topic": msg.topic,
            "partition": msg.partition,
            "offset": msg.offset,
            "key": _text(msg.key),
            "event_id": str(envelope.event_id),
            "event_type": envelope.event_type,
        }
        started = time.perf_counter()
        outcome = await self._run_with_retries(msg, envelope, p.route, p.payload, ctx)
        HANDLER_SECONDS.labels(self._service, envelope.event_type).observe(time.perf_counter() - started)
        self._count(msg.topic.removeprefix(self._settings.topic_prefix), envelope.event_type, outcome)
        if outcome != "halted":
            self._check_poison(invalid=outcome == "dead_lettered")
        return outcome

    async def _handle_run(self, run: list[_Parsed]) -> str:
        """A run of one type through its batch handler. A store or broker outage is retried (a short
        budget); anything else, or an outage that lasts, goes one event at a time, where every event
        gets the full policy (retries, dead letters) of its own."""
        batch = run[0].route.batch
        assert batch is not None
        p = self._policy
        delay, began = p.first_delay_s, time.monotonic()
        started = time.perf_counter()
        while True:
            try:
                left = await batch([(x.envelope, x.payload) for x in run]) or []
                break
            except TRANSIENT_ERRORS as exc:
                EVENTS_RETRIED.labels(self._service, run[0].msg.topic, type(exc).__name__).inc()
                budget = (
                    p.batch_outage_budget_s if isinstance(exc, OUTAGE_ERRORS) else p.batch_transient_budget_s
                )
                if time.monotonic() + delay > began + min(p.transient_budget_s, budget):
                    left = [x.envelope for x in run]
                    break
                log.warning(
                    "transient error in a batch, retrying",
                    topic=run[0].msg.topic,
                    events=len(run),
                    error=repr(exc),
                    retry_in_s=round(delay, 2),
                )
                await asyncio.sleep(delay)
                delay = _next_delay(delay, exc, p)
            except Exception as exc:
                log.warning(
                    "batch failed; handling its events one at a time",
                    topic=run[0].msg.topic,
                    events=len(run),
                    error=repr(exc),
                )
                left = [x.envelope for x in run]
                break
        per_event = (time.perf_counter() - started) / len(run)
        left_ids = {e.event_id for e in left}
        for x in run:
            if x.envelope.event_id in left_ids:
                if await self._handle_one(x) == "halted":
                    return "halted"
                continue
            HANDLER_SECONDS.labels(self._service, x.envelope.event_type).observe(per_event)
            self._count(
                x.msg.topic.removeprefix(self._settings.topic_prefix), x.envelope.event_type, "processed"
            )
            self._check_poison(invalid=False)
        return "processed"

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
                failure: BaseException = exc
            except Exception as exc:
                unexpected += 1
                EVENTS_RETRIED.labels(self._service, msg.topic, type(exc).__name__).inc()
                log.exception("handler failed", **ctx, attempt=unexpected)
                if unexpected >= p.unexpected_attempts:
                    await self._dead_letter(msg, exc, attempts=attempts, event_id=str(envelope.event_id))
                    return "dead_lettered"
                failure = exc
            await asyncio.sleep(delay)
            delay = _next_delay(delay, failure, p)

    async def _dead_letter(
        self, msg: ConsumedMessage, exc: BaseException, *, attempts: int, event_id: str | None
    ) -> None:
        """Park the message, unchanged, with its cause; retried until Kafka acknowledges it."""
        headers = without_dead_letter_headers(msg.headers) + dead_letter_headers(
            topic=msg.topic.removeprefix(self._settings.topic_prefix),
            partition=msg.partition,
            offset=msg.offset,
            event_id=event_id,
            exc=exc,
            service=self._service,
            attempts=attempts,
            failed_at=utcnow(),
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


class _WaitForBatch(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka ships no types
    """Partitions are taken away only once the batches in hand are handled and committed."""

    def __init__(self, consumer: EventConsumer) -> None:
        self._owner = consumer

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self._owner._settle_before_rebalance()

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self._owner._resume_after_rebalance()
        log.info("partitions assigned", group=self._owner.group, partitions=len(assigned))


def _header(msg: ConsumedMessage, name: str) -> str | None:
    for k, v in msg.headers:
        if k == name:
            return v.decode(errors="replace")
    return None


def _text(key: bytes | None) -> str | None:
    return key.decode(errors="replace") if key is not None else None
