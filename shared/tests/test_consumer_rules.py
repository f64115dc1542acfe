"""The consumer pattern's decisions, one message at a time, with a recording publisher (no broker)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import (
    GroupCoordinatorNotAvailableError,
    KafkaError,
    NodeNotReadyError,
    UnknownMemberIdError,
)
from pymongo.errors import AutoReconnect

from shared.config import ServiceSettings
from shared.contracts.complaints import ComplaintReceived
from shared.contracts.envelope import InvalidMessage, encode, headers_for, make_envelope
from shared.contracts.registry import load_registry
from shared.kafka.consumer import (
    ConsumedMessage,
    EventConsumer,
    FatalError,
    RetryPolicy,
    TransientError,
    _next_delay,
    late_commit_failures_as_warnings,
)
from shared.testing.fixtures import eventually

EXAMPLE = load_registry().get("intake.complaints.v1").events[0].examples[0]
FAST = RetryPolicy(
    first_delay_s=0.001,
    max_delay_s=0.002,
    transient_budget_s=0.05,
    unexpected_attempts=3,
    commit_timeout_s=0.05,
)
# Fast retries; a batch goes one at a time at once for a waiting event, after 5 s for an outage.
BATCH_BUDGETS = replace(FAST, batch_transient_budget_s=0.0, batch_outage_budget_s=5.0)


class RecordingPublisher:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, bytes, dict[str, bytes]]] = []

    async def send(self, topic: str, key: bytes | None, value: bytes, headers: Any = ()) -> None:
        self.sent.append((topic, key, value, dict(headers)))


def _consumer(
    policy: RetryPolicy = FAST, *, linger_ms: int | None = None, batch_max: int | None = None, **kwargs: Any
) -> tuple[EventConsumer, RecordingPublisher]:
    """A dispatch consumer; `linger_ms` and `batch_max` as `CONSUMER_LINGER_MS` and `CONSUMER_BATCH_MAX`."""
    publisher = RecordingPublisher()
    given = {"consumer_linger_ms": linger_ms, "consumer_batch_max": batch_max}
    settings = ServiceSettings(
        service_name="dispatch", topic_prefix="p.", **{k: v for k, v in given.items() if v is not None}
    )
    return EventConsumer(settings, publisher=publisher, policy=policy, **kwargs), publisher  # type: ignore[arg-type]


def _message(value: bytes | None, headers: list[tuple[str, bytes]] | None = None) -> ConsumedMessage:
    return ConsumedMessage("p.intake.complaints.v1", 2, 41, b"YD-7K3M9QX2AB", value, headers or [])


def _complaint_value(**payload_changes: Any) -> tuple[bytes, list[tuple[str, bytes]], uuid.UUID]:
    payload = ComplaintReceived.model_validate({**EXAMPLE["payload"], **payload_changes})
    env = make_envelope(
        payload,
        event_type="complaint.received",
        schema_version=1,
        correlation_id=payload.case_id,
        producer="intake",
    )
    return encode(env), headers_for(env), env.event_id


async def test_valid_event_reaches_its_handler_with_the_typed_payload() -> None:
    consumer, publisher = _consumer()
    seen: list[ComplaintReceived] = []

    async def handler(env, payload):
        seen.append(payload)

    consumer.handle("complaint.received", handler)
    value, headers, _ = _complaint_value()
    assert await consumer.process(_message(value, headers)) == "processed"
    assert isinstance(seen[0], ComplaintReceived) and seen[0].case_id == "YD-7K3M9QX2AB"
    assert publisher.sent == []


@pytest.mark.parametrize(
    ("value", "cause"),
    [
        (b"\x00\xffgarbage", "not JSON"),
        (b'{"hello": "world"}', "envelope invalid"),
    ],
)
async def test_unreadable_messages_are_dead_lettered_at_once(value, cause) -> None:
    consumer, publisher = _consumer()
    consumer.handle("complaint.received", lambda env, payload: None)  # never called
    assert await consumer.process(_message(value, [("trace", b"t-1")])) == "dead_lettered"
    [(topic, key, dl_value, headers)] = publisher.sent
    assert topic == "p.dispatch.dead-letters.v1"
    assert (key, dl_value) == (b"YD-7K3M9QX2AB", value)  # unchanged, so it can be replayed
    assert headers["original_topic"] == b"intake.complaints.v1"
    assert headers["original_partition"] == b"2" and headers["original_offset"] == b"41"
    assert headers["exc_class"] == b"InvalidMessage" and cause.encode() in headers["exc_msg"]
    assert headers["service"] == b"dispatch" and headers["trace"] == b"t-1"


async def test_payload_failing_its_model_is_dead_lettered_naming_the_field() -> None:
    consumer, publisher = _consumer()
    consumer.handle("complaint.received", lambda env, payload: None)
    value, headers, event_id = _complaint_value()
    broken = value.replace(b'"customer":', b'"customer_was":')
    assert await consumer.process(_message(broken, headers)) == "dead_lettered"
    dl_headers = publisher.sent[0][3]
    assert b"customer" in dl_headers["exc_msg"]
    assert dl_headers["original_event_id"] == str(event_id).encode()


async def test_unknown_event_type_on_a_topic_is_dead_lettered() -> None:
    consumer, publisher = _consumer()
    consumer.handle("complaint.received", lambda env, payload: None)
    value, headers, _ = _complaint_value()
    value = value.replace(b'"complaint.received"', b'"complaint.exploded"')
    assert await consumer.process(_message(value, headers)) == "dead_lettered"
    assert b"complaint.exploded" in publisher.sent[0][3]["exc_msg"]


async def test_transient_errors_are_retried_until_they_pass() -> None:
    consumer, publisher = _consumer(RetryPolicy(first_delay_s=0.001, max_delay_s=0.002, transient_budget_s=5))
    calls = 0

    async def flaky(env, payload):
        nonlocal calls
        calls += 1
        if calls < 3:
            raise AutoReconnect("store restarting")

    consumer.handle("complaint.received", flaky)
    value, headers, _ = _complaint_value()
    assert await consumer.process(_message(value, headers)) == "processed"
    assert calls == 3 and publisher.sent == []


async def test_transient_errors_past_the_budget_are_dead_lettered() -> None:
    consumer, publisher = _consumer()

    async def down(env, payload):
        raise AutoReconnect("store gone")

    consumer.handle("complaint.received", down)
    value, headers, _ = _complaint_value()
    assert await consumer.process(_message(value, headers)) == "dead_lettered"
    assert publisher.sent[0][3]["exc_class"] == b"AutoReconnect"


async def test_a_bug_is_retried_a_few_times_then_dead_lettered_with_its_class() -> None:
    consumer, publisher = _consumer()
    calls = 0

    async def buggy(env, payload):
        nonlocal calls
        calls += 1
        raise ZeroDivisionError("oops")

    consumer.handle("complaint.received", buggy)
    value, headers, _ = _complaint_value()
    assert await consumer.process(_message(value, headers)) == "dead_lettered"
    assert calls == 3
    assert publisher.sent[0][3]["exc_class"] == b"ZeroDivisionError"
    assert publisher.sent[0][3]["attempts"] == b"3"


async def test_handler_declaring_the_event_invalid_dead_letters_it_without_retry() -> None:
    consumer, publisher = _consumer()
    calls = 0

    async def refuses(env, payload):
        nonlocal calls
        calls += 1
        raise InvalidMessage("case YD-… was closed before this event")

    consumer.handle("complaint.received", refuses)
    value, headers, _ = _complaint_value()
    assert await consumer.process(_message(value, headers)) == "dead_lettered"
    assert calls == 1


async def test_fatal_error_halts_without_dead_lettering() -> None:
    fatal: list[BaseException] = []
    consumer, publisher = _consumer(on_fatal=fatal.append)

    async def fatal_handler(env, payload):
        raise FatalError("credentials revoked")

    consumer.handle("complaint.received", fatal_handler)
    value, headers, _ = _complaint_value()
    assert await consumer.process(_message(value, headers)) == "halted"
    assert publisher.sent == [] and isinstance(fatal[0], FatalError)


async def test_mostly_invalid_traffic_stops_the_consumer() -> None:
    fatal: list[BaseException] = []
    policy = RetryPolicy(poison_window=10, poison_min_samples=5, poison_max_share=0.5)
    consumer, publisher = _consumer(policy, on_fatal=fatal.append)
    consumer.handle("complaint.received", lambda env, payload: None)
    for _ in range(4):
        await consumer.process(_message(b"junk"))
    assert fatal == []  # too few samples to judge
    await consumer.process(_message(b"junk"))
    assert len(fatal) == 1 and "invalid" in str(fatal[0])
    assert len(publisher.sent) == 5  # each one was still dead-lettered first


async def test_events_of_other_consumers_are_ignored() -> None:
    consumer, publisher = _consumer()
    consumer.handle("complaint.received", lambda env, payload: None)
    consumer._routes.clear()  # a topic we read for another type only
    value, headers, _ = _complaint_value()
    assert await consumer.process(_message(value, headers)) == "ignored"


def test_a_service_may_only_handle_events_it_is_registered_for() -> None:
    consumer, _ = _consumer()
    consumer_intake = EventConsumer(
        ServiceSettings(service_name="warranty"),
        publisher=RecordingPublisher(),  # type: ignore[arg-type]
    )
    with pytest.raises(ValueError, match="not a registered consumer"):
        consumer_intake.handle("complaint.received", lambda env, payload: None)


# ------------------------------------------------------------------------------------------ batches


def _batch(n: int) -> tuple[list[ConsumedMessage], list[uuid.UUID]]:
    msgs, ids = [], []
    for i in range(n):
        value, headers, event_id = _complaint_value(case_id=f"YD-7K3M9QX2{i:02d}")
        msgs.append(
            ConsumedMessage("p.intake.complaints.v1", 0, i, f"YD-7K3M9QX2{i:02d}".encode(), value, headers)
        )
        ids.append(event_id)
    return msgs, ids


async def test_a_batch_goes_to_the_batch_handler_in_order_and_poison_is_dead_lettered_beside_it() -> None:
    consumer, publisher = _consumer()
    batches: list[list[str]] = []

    async def one(env, payload):
        raise AssertionError("a healthy batch is not handled one at a time")

    async def many(items):
        batches.append([p.case_id for _env, p in items])
        return []

    consumer.handle("complaint.received", one, batch=many)
    msgs, _ = _batch(4)
    msgs.insert(2, _message(b"\x00garbage"))
    assert await consumer.process_batch(msgs) == "processed"
    # The poison message does not split the run: the valid four are one batch, in order.
    assert batches == [[f"YD-7K3M9QX2{i:02d}" for i in range(4)]]
    assert [topic for topic, *_ in publisher.sent] == ["p.dispatch.dead-letters.v1"]


async def test_a_backlog_goes_to_the_batch_handler_a_fetch_at_a_time_in_order() -> None:
    # After an outage a worker is handed far more than one fetch: one store round trip for all of it
    # outlasted the socket timeout, and the batch then fell back to one event at a time.
    publisher = RecordingPublisher()
    settings = ServiceSettings(service_name="dispatch", topic_prefix="p.", consumer_batch_max=3)
    consumer = EventConsumer(settings, publisher=publisher, policy=FAST)  # type: ignore[arg-type]
    batches: list[list[str]] = []

    async def one(env, payload):
        raise AssertionError("a healthy backlog is not handled one at a time")

    async def many(items):
        batches.append([p.case_id[-2:] for _env, p in items])
        return []

    consumer.handle("complaint.received", one, batch=many)
    msgs, _ = _batch(8)
    assert await consumer.process_batch(msgs) == "processed"
    assert batches == [["00", "01", "02"], ["03", "04", "05"], ["06", "07"]]


async def test_a_failed_batch_falls_back_to_one_at_a_time_where_the_culprit_alone_is_dead_lettered() -> None:
    consumer, publisher = _consumer()
    handled: list[str] = []

    async def one(env, payload):
        if payload.case_id.endswith("02"):
            raise InvalidMessage("contradicts the case")
        handled.append(payload.case_id)

    async def many(items):
        raise InvalidMessage("one of them contradicts its case")

    consumer.handle("complaint.received", one, batch=many)
    msgs, ids = _batch(4)
    assert await consumer.process_batch(msgs) == "processed"
    assert handled == ["YD-7K3M9QX200", "YD-7K3M9QX201", "YD-7K3M9QX203"]
    [(_topic, key, _value, headers)] = publisher.sent
    assert key == b"YD-7K3M9QX202" and headers["original_event_id"] == str(ids[2]).encode()


class FlakyBatch:
    """A batch handler that fails its first `failures` calls with `error`, then leaves to one at a time
    the events whose case id ends with one of `leave`."""

    def __init__(self, failures: int, error: BaseException, leave: tuple[str, ...] = ()) -> None:
        self.failures, self.error, self.leave = failures, error, leave
        self.calls = 0

    async def __call__(self, items: list[tuple[Any, Any]]) -> list[Any]:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return [env for env, p in items if p.case_id.endswith(self.leave)] if self.leave else []


async def _one_at_a_time(consumer: EventConsumer, batch: FlakyBatch, events: int) -> list[str]:
    """Send `events` complaints through `batch`; the case ids the one-event handler got."""
    handled: list[str] = []

    async def one(env, payload):
        handled.append(payload.case_id)

    consumer.handle("complaint.received", one, batch=batch)
    msgs, _ = _batch(events)
    assert await consumer.process_batch(msgs) == "processed"
    return handled


async def test_events_a_batch_leaves_are_handled_one_at_a_time_and_an_outage_is_retried_first() -> None:
    consumer, _ = _consumer()
    batch = FlakyBatch(1, AutoReconnect("store restarting"), leave=("01",))
    handled = await _one_at_a_time(consumer, batch, 3)
    assert batch.calls == 2 and handled == ["YD-7K3M9QX201"]


async def test_a_batch_rides_out_a_store_outage_as_one_batch_past_the_budget_for_other_waits() -> None:
    # An outage outlasting the budget other transient errors get is still retried as the whole batch:
    # one at a time, each event would pay its round trips again once the store is back.
    consumer, _ = _consumer(replace(BATCH_BUDGETS, outage_max_delay_s=0.002))
    batch = FlakyBatch(5, AutoReconnect("store down"))
    handled = await _one_at_a_time(consumer, batch, 3)
    assert batch.calls == 6 and handled == []


async def test_an_event_waiting_in_a_batch_sends_the_batch_one_at_a_time_after_its_short_budget() -> None:
    consumer, _ = _consumer(BATCH_BUDGETS)
    batch = FlakyBatch(10**6, TransientError("a case not known yet"))
    handled = await _one_at_a_time(consumer, batch, 2)
    assert handled == ["YD-7K3M9QX200", "YD-7K3M9QX201"]


def test_backoff_stays_short_while_the_store_or_the_broker_is_away() -> None:
    policy = RetryPolicy(max_delay_s=10.0, outage_max_delay_s=2.0)
    assert _next_delay(1.6, AutoReconnect("store down"), policy) == 2.0
    assert _next_delay(1.6, TimeoutError(), policy) == 2.0
    assert _next_delay(1.6, TransientError("waiting for the case"), policy) == 3.2
    assert _next_delay(8.0, TransientError("waiting for the case"), policy) == 10.0


# ------------------------------------------------------------ the fetch loop never goes quiet unseen


class FakeClient:
    """Stands in for aiokafka's consumer: hands out what `fetches` says, records commits."""

    def __init__(
        self, fetches: list[Any], commit_errors: list[BaseException] = (), commits_hanging: int = 0
    ) -> None:
        self.fetches = fetches
        self.commit_errors = list(commit_errors)
        self.commits_hanging = commits_hanging
        self.committed: list[dict[TopicPartition, int]] = []
        self.stopped = False

    def subscribe(self, topics: list[str], listener: Any) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None:
        self.stopped = True

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[Any]]:
        if not self.fetches:
            await asyncio.Event().wait()  # nothing more, as a quiet topic
        fetched = self.fetches.pop(0)
        if isinstance(fetched, BaseException):
            raise fetched
        return fetched

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        if self.commits_hanging:
            self.commits_hanging -= 1
            await asyncio.Event().wait()  # as aiokafka's did, waiting for a coordinator after a restart
        if self.commit_errors:
            raise self.commit_errors.pop(0)
        self.committed.append(offsets)

    def assignment(self) -> set[TopicPartition]:
        return {TP}

    def paused(self) -> set[TopicPartition]:
        return set()

    def pause(self, *tps: TopicPartition) -> None: ...

    def resume(self, *tps: TopicPartition) -> None: ...


TP = TopicPartition("p.intake.complaints.v1", 0)


def _records(*case_ids: str, first_offset: int = 0) -> dict[TopicPartition, list[Any]]:
    records = []
    for n, case_id in enumerate(case_ids):
        value, headers, _ = _complaint_value(case_id=case_id)
        records.append(
            SimpleNamespace(
                topic=TP.topic, partition=0, offset=first_offset + n, key=b"k", value=value, headers=headers
            )
        )
    return {TP: records}


async def _outlived(client: FakeClient) -> list[str]:
    """Run a consumer on `client` until it commits: what it handled (the commit covering both records,
    nothing fatal, no stall). Each fetch is a batch of its own: nothing lingers to join them."""
    fatal: list[BaseException] = []
    consumer, _ = _consumer(on_fatal=fatal.append, linger_ms=0)
    seen: list[str] = []

    async def handler(env, payload):
        seen.append(payload.case_id)

    consumer.handle("complaint.received", handler)
    consumer.run(client)  # type: ignore[arg-type]
    try:
        await eventually(lambda: client.committed, timeout_s=5)
        assert client.committed == [{TP: 2}]
        assert (fatal, consumer.stall()) == ([], None)
        return seen
    finally:
        await consumer.stop()


async def test_broker_errors_on_a_fetch_or_a_commit_are_outlived_and_the_next_commit_covers_the_missed_one() -> (
    None
):
    client = FakeClient(
        [
            NodeNotReadyError("broker restarting"),
            _records("YD-FETCH00001"),
            _records("YD-FETCH00002", first_offset=1),
        ],
        commit_errors=[GroupCoordinatorNotAvailableError("coordinator moving")],
    )
    assert await _outlived(client) == ["YD-FETCH00001", "YD-FETCH00002"]


class BatchLog:
    """Notes the case ids each handling took: a batch's, or one event's alone (a run of one)."""

    def __init__(self, before: Callable[[], Awaitable[Any]] | None = None) -> None:
        self.batches: list[list[str]] = []
        self._before = before

    async def many(self, items: list[tuple[Any, Any]]) -> list[Any]:
        if self._before is not None:
            await self._before()
        self.batches.append([p.case_id for _env, p in items])
        return []

    async def one(self, env: Any, payload: Any) -> None:
        self.batches.append([payload.case_id])


async def test_records_that_arrive_while_an_idle_worker_lingers_join_its_batch() -> None:
    """At a few records a second each would otherwise be a batch of its own and pay every round trip."""
    client = FakeClient([_records("YD-F1RST00001"), _records("YD-NEXT000002", first_offset=1)])
    consumer, _ = _consumer(linger_ms=200)
    log = BatchLog()
    consumer.handle("complaint.received", log.one, batch=log.many)
    consumer.run(client)  # type: ignore[arg-type]
    try:
        await eventually(lambda: client.committed, timeout_s=5)
        assert log.batches == [["YD-F1RST00001", "YD-NEXT000002"]]
        assert client.committed == [{TP: 2}]
    finally:
        await consumer.stop()


async def test_full_batches_go_at_once_even_one_that_waited_for_the_busy_worker() -> None:
    """Lingering is for a few records: a busy topic (a backlog after an outage) is not slowed by it."""
    client = FakeClient(
        [
            _records("YD-BATCH00001", "YD-BATCH00002"),
            _records("YD-AFTER00003", "YD-AFTER00004", first_offset=2),
        ]
    )
    # The first batch is handled once the second fetch has been taken (and waits for the worker).
    log = BatchLog(before=lambda: eventually(lambda: not client.fetches, timeout_s=5))
    consumer, _ = _consumer(linger_ms=5000, batch_max=2)
    consumer.handle("complaint.received", log.one, batch=log.many)
    consumer.run(client)  # type: ignore[arg-type]
    try:
        # Well inside the 5 s either batch would have lingered.
        await eventually(lambda: len(client.committed) == 2, timeout_s=2.5)
        assert log.batches == [["YD-BATCH00001", "YD-BATCH00002"], ["YD-AFTER00003", "YD-AFTER00004"]]
        assert client.committed == [{TP: 2}, {TP: 4}]
    finally:
        await consumer.stop()


async def test_a_commit_that_hangs_is_given_up_and_the_next_commit_covers_it() -> None:
    client = FakeClient(
        [_records("YD-HANG000001"), _records("YD-HANG000002", first_offset=1)], commits_hanging=1
    )
    assert await _outlived(client) == ["YD-HANG000001", "YD-HANG000002"]


async def test_commits_failing_for_long_get_a_new_group_client_which_is_redelivered_what_was_not_committed() -> (
    None
):
    """As after a broker restart at 75/s: every commit waited for a coordinator that never came back,
    while records kept being fetched and handled, so the lag never went down."""
    wedged = FakeClient(
        [_records("YD-WEDGE00001"), _records("YD-WEDGE00002", first_offset=1)], commits_hanging=1000
    )
    # The group's offsets were never moved: the new client is handed both records again.
    fresh = FakeClient([_records("YD-WEDGE00001", "YD-WEDGE00002")])
    # Both handled and their commits given up; no record arrives after them: the watchdog replaces it.
    seen, replaced = await _on_a_new_client(
        wedged, fresh, replace(FAST, commit_timeout_s=0.05, client_stuck_s=0.3)
    )
    assert fresh.committed == [{TP: 2}] and wedged.committed == []
    assert wedged.stopped and replaced == 1
    assert seen == ["YD-WEDGE00001", "YD-WEDGE00002"] * 2  # handled again: handlers are idempotent
    assert fresh.stopped


async def test_fetches_failing_for_long_get_a_new_group_client() -> None:
    """As after a broker restart at 150/s: every fetch failed for minutes with "Unexpected error during
    coordination" (the client's connection to the coordinator closed for good), so nothing was fetched
    or committed and the lag grew."""
    closed = KafkaError("Unexpected error during coordination RuntimeError('the handler is closed')")
    wedged = FakeClient([closed] * 100_000)
    fresh = FakeClient([_records("YD-FETCH00001")])
    seen, replaced = await _on_a_new_client(wedged, fresh, replace(FAST, client_stuck_s=0.3))
    assert fresh.committed == [{TP: 1}] and wedged.stopped and replaced == 1
    assert seen == ["YD-FETCH00001"]


async def _on_a_new_client(
    wedged: FakeClient, fresh: FakeClient, policy: RetryPolicy
) -> tuple[list[str], int]:
    """Run a consumer on `wedged`, whose next group client is `fresh`, until `fresh` commits: what it
    handled and how many clients it replaced (nothing fatal, no stall)."""
    clients = iter([fresh])
    fatal: list[BaseException] = []
    consumer, _ = _consumer(policy, on_fatal=fatal.append, client_factory=lambda: next(clients))
    seen: list[str] = []

    async def handler(env, payload):
        seen.append(payload.case_id)

    consumer.handle("complaint.received", handler)
    consumer.run(wedged)  # type: ignore[arg-type]
    try:
        await eventually(lambda: fresh.committed, timeout_s=5)
        assert (fatal, consumer.stall()) == ([], None)
        return seen, consumer.clients_replaced
    finally:
        await consumer.stop()


async def _fatal_of(client: FakeClient) -> tuple[BaseException, str | None]:
    """Run a consumer on `client` until it calls on_fatal: what it stopped on, and its stall then."""
    fatal: list[BaseException] = []
    consumer, _ = _consumer(on_fatal=fatal.append)
    consumer.handle("complaint.received", lambda env, payload: asyncio.sleep(0))
    consumer.run(client)  # type: ignore[arg-type]
    try:
        await eventually(lambda: fatal, timeout_s=5)
        return fatal[0], consumer.stall()
    finally:
        await consumer.stop()


async def test_a_bug_that_ends_the_fetch_loop_stops_the_process_instead_of_idling() -> None:
    exc, stall = await _fatal_of(FakeClient([ValueError("a bug in the loop")]))
    assert repr(exc) == "ValueError('a bug in the loop')"
    assert stall == "the fetch loop has ended"


async def test_a_worker_that_fails_stops_the_process_instead_of_leaving_every_topic_unread() -> None:
    client = FakeClient([_records("YD-WKR0000001")], commit_errors=[RuntimeError("a bug after the batch")])
    exc, _stall = await _fatal_of(client)
    assert repr(exc) == "RuntimeError('a bug after the batch')"
    assert client.committed == []


async def test_a_worker_busy_past_the_poll_interval_is_a_stall_that_fails_healthz() -> None:
    stuck = RetryPolicy(transient_budget_s=0.05, poll_margin_s=0.05)
    consumer, _ = _consumer(stuck)
    release = asyncio.Event()

    async def hangs(env, payload):
        await release.wait()

    consumer.handle("complaint.received", hangs)
    consumer.run(FakeClient([_records("YD-STK0000001")]))  # type: ignore[arg-type]
    try:
        stall = await eventually(consumer.stall, timeout_s=5)
        assert stall.startswith("the worker of p.intake.complaints.v1 has been busy for ")
        release.set()
        await eventually(lambda: consumer.stall() is None, timeout_s=5)
    finally:
        await consumer.stop()


class GroupCoordinator:
    """Named as aiokafka's, whose shielded commit goes on after the consumer gave it up."""

    async def _do_commit_offsets(self) -> None:
        raise UnknownMemberIdError("p.dispatch")


async def test_a_commit_given_up_that_fails_later_is_a_warning_and_anything_else_goes_to_asyncio() -> None:
    loop = asyncio.get_running_loop()
    to_asyncio: list[dict[str, Any]] = []
    original = loop.default_exception_handler
    loop.default_exception_handler = to_asyncio.append  # type: ignore[method-assign]
    try:
        late = asyncio.create_task(GroupCoordinator()._do_commit_offsets())

        async def other() -> None:
            raise ValueError("a bug elsewhere")

        elsewhere = asyncio.create_task(other())
        await asyncio.wait([late, elsewhere])
        for task in (late, elsewhere):
            late_commit_failures_as_warnings(
                loop,
                {
                    "message": "Task exception was never retrieved",
                    "future": task,
                    "exception": task.exception(),
                },
            )
        assert [c["future"] for c in to_asyncio] == [elsewhere]
    finally:
        loop.default_exception_handler = original  # type: ignore[method-assign]
