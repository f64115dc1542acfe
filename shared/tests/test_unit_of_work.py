"""The unit of work on the real store and broker: no change lost to a race, no event lost to a crash
or an outage, nothing done twice for a redelivery or a retried request."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
from pydantic import BaseModel, Field
from pymongo import AsyncMongoClient, InsertOne, UpdateOne, monitoring
from pymongo.errors import ConnectionFailure, PyMongoError

from shared.config import ServiceSettings
from shared.contracts.complaints import ComplaintReceived
from shared.contracts.envelope import Envelope, make_envelope, utcnow
from shared.contracts.registry import load_registry
from shared.kafka.consumer import TransientError
from shared.kafka.publisher import EventPublisher, PublishFailed
from shared.mongo import ConcurrentChange, bulk_write_in_one_commit, in_one_transaction
from shared.outbox import outbox_entries
from shared.testing.fixtures import eventually
from shared.testing.kafka import read_topic
from shared.unit_of_work import Aggregates, ChangeKey, IdempotencyConflict, Store, Transaction

pytestmark = pytest.mark.integration

EXAMPLE = load_registry().get("intake.complaints.v1").events[0].examples[0]["payload"]


class Tally(BaseModel):
    """A stand-in aggregate: a count, and the notes of every change that made it."""

    tally_id: str
    n: int = 0
    notes: list[str] = Field(default_factory=list)


def _event(tally_id: str, note: str) -> tuple[str, ComplaintReceived]:
    return "complaint.received", ComplaintReceived.model_validate(
        {**EXAMPLE, "case_id": tally_id, "description": note}
    )


def bump(note: str):
    def operation(t: Tally) -> list[Any]:
        t.n += 1
        t.notes.append(note)
        return [_event(t.tally_id, note)]

    return operation


class SwitchablePublisher:
    """The real publisher behind a switch that makes it fail the way a broker outage does."""

    def __init__(self, real: EventPublisher) -> None:
        self.real = real
        self.down = False

    async def publish(self, envelope: Envelope) -> Any:
        if self.down:
            raise PublishFailed("broker unreachable (switched off by the test)")
        return await self.real.publish(envelope)

    async def publish_many(self, envelopes: list[Envelope]) -> None:
        if self.down:
            raise PublishFailed("broker unreachable (switched off by the test)")
        await self.real.publish_many(envelopes)


class Kit:
    def __init__(self, isolation: Any) -> None:
        self.settings = isolation.settings(ServiceSettings, service_name="intake")
        self.publisher = EventPublisher(self.settings)
        self.switch = SwitchablePublisher(self.publisher)
        self.mongo: AsyncMongoClient = AsyncMongoClient(self.settings.mongodb_url, tz_aware=True)
        self.db = self.mongo[self.settings.mongodb_database]
        self.topic = isolation.topic("intake.complaints.v1")

    def replica(self) -> Aggregates[Tally]:
        """One service instance's view of the collection (its own locks, as on another machine)."""
        return Aggregates(
            self.db["tallies"], Tally, id_field="tally_id", producer="intake", publisher=self.switch
        )  # type: ignore[arg-type]

    async def read(self, count: int) -> list[Envelope]:
        records = await read_topic(
            self.settings.kafka_bootstrap_servers, self.topic, until=lambda r: len(r) >= count, settle_s=0.7
        )
        return [r.envelope() for r in records]


@pytest.fixture
async def kit(isolation):
    k = Kit(isolation)
    await k.publisher.start()
    await k.replica().ensure_indexes()
    yield k
    await k.mongo.close()
    await k.publisher.stop()


async def test_a_change_is_written_with_its_event_published_once_and_the_outbox_emptied(kit) -> None:
    tallies = kit.replica()
    await tallies.create(Tally(tally_id="YD-W0RK000001"))
    changed = await tallies.change("YD-W0RK000001", bump("第一次"))
    assert changed.n == 1
    events = await kit.read(1)
    assert [e.payload["description"] for e in events] == ["第一次"]
    await tallies.outbox.flush()  # the removal of what went out follows the publish by a moment
    doc = await kit.db["tallies"].find_one({"_id": "YD-W0RK000001"})
    assert doc["outbox"] == {} and "outbox_at" not in doc and doc["version"] == 2


class Updates(monitoring.CommandListener):
    """Counts the update commands a client sends: what the outbox's removals cost the store."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "update":
            self.sent.append(event.command)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture
async def watched(kit):
    """The kit's collection through a client that records its update commands: (updates, tallies)."""
    updates = Updates()
    client: AsyncMongoClient = AsyncMongoClient(
        kit.settings.mongodb_url, tz_aware=True, event_listeners=[updates]
    )
    yield (
        updates,
        Aggregates(
            client[kit.settings.mongodb_database]["tallies"],
            Tally,
            id_field="tally_id",
            producer="intake",
            publisher=kit.switch,  # type: ignore[arg-type]
        ),
    )
    await client.close()


async def test_an_aggregate_written_again_before_its_removal_is_cleared_by_one_write(kit, watched) -> None:
    updates, tallies = watched
    await tallies.create(Tally(tally_id="YD-W0RK000009"), [_event("YD-W0RK000009", "开")])
    await tallies.change("YD-W0RK000009", bump("第一次"))
    await tallies.change("YD-W0RK000009", bump("第二次"))
    changes = len(updates.sent)
    await tallies.outbox.flush()
    removals = updates.sent[changes:]
    # One update command with one statement: the entries of all three writes and the mark.
    assert [len(u["updates"]) for u in removals] == [1]
    assert set(removals[0]["updates"][0]["u"]["$unset"]) == {
        *(f"outbox.{e.event_id}" for e in await kit.read(3)),
        "outbox_at",
    }
    doc = await kit.db["tallies"].find_one({"_id": "YD-W0RK000009"})
    assert doc["outbox"] == {} and "outbox_at" not in doc and doc["version"] == 3


async def test_a_backlog_of_removals_goes_in_commands_of_bounded_size(kit, watched) -> None:
    updates, tallies = watched
    tallies.outbox.CLEAR_CHUNK = 2
    ids = [f"YD-W0RK00002{i}" for i in range(5)]
    await tallies.create_many([(Tally(tally_id=i), [_event(i, "开")], uuid.uuid4()) for i in ids])
    await tallies.outbox.flush()
    assert [len(u["updates"]) for u in updates.sent] == [2, 2, 1]
    left = await kit.db["tallies"].count_documents({"_id": {"$in": ids}, "outbox_at": {"$exists": True}})
    assert left == 0


async def test_a_change_sets_only_the_fields_it_changed(kit, watched) -> None:
    updates, tallies = watched
    await tallies.create(Tally(tally_id="YD-W0RK000010", notes=["开"]))

    def count(t: Tally) -> list[Any]:
        t.n += 1
        return []

    await tallies.change("YD-W0RK000010", count)
    await tallies.change_many([("YD-W0RK000010", count, uuid.uuid4())])
    sets = [u["u"]["$set"] for c in updates.sent for u in c["updates"] if "$set" in u["u"]]
    assert [sorted(k for k in s if not k.startswith("applied.")) for s in sets] == [["n", "version"]] * 2
    stored = await kit.db["tallies"].find_one({"_id": "YD-W0RK000010"})
    assert (stored["n"], stored["notes"], stored["version"]) == (2, ["开"], 3)


async def test_a_batch_of_changes_leaves_aggregates_that_do_not_exist_to_the_caller(kit) -> None:
    tallies = kit.replica()
    await tallies.create(Tally(tally_id="YD-W0RK000011"))
    unknown = await tallies.change_many(
        [("YD-W0RK000011", bump("有"), uuid.uuid4()), ("YD-W0RK000012", bump("无"), uuid.uuid4())]
    )
    assert unknown == {"YD-W0RK000012"}
    assert (await tallies.require("YD-W0RK000011")).notes == ["有"]
    assert await tallies.get("YD-W0RK000012") is None


async def test_two_replicas_changing_one_aggregate_lose_nothing(kit) -> None:
    """The guarantee is the store's conditional write: each replica has its own locks."""
    first, second = kit.replica(), kit.replica()
    await first.create(Tally(tally_id="YD-W0RK000002"))

    async def writer(agg: Aggregates[Tally], name: str) -> None:
        for i in range(25):
            await agg.change("YD-W0RK000002", bump(f"{name}-{i}"))

    await asyncio.gather(writer(first, "a"), writer(second, "b"), writer(first, "c"), writer(second, "d"))
    final = await first.get("YD-W0RK000002")
    assert final is not None and final.n == 100 and len(set(final.notes)) == 100
    # Every change's event reaches Kafka, and in the order the changes were written: a consumer that
    # applies them one after another ends where the aggregate is. (A duplicate may follow; same id.)
    assert _first_occurrences(await kit.read(100)) == final.notes


def _first_occurrences(events: list[Envelope]) -> list[str]:
    seen: set[uuid.UUID] = set()
    firsts = []
    for e in events:
        if e.event_id not in seen:
            seen.add(e.event_id)
            firsts.append(e.payload["description"])
    return firsts


async def test_an_event_another_replica_has_not_yet_published_goes_out_before_the_next_change(kit) -> None:
    """Replica A's change is committed and its publish has not happened (slow, crashed, or Kafka away
    from A only); replica B changes the same aggregate a moment later: B's event must not overtake A's."""
    a, b = kit.replica(), kit.replica()
    await a.create(Tally(tally_id="YD-W0RK000006"))
    kit.switch.down = True  # A's publish fails; its event stays in the outbox
    await a.change("YD-W0RK000006", bump("A 改派给黄工"))
    kit.switch.down = False
    await b.change("YD-W0RK000006", bump("B 改派给马工"))
    assert _first_occurrences(await kit.read(2)) == ["A 改派给黄工", "B 改派给马工"]


async def test_a_change_committed_while_kafka_is_down_succeeds_and_is_published_later_once(kit) -> None:
    tallies = kit.replica()
    await tallies.create(Tally(tally_id="YD-W0RK000003"))
    kit.switch.down = True
    changed = await tallies.change("YD-W0RK000003", bump("断网时写入"))  # answers: the change is committed
    assert changed.n == 1
    doc = await kit.db["tallies"].find_one({"_id": "YD-W0RK000003"})
    assert len(doc["outbox"]) == 1 and doc["outbox_at"] is not None

    kit.switch.down = False
    tallies.outbox.grace = timedelta(0)  # the test need not wait out the grace of a fresh write
    relay = asyncio.create_task(tallies.outbox.relay_forever(interval_s=0.2))
    try:
        events = await kit.read(1)
        await asyncio.sleep(0.6)  # a few more relay rounds: nothing is published twice
        assert [e.payload["description"] for e in await kit.read(1)] == ["断网时写入"]
        assert len(events) == 1
        doc = await eventually(lambda: _published(kit, "YD-W0RK000003"))
        assert doc["outbox"] == {}
    finally:
        relay.cancel()


async def test_events_a_crash_left_behind_go_out_in_order_before_the_next_changes(kit) -> None:
    tallies = kit.replica()
    first, second = (
        make_envelope(
            _event("YD-W0RK000004", text)[1],
            event_type="complaint.received",
            schema_version=1,
            correlation_id="YD-W0RK000004",
            producer="intake",
        )
        for text in ("第一条", "第二条")
    )
    # As a writer that crashed a minute ago right after its write: the events are in, none published.
    entries = outbox_entries([first, second], version=1, now=utcnow() - timedelta(minutes=1))
    await kit.db["tallies"].insert_one(
        {
            "_id": "YD-W0RK000004",
            "n": 0,
            "notes": [],
            "version": 1,
            "outbox": entries,
            "outbox_at": next(iter(entries.values()))["added_at"],
        }
    )
    await tallies.change("YD-W0RK000004", bump("第三条"))
    events = await kit.read(3)
    assert [e.payload["description"] for e in events] == ["第一条", "第二条", "第三条"]


async def test_a_redelivered_event_and_a_retried_request_change_nothing_twice(kit) -> None:
    tallies = kit.replica()
    await tallies.create(Tally(tally_id="YD-W0RK000005"))
    cause = uuid.uuid4()
    await tallies.change("YD-W0RK000005", bump("from an event"), cause=cause)
    await tallies.change("YD-W0RK000005", bump("from an event"), cause=cause)  # redelivered
    key = ChangeKey.of_request(caller="sp-liu", key="retry-1", request={"note": "by hand"})
    first, made = await tallies.change_recording("YD-W0RK000005", bump("by hand"), lambda t: t.n, key=key)
    again, result = await tallies.change_recording("YD-W0RK000005", bump("by hand"), lambda t: t.n, key=key)
    assert first.n == again.n == 2 and made == result == 2  # the first attempt's result, not a new one
    other = ChangeKey.of_request(caller="sp-liu", key="retry-1", request={"note": "something else"})
    with pytest.raises(IdempotencyConflict):
        await tallies.change("YD-W0RK000005", bump("something else"), key=other)
    assert len(await kit.read(2)) == 2


async def test_a_transaction_commits_every_aggregate_or_none_and_publishes_after_commit(kit) -> None:
    tallies, store = kit.replica(), Store(kit.db)

    async def half_done(tx: Transaction) -> None:
        await tallies.create(Tally(tally_id="YD-W0RK000006"), [_event("YD-W0RK000006", "甲")], tx=tx)
        await tallies.create(Tally(tally_id="YD-W0RK000007"), [_event("YD-W0RK000007", "乙")], tx=tx)
        raise RuntimeError("refused half way")

    with pytest.raises(RuntimeError):
        await store.transaction(half_done)
    assert await tallies.get("YD-W0RK000006") is None and await tallies.get("YD-W0RK000007") is None

    async def whole(tx: Transaction) -> None:
        await tallies.create(Tally(tally_id="YD-W0RK000006"), [_event("YD-W0RK000006", "甲")], tx=tx)
        await tallies.create(Tally(tally_id="YD-W0RK000007"), [_event("YD-W0RK000007", "乙")], tx=tx)

    await store.transaction(whole)
    events = await kit.read(2)
    assert sorted(e.payload["description"] for e in events) == ["乙", "甲"]


async def test_a_batch_of_changes_commits_once_and_loses_nothing_to_a_replica_changing_the_same(
    kit, watched
) -> None:
    """A batch's updates go in one transaction (the store syncs once for the batch, not once per
    aggregate). Another replica changing the same aggregates meanwhile makes it try again or redo
    one change at a time; no change is lost or made twice."""
    updates, batches = watched
    singles = kit.replica()
    ids = [f"YD-W0RK00004{i}" for i in range(6)]
    await singles.create_many([(Tally(tally_id=i), [], uuid.uuid4()) for i in ids])

    async def in_batches() -> None:
        for r in range(8):
            await batches.change_many([(i, bump(f"批{r}"), uuid.uuid4()) for i in ids])

    async def one_by_one() -> None:
        for r in range(8):
            for i in ids:
                await singles.change(i, bump(f"单{r}"))

    await asyncio.gather(in_batches(), one_by_one())
    expected = sorted([f"批{r}" for r in range(8)] + [f"单{r}" for r in range(8)])
    for i in ids:
        tally = await singles.require(i)
        assert (tally.n, sorted(tally.notes)) == (16, expected)
    several = [c for c in updates.sent if len(c["updates"]) > 1]
    assert several, "no batch reached the store as one update command"
    assert all("txnNumber" in c and c.get("autocommit") is False for c in several)


async def test_a_bulk_write_in_one_commit_is_all_or_nothing(kit) -> None:
    await kit.db["tallies"].insert_many([{"_id": "YD-W0RK000050", "n": 0}, {"_id": "YD-W0RK000051", "n": 0}])
    with pytest.raises(PyMongoError):
        await bulk_write_in_one_commit(
            kit.db["tallies"],
            [UpdateOne({"_id": "YD-W0RK000050"}, {"$inc": {"n": 1}}), InsertOne({"_id": "YD-W0RK000051"})],
        )
    assert (await kit.db["tallies"].find_one({"_id": "YD-W0RK000050"}))["n"] == 0
    result = await bulk_write_in_one_commit(
        kit.db["tallies"],
        [
            UpdateOne({"_id": "YD-W0RK000050"}, {"$inc": {"n": 1}}),
            UpdateOne({"_id": "nobody"}, {"$inc": {"n": 1}}),
        ],
    )
    assert (result.matched_count, result.modified_count) == (1, 1)


async def test_documents_another_transaction_holds_are_a_transient_error_to_retry_later(kit) -> None:
    """A transaction left open (its process killed) holds what it wrote until the store's lifetime
    for transactions: a batch writing those documents meanwhile is redelivered later, not dead-lettered."""
    await kit.db["tallies"].insert_one({"_id": "YD-W0RK000060", "n": 0})
    async with kit.mongo.start_session() as holder:
        await holder.start_transaction()
        await kit.db["tallies"].update_one({"_id": "YD-W0RK000060"}, {"$inc": {"n": 1}}, session=holder)
        with pytest.raises(ConcurrentChange) as raised:
            await bulk_write_in_one_commit(
                kit.db["tallies"], [UpdateOne({"_id": "YD-W0RK000060"}, {"$inc": {"n": 10}})]
            )
        assert isinstance(raised.value, TransientError)
        await holder.abort_transaction()
    await bulk_write_in_one_commit(
        kit.db["tallies"], [UpdateOne({"_id": "YD-W0RK000060"}, {"$inc": {"n": 10}})]
    )
    assert (await kit.db["tallies"].find_one({"_id": "YD-W0RK000060"}))["n"] == 10


async def test_the_store_out_of_reach_is_raised_at_once_for_the_caller_to_ride_out() -> None:
    """A write conflict is tried again inside; an outage is not (each try would wait for the server)."""
    unreachable: AsyncMongoClient = AsyncMongoClient(
        "mongodb://127.0.0.1:1/", directConnection=True, serverSelectionTimeoutMS=100
    )
    tries = 0

    async def work(session: Any) -> None:
        nonlocal tries
        tries += 1
        await unreachable["yingde"]["tallies"].insert_one({"n": 1}, session=session)

    with pytest.raises(ConnectionFailure):
        await in_one_transaction(unreachable, work)
    assert tries == 1
    await unreachable.close()


async def _published(kit: Kit, doc_id: str) -> dict | None:
    doc = await kit.db["tallies"].find_one({"_id": doc_id})
    return doc if doc is not None and doc.get("outbox") == {} and "outbox_at" not in doc else None
