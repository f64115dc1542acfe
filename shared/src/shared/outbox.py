"""The transactional outbox: the events of a change are written in the same atomic write as the change.

A change to an aggregate (a case, a unit, a project) records its events inside the aggregate's own
document, under `outbox.<event_id>`, in the one version-checked write that changes it
(shared.unit_of_work), and marks the document with `outbox_at`, the time its oldest unpublished event
was written. Only after that write is acknowledged are the events published; then they are removed.
A crash, or Kafka being down, between the write and the publish leaves them in the document, and the
relay finds them through the (sparse) index on `outbox_at`. Event ids are fixed at write time, so an
event published twice (a crash after the publish, before the removal) is a duplicate consumers
recognise by its id.

Order: whoever publishes a document's events (its writer, the next writer, the relay) publishes every
event still in its outbox, in the order of the writes that added them, except those this process has
seen acknowledged. An event is removed only after its acknowledgement, so no event of an aggregate
reaches Kafka before one written earlier, whichever replica wrote each: consumers see a case's
reassignments in the order they were made. The price is a duplicate now and then (two replicas
writing one document within a moment), which consumers recognise by its id.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter, OrderedDict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import PyMongoError

from shared.contracts.envelope import Envelope, decode, encode, utcnow
from shared.kafka.publisher import EventPublisher, PublishFailed
from shared.logging import get_logger
from shared.mongo import ConcurrentChange, Document, bulk_write_in_one_commit

log = get_logger(__name__)

OUTBOX = "outbox"
PENDING_SINCE = "outbox_at"


def outbox_entries(
    envelopes: Iterable[Envelope], *, version: int, now: datetime | None = None
) -> dict[str, Any]:
    """Outbox entries by event id, for the write that makes the document `version`. The version orders
    the events of different writes (clocks of replicas differ; versions do not), `seq` those of one:
    a map's key order is not kept by every store."""
    base = time.time_ns()
    at = now or utcnow()
    return {
        str(e.event_id): {
            "value": encode(e).decode(),
            "added_at": at,
            "v": version,
            "seq": f"{base:020d}.{i:04d}",
        }
        for i, e in enumerate(envelopes)
    }


def _written_order(item: tuple[str, dict[str, Any]]) -> tuple[int, str]:
    entry = item[1]
    return entry.get("v", 0), entry.get("seq", "")


def outbox_update(entries: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The update operators that add `entries` to a document's outbox (merged into a write's update)."""
    if not entries:
        return {}
    # $min: an older unpublished event keeps the document's place in the relay's queue.
    return {
        "$set": {f"{OUTBOX}.{event_id}": entry for event_id, entry in entries.items()},
        "$min": {PENDING_SINCE: now},
    }


class Outbox:
    """Publishes the pending events of one collection's documents, and relays what was left behind.

    What went out is removed from the documents a moment later (`clear_after_s`), many documents in
    one bulk write, not one write per change, and a document written again meanwhile (a case opened,
    then shown its warranty decision) is cleared once for both. The removal rewrites the document, so
    it is most of what the outbox costs the store: at 200 complaints/s it was 1.5 of the store's 4 ms
    of CPU per complaint. The moment stays well inside the relay's grace, and a crash before the
    removal only means the relay publishes those events again, with the same ids.
    """

    # Event ids this process has seen acknowledged, newest last: what the next writer of a document
    # finds still in its outbox and need not publish again (bounded: forgetting one costs a duplicate).
    ACKED_KEPT = 50_000
    # Documents per removal command: after an outage thousands wait at once, and one command for all
    # of them outlasted the socket timeout (its work lost, the relay then publishing them all again).
    CLEAR_CHUNK = 250

    def __init__(
        self,
        collection: AsyncCollection[Document],
        publisher: EventPublisher,
        *,
        grace_s: float = 2.0,
        clear_after_s: float = 1.0,
    ) -> None:
        self.collection = collection
        self._publisher = publisher
        # A document written this recently is being published by its writer; the relay leaves it be.
        self.grace = timedelta(seconds=grace_s)
        self._clear_after_s = clear_after_s
        # Published, waiting for removal: by document, its event ids, the version they are the whole
        # outbox of (None: not known to be whole) and when the first of them was queued (monotonic).
        # Oldest first: a document written again keeps its place.
        self._to_clear: dict[Any, tuple[set[str], int | None, float]] = {}
        self._hurry = asyncio.Event()
        # Documents whose events are being published now: their removal waits to take the new ones
        # along (otherwise it would find the document at its new version and take two more writes).
        self._publishing: Counter[Any] = Counter()
        self._clearing: asyncio.Task[None] | None = None
        self._acked: OrderedDict[str, None] = OrderedDict()

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([(PENDING_SINCE, ASCENDING)], sparse=True)

    async def publish(self, doc_id: Any, entries: dict[str, Any], version: int | None) -> int:
        """Publish `entries` in the order they were written; their removal follows (see the class).

        `version`, when given, says `entries` are the whole outbox as of that version: if nobody wrote
        the document since, one write removes them with the document's pending mark. Otherwise the
        mark goes only once the outbox is empty, so the relay still finds what others left.
        """
        return await self.publish_many([(doc_id, entries, version)])

    async def publish_many(self, pending: list[tuple[Any, dict[str, Any], int | None]]) -> int:
        """Publish the changes of a batch with one wait for every acknowledgement; each document's
        events go in the order they were written (see the module: every event still in the outbox)."""
        pending = [(doc_id, entries, version) for doc_id, entries, version in pending if entries]
        if not pending:
            return 0
        ordered = [
            (event_id, decode(entry["value"].encode()))
            for _doc_id, entries, _version in pending
            for event_id, entry in sorted(entries.items(), key=_written_order)
            if event_id not in self._acked
        ]
        if ordered:
            self._publishing.update(doc_id for doc_id, _e, _v in pending)
            try:
                await self._publisher.publish_many([envelope for _id, envelope in ordered])
            finally:
                self._publishing.subtract(doc_id for doc_id, _e, _v in pending)
                self._publishing = +self._publishing
            self._remember_acked(event_id for event_id, _e in ordered)
        for doc_id, entries, version in pending:
            self._wait_for_clearing(doc_id, entries.keys(), version)
        if self._clearing is None or self._clearing.done():
            self._clearing = asyncio.create_task(
                self._clear_soon(), name=f"outbox-clear:{self.collection.name}"
            )
        return len(ordered)

    def _wait_for_clearing(self, doc_id: Any, event_ids: Iterable[str], version: int | None) -> None:
        """Queue published events for removal, merged with what waits for the same document: a later
        write's entries were its whole outbox, the earlier ones' included, so the union is whole as of
        the later version (an id removed meanwhile costs nothing to remove again)."""
        waiting = self._to_clear.get(doc_id)
        if waiting is None:
            self._to_clear[doc_id] = (set(event_ids), version, time.monotonic())
            return
        ids, known, since = waiting
        newer = None if version is None or known is None else max(version, known)
        self._to_clear[doc_id] = (ids | set(event_ids), newer, since)

    def _remember_acked(self, event_ids: Iterable[str]) -> None:
        for event_id in event_ids:
            self._acked[event_id] = None
        while len(self._acked) > self.ACKED_KEPT:
            self._acked.popitem(last=False)

    async def _clear_soon(self) -> None:
        """Remove each document's published events once they have waited `clear_after_s` (what is
        nearly due goes along, so one bulk write takes many), until nothing waits."""
        while self._to_clear:
            oldest = next(
                (
                    since
                    for doc_id, (_i, _v, since) in self._to_clear.items()
                    if doc_id not in self._publishing
                ),
                None,
            )
            wait = (
                self._clear_after_s / 4 if oldest is None else oldest + self._clear_after_s - time.monotonic()
            )
            if wait > 0 and not self._hurry.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._hurry.wait(), wait)
            due_by = time.monotonic() - self._clear_after_s * 0.75
            due = [
                (doc_id, sorted(ids), version)
                for doc_id, (ids, version, since) in self._to_clear.items()
                if self._hurry.is_set() or (since <= due_by and doc_id not in self._publishing)
            ]
            for doc_id, _ids, _version in due:
                del self._to_clear[doc_id]
            if not due:
                continue
            try:
                await self.clear(due)
            except (PyMongoError, ConcurrentChange) as exc:
                log.warning(
                    "published events not yet removed; the relay may publish them again (same ids)",
                    collection=self.collection.name,
                    documents=len(due),
                    error=repr(exc),
                )
        self._hurry.clear()

    async def flush(self) -> None:
        """Remove what was published now, and wait until it is done (shutdown, tests)."""
        while self._clearing is not None and not self._clearing.done():
            self._hurry.set()
            await self._clearing
        self._hurry.clear()

    async def clear(self, published: list[tuple[Any, list[str], int | None]]) -> None:
        """Remove published entries. Where they are the whole outbox as of a version, one write
        conditional on that version removes them with the pending mark. A document written since is
        left alone: its newer writer read these entries with it and removes them with its own (or the
        relay does, if that writer could not publish), so looking again would only cost the store.
        Entries of an unknown version go alone, and the mark once the outbox is empty."""
        if len(published) > self.CLEAR_CHUNK:
            for start in range(0, len(published), self.CLEAR_CHUNK):
                await self.clear(published[start : start + self.CLEAR_CHUNK])
            return
        whole = [(doc_id, ids, version) for doc_id, ids, version in published if version is not None]
        if whole:
            await bulk_write_in_one_commit(
                self.collection,
                [
                    UpdateOne(
                        {"_id": doc_id, "version": version},
                        {"$unset": {**{f"{OUTBOX}.{e}": "" for e in ids}, PENDING_SINCE: ""}},
                    )
                    for doc_id, ids, version in whole
                ],
            )
        rest = [(doc_id, ids) for doc_id, ids, version in published if version is None]
        if rest:
            await bulk_write_in_one_commit(
                self.collection,
                [
                    UpdateOne({"_id": doc_id}, {"$unset": {f"{OUTBOX}.{e}": "" for e in ids}})
                    for doc_id, ids in rest
                ],
            )
            await bulk_write_in_one_commit(
                self.collection,
                [
                    UpdateOne({"_id": doc_id, OUTBOX: {}}, {"$unset": {PENDING_SINCE: ""}})
                    for doc_id, _ids in rest
                ],
            )

    async def publish_many_quietly(self, pending: list[tuple[Any, dict[str, Any], int | None]]) -> None:
        """`publish_many` after committed changes: a failure is left to the relay, never raised."""
        try:
            await self.publish_many(pending)
        except (PublishFailed, PyMongoError) as exc:
            log.warning(
                "changes saved, their events not yet published; the relay will",
                collection=self.collection.name,
                documents=len(pending),
                error=repr(exc),
            )

    async def publish_quietly(self, doc_id: Any, entries: dict[str, Any], version: int | None) -> None:
        """Publish after a committed change: a failure is logged and left to the relay, never raised,
        because the change itself is done and its caller must hear so."""
        await self.publish_many_quietly([(doc_id, entries, version)])

    async def relay_once(self, limit: int = 500) -> int:
        """Publish what earlier writes left behind (a crash, Kafka down); returns how many went out."""
        cutoff = utcnow() - self.grace
        cursor = self.collection.find({PENDING_SINCE: {"$lte": cutoff}}, {OUTBOX: 1, "version": 1})
        sent = 0
        async for doc in cursor.sort(PENDING_SINCE, ASCENDING).limit(limit):
            if doc.get(OUTBOX):
                sent += await self.publish(doc["_id"], doc[OUTBOX], doc.get("version"))
            else:  # published, its removal done, the mark left by a writer that raced it
                await self.collection.update_one(
                    {"_id": doc["_id"], OUTBOX: {}}, {"$unset": {PENDING_SINCE: ""}}
                )
        await self.flush()
        return sent

    async def relay_forever(self, interval_s: float) -> None:
        """The relay: every `interval_s`, one indexed query for documents with unpublished events."""
        while True:
            try:
                sent = await self.relay_once()
                if sent:
                    log.info(
                        "outbox relay published left-over events", collection=self.collection.name, sent=sent
                    )
            except (PublishFailed, PyMongoError) as exc:
                log.warning(
                    "outbox relay could not publish yet", collection=self.collection.name, error=repr(exc)
                )
            await asyncio.sleep(interval_s)
