"""The one way every service changes its records: load → pure domain operation → one atomic
conditional write of the aggregate with its outbox → publish after the write.

- The write is conditional on the version that was read (`{_id, version}`), applied atomically by
  the store: a change that lost a race to another replica is retried on the fresh document, so no
  change ever overwrites another. In-process locks only spare this process pointless retries.
- The events of a change go into the aggregate's outbox in the same write (shared.outbox) and are
  published after it, behind whatever the outbox still holds, so an aggregate's events reach Kafka
  in the order they were written; what is not published then (Kafka down, a crash) the next writer
  or the relay publishes later. A committed change is reported as done whatever Kafka does.
- A change can carry a key (the consumed event's id, or the caller's Idempotency-Key): the key is
  recorded in the same write, and a change whose key is recorded already is not applied again, so a
  redelivered event or a retried request changes nothing twice. The same key with another request
  is refused (IdempotencyConflict).
- Several aggregates changed together use `Store.transaction`: the writes commit together, the
  events are published after the commit.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

import orjson
from pydantic import BaseModel
from pymongo import InsertOne, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from shared.contracts.base import Contract
from shared.contracts.envelope import Envelope, envelopes_for, utcnow
from shared.kafka.publisher import EventPublisher
from shared.locks import KeyedLocks
from shared.logging import get_logger
from shared.mongo import (
    ConcurrentChange,
    Document,
    bson_safe,
    bulk_write_in_one_commit,
    conflict_backoff,
    in_one_transaction,
)
from shared.outbox import OUTBOX, PENDING_SINCE, Outbox, outbox_entries, outbox_update

log = get_logger(__name__)

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

Event = tuple[str, Contract] | Envelope
"""What a domain operation returns for each thing that happened: (event type, payload), or an
envelope it built itself when the aggregate must remember the event's id (a decision superseded)."""

APPLIED = "applied"
_ABSENT = object()
# Fields of the stored document that are the unit of work's, not the aggregate's.
RESERVED = frozenset({"_id", "version", OUTBOX, PENDING_SINCE, APPLIED})


class NotFound(LookupError):
    def __init__(self, kind: str, item_id: str) -> None:
        super().__init__(f"{kind} {item_id} does not exist")
        self.item_id = item_id


class IdempotencyConflict(Exception):
    """An Idempotency-Key used before for a different request (the caller answers 409)."""

    def __init__(self, key: str) -> None:
        super().__init__(f"Idempotency-Key {key!r} was used before with a different request")


@dataclass(frozen=True)
class ChangeKey:
    """What makes a change happen once: a consumed event, or a caller's request under its key.

    `key` is the caller's own (kept for the error message); `digest` is what is stored: a hash of who
    asked and the key, so keys from different callers never collide and any string is a safe field
    name. `fingerprint` identifies the request, so the same key with another request is refused.
    """

    key: str
    digest: str
    fingerprint: str = ""

    @classmethod
    def of_event(cls, event_id: uuid.UUID | str) -> ChangeKey:
        return cls(key=str(event_id), digest=f"e{uuid.UUID(str(event_id)).hex}")

    @classmethod
    def of_request(cls, *, caller: str, key: str, request: Any) -> ChangeKey:
        digest = hashlib.sha256(f"{caller}\x00{key}".encode()).hexdigest()[:32]
        body = orjson.dumps(request, option=orjson.OPT_SORT_KEYS, default=str)
        return cls(key=key, digest=f"r{digest}", fingerprint=hashlib.sha256(body).hexdigest()[:32])

    def derived_id(self, prefix: str, length: int = 10) -> str:
        """A stable id for the thing this request creates: the retry finds the same one."""
        return f"{prefix}{self.digest[1 : 1 + length].upper()}"


@dataclass(frozen=True)
class Created(Generic[M]):
    item: M
    created: bool  # False: the id was taken already
    replayed: bool = False  # ...by this very request, retried (its key is recorded there)


@dataclass
class Transaction:
    """The session of a multi-document change and the publishing that waits for its commit."""

    session: AsyncClientSession
    after_commit: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


class Store:
    """A service's database, and multi-document transactions on it."""

    def __init__(self, db: AsyncDatabase[Document], *, attempts: int = 16) -> None:
        self.db = db
        self._attempts = attempts

    async def transaction(self, work: Callable[[Transaction], Awaitable[T]]) -> T:
        """Run `work` in one transaction, retried as a whole on a write conflict; publish after commit."""
        committed: list[Transaction] = []

        async def attempt(session: AsyncClientSession) -> T:
            committed[:] = [Transaction(session)]
            return await work(committed[0])

        result = await in_one_transaction(
            self.db.client,
            attempt,
            attempts=self._attempts,
            retry=lambda exc: isinstance(exc, ConcurrentChange),
        )
        for publish in committed[0].after_commit:
            await publish()
        return result


class Aggregates(Generic[M]):
    """The records of one kind of aggregate (a pydantic model) in one collection, and their changes.

    `correlation` names the case (or project) an aggregate's events belong to; `query_fields` adds
    fields computed from the aggregate for indexed queries (a case's next deadline), written with it.
    """

    def __init__(
        self,
        collection: AsyncCollection[Document],
        model: type[M],
        *,
        id_field: str,
        producer: str,
        publisher: EventPublisher,
        correlation: Callable[[M], str] | None = None,
        query_fields: Callable[[M], dict[str, Any]] | None = None,
        kind: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        attempts: int = 8,
    ) -> None:
        self.collection = collection
        self.model = model
        self.id_field = id_field
        self.producer = producer
        self.kind = kind or model.__name__
        self.outbox = Outbox(collection, publisher)
        self.locks = KeyedLocks()
        self._correlation = correlation or (lambda item: str(getattr(item, id_field)))
        self._query_fields = query_fields
        self._fields_of_model = frozenset(model.model_fields)
        self._clock = clock
        self._attempts = attempts

    async def ensure_indexes(self) -> None:
        await self.outbox.ensure_indexes()

    # ------------------------------------------------------------------ reading

    def _load(self, doc: dict[str, Any]) -> M:
        data = {k: v for k, v in doc.items() if k in self._fields_of_model}
        return self.model.model_validate({**data, self.id_field: doc["_id"]})

    async def get(self, item_id: str) -> M | None:
        doc = await self.collection.find_one({"_id": item_id}, {OUTBOX: 0, APPLIED: 0})
        return self._load(doc) if doc else None

    async def require(self, item_id: str) -> M:
        item = await self.get(item_id)
        if item is None:
            raise NotFound(self.kind, item_id)
        return item

    async def find(
        self,
        query: dict[str, Any],
        *,
        sort: list[tuple[str, int]] | None = None,
        skip: int = 0,
        limit: int = 0,
    ) -> list[M]:
        cursor = self.collection.find(query, {OUTBOX: 0, APPLIED: 0})
        if sort:
            cursor = cursor.sort(sort)
        if skip:
            cursor = cursor.skip(skip)
        if limit:
            cursor = cursor.limit(limit)
        return [self._load(d) async for d in cursor]

    async def made_by(self, item_id: str, key: ChangeKey) -> M | None:
        """The aggregate a request under `key` created, if it did; the same key with another request
        is refused. For creations that must be looked up before a transaction starts."""
        doc = await self.collection.find_one({"_id": item_id}, {OUTBOX: 0})
        if doc is None:
            return None
        self._replayed(doc, key)
        return self._load(doc)

    async def count(self, query: dict[str, Any]) -> int:
        return await self.collection.count_documents(query)

    # ------------------------------------------------------------------ writing

    def _fields(self, item: M) -> dict[str, Any]:
        doc: dict[str, Any] = bson_safe(item.model_dump(mode="python"))
        doc.pop(self.id_field)
        if self._query_fields is not None:
            doc.update(bson_safe(self._query_fields(item)))
        return doc

    def _changed(self, doc: dict[str, Any], item: M) -> dict[str, Any]:
        """The fields of `item` that differ from the stored `doc` it was loaded from: a change sets only
        those, so the store rewrites no index entry of a field it left alone (a case has eleven)."""
        return {name: value for name, value in self._fields(item).items() if doc.get(name, _ABSENT) != value}

    def _envelopes(
        self, item: M, events: Iterable[Event], cause: uuid.UUID | None, now: datetime
    ) -> list[Envelope]:
        events = list(events)
        pairs = [e for e in events if not isinstance(e, Envelope)]
        made = iter(
            envelopes_for(
                pairs, correlation_id=self._correlation(item), producer=self.producer, now=now, cause=cause
            )
        )
        return [e if isinstance(e, Envelope) else next(made) for e in events]

    def _replayed(self, doc: dict[str, Any], key: ChangeKey | None) -> bool:
        """True when `key` was applied to this document already (the same request: nothing to do)."""
        if key is None:
            return False
        seen = (doc.get(APPLIED) or {}).get(key.digest)
        if seen is None:
            return False
        if seen.get("fingerprint", "") != key.fingerprint:
            raise IdempotencyConflict(key.key)
        return True

    async def create(
        self,
        item: M,
        events: Iterable[Event] = (),
        *,
        cause: uuid.UUID | None = None,
        key: ChangeKey | None = None,
        tx: Transaction | None = None,
    ) -> Created[M]:
        """Insert a new aggregate with its events. Its id taken already: the existing one is returned
        (created=False; replayed=True when this key made it), its left-over events published, and the
        same key with another request is refused. Inside a transaction a taken id aborts the
        transaction (the store's rule), so look before creating there."""
        now = self._clock()
        item_id = getattr(item, self.id_field)
        entries = outbox_entries(self._envelopes(item, events, cause, now), version=1, now=now)
        doc: dict[str, Any] = {
            "_id": item_id,
            **self._fields(item),
            "version": 1,
            OUTBOX: entries,
            APPLIED: {key.digest: {"at": now, "fingerprint": key.fingerprint}} if key else {},
        }
        if entries:
            doc[PENDING_SINCE] = now
        try:
            await self.collection.insert_one(doc, session=tx.session if tx else None)
        except DuplicateKeyError:
            if tx is not None:
                raise
            existing = await self.collection.find_one({"_id": item_id})
            if existing is None:  # the duplicate was on another unique index: a real conflict
                raise
            replayed = self._replayed(existing, key)
            # What an earlier attempt left goes out (the outbox skips what this process saw acknowledged).
            await self._after(tx, item_id, existing.get(OUTBOX) or {}, existing.get("version"))
            return Created(self._load(existing), created=False, replayed=replayed)
        await self._after(tx, item_id, entries, 1)
        return Created(item, created=True)

    async def change(
        self,
        item_id: str,
        operation: Callable[[M], Iterable[Event]],
        *,
        cause: uuid.UUID | None = None,
        key: ChangeKey | None = None,
        tx: Transaction | None = None,
    ) -> M:
        """Apply a pure domain operation (it changes the aggregate and returns its events) and write
        the result if nobody wrote since it was read; otherwise apply it again to the fresh aggregate.

        A consumed event's id (`cause`) is its key unless another is given: redelivered, it changes
        nothing. Domain errors raised by `operation` propagate unchanged and nothing is written.
        """
        item, _ = await self.change_recording(item_id, operation, None, cause=cause, key=key, tx=tx)
        return item

    async def change_recording(
        self,
        item_id: str,
        operation: Callable[[M], Iterable[Event]],
        result_of: Callable[[M], Any] | None,
        *,
        cause: uuid.UUID | None = None,
        key: ChangeKey | None = None,
        tx: Transaction | None = None,
    ) -> tuple[M, Any]:
        """`change`, also returning `result_of(changed aggregate)` (the id of a record it added),
        which is kept with the key: a retried request gets the first attempt's result back."""
        if key is None and cause is not None:
            key = ChangeKey.of_event(cause)
        session = tx.session if tx else None
        for attempt in range(self._attempts):
            # The lock (this process only) spans the write and the publish, so writers here queue
            # instead of retrying each other's versions.
            async with self.locks.hold(item_id):
                doc = await self.collection.find_one({"_id": item_id}, session=session)
                if doc is None:
                    raise NotFound(self.kind, item_id)
                pending, version = doc.get(OUTBOX) or {}, doc["version"]
                now = self._clock()
                if self._replayed(doc, key):
                    assert key is not None
                    await self._after(tx, item_id, pending, version)
                    return self._load(doc), doc[APPLIED][key.digest].get("result")
                item = self._load(doc)
                entries = outbox_entries(
                    self._envelopes(item, operation(item), cause, now), version=version + 1, now=now
                )
                result = result_of(item) if result_of else None
                applied = (
                    {f"{APPLIED}.{key.digest}": {"at": now, "fingerprint": key.fingerprint, "result": result}}
                    if key
                    else {}
                )
                update = _merge(
                    {"$set": {**self._changed(doc, item), "version": version + 1, **applied}},
                    outbox_update(entries, now),
                )
                written = await self.collection.update_one(
                    {"_id": item_id, "version": version}, update, session=session
                )
                if written.matched_count == 1:
                    # What the outbox still holds goes out first, in the order it was written.
                    await self._after(tx, item_id, {**pending, **entries}, version + 1)
                    return item, result
            if tx is not None:
                raise ConcurrentChange(f"{self.kind} {item_id} changed during the transaction")
            await conflict_backoff(attempt)
        raise ConcurrentChange(f"{self.kind} {item_id} kept changing under us")

    # ------------------------------------------------------------------ batches (consumers)

    async def existing(self, item_ids: Iterable[str]) -> set[str]:
        """Which of these ids exist: one indexed query for a batch."""
        ids = list(set(item_ids))
        return (
            {d["_id"] async for d in self.collection.find({"_id": {"$in": ids}}, {"_id": 1})}
            if ids
            else set()
        )

    async def load_many(self, item_ids: Iterable[str]) -> dict[str, M]:
        ids = list(set(item_ids))
        if not ids:
            return {}
        cursor = self.collection.find({"_id": {"$in": ids}}, {OUTBOX: 0, APPLIED: 0})
        return {d["_id"]: self._load(d) async for d in cursor}

    async def create_many(self, items: list[tuple[M, list[Event], uuid.UUID | None]]) -> list[M]:
        """`create` for a batch (item, its events, the consumed event that caused it): one insert,
        one publish, one clean-up. Ids taken already are skipped (redeliveries); returns what was new."""
        if not items:
            return []
        now = self._clock()
        docs, entries_of = [], {}
        for item, events, cause in items:
            item_id = getattr(item, self.id_field)
            entries = outbox_entries(self._envelopes(item, events, cause, now), version=1, now=now)
            applied = {ChangeKey.of_event(cause).digest: {"at": now, "fingerprint": ""}} if cause else {}
            doc = {"_id": item_id, **self._fields(item), "version": 1, OUTBOX: entries, APPLIED: applied}
            if entries:
                doc[PENDING_SINCE] = now
            docs.append(doc)
            entries_of[item_id] = entries
        taken: set[int] = set()
        try:
            await self.collection.bulk_write([InsertOne(d) for d in docs], ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != 11000 for e in errors):
                raise
            taken = {e["index"] for e in errors}
        made = [item for i, (item, _e, _c) in enumerate(items) if i not in taken]
        await self.outbox.publish_many_quietly(
            [(doc["_id"], entries_of[doc["_id"]], 1) for i, doc in enumerate(docs) if i not in taken]
        )
        return made

    async def change_many(
        self, changes: list[tuple[str, Callable[[M], Iterable[Event]], uuid.UUID]]
    ) -> set[str]:
        """`change` for a batch of consumed events (aggregate id, operation, the event's id), in order:
        one read, one bulk write of every aggregate changed, one publish. Changes of one aggregate are
        applied one after another to it; an aggregate another writer changed meanwhile is done again
        one change at a time on the fresh document, where the recorded event ids skip what landed.
        Returns the ids of aggregates that do not exist (their changes are left to the caller)."""
        if not changes:
            return set()
        by_id: dict[str, list[tuple[Callable[[M], Iterable[Event]], uuid.UUID]]] = {}
        for item_id, operation, cause in changes:
            by_id.setdefault(item_id, []).append((operation, cause))
        docs = {d["_id"]: d async for d in self.collection.find({"_id": {"$in": list(by_id)}})}
        missing = {i for i in by_id if i not in docs}
        for item_id in missing:
            del by_id[item_id]
        now = self._clock()
        writes, written = [], []
        marks: dict[str, list[str]] = {}  # the event ids each write records, by aggregate
        for item_id, ops in by_id.items():
            doc = docs[item_id]
            item = self._load(doc)
            entries: dict[str, Any] = {}
            applied: dict[str, Any] = {}
            for operation, cause in ops:
                key = ChangeKey.of_event(cause)
                if key.digest in (doc.get(APPLIED) or {}) or f"{APPLIED}.{key.digest}" in applied:
                    continue  # redelivered: done already
                entries |= outbox_entries(
                    self._envelopes(item, operation(item), cause, now), version=doc["version"] + 1, now=now
                )
                applied[f"{APPLIED}.{key.digest}"] = {"at": now, "fingerprint": ""}
            if not applied:
                continue
            update = _merge(
                {"$set": {**self._changed(doc, item), "version": doc["version"] + 1, **applied}},
                outbox_update(entries, now),
            )
            writes.append(UpdateOne({"_id": item_id, "version": doc["version"]}, update))
            written.append((item_id, {**(doc.get(OUTBOX) or {}), **entries}, doc["version"] + 1))
            marks[item_id] = list(applied)
        if not writes:
            return missing
        result = await bulk_write_in_one_commit(self.collection, writes)
        done = written
        if result.matched_count != len(writes):
            # Another writer changed some of them first. Its write took the same next version as
            # ours, so the version cannot tell whose landed; the event ids recorded can. What lacks
            # them is done again one change at a time on the fresh document (which skips what landed).
            projection = {mark: 1 for item_marks in marks.values() for mark in item_marks}
            landed = {
                d["_id"]
                async for d in self.collection.find({"_id": {"$in": list(marks)}}, projection)
                if all(mark.removeprefix(f"{APPLIED}.") in (d.get(APPLIED) or {}) for mark in marks[d["_id"]])
            }
            done = [w for w in written if w[0] in landed]
            for item_id in (i for i in marks if i not in landed):
                for operation, cause in by_id[item_id]:
                    await self.change(item_id, operation, cause=cause)
        await self.outbox.publish_many_quietly(done)
        return missing

    async def _after(
        self, tx: Transaction | None, item_id: str, entries: dict[str, Any], version: int | None
    ) -> None:
        if not entries:
            return
        if tx is None:
            await self.outbox.publish_quietly(item_id, entries, version)
        else:
            tx.after_commit.append(lambda: self.outbox.publish_quietly(item_id, entries, version))


def _merge(*updates: dict[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for update in updates:
        for op, fields in update.items():
            merged.setdefault(op, {}).update(fields)
    return merged
