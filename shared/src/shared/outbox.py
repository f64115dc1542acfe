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
import time
from collections import OrderedDict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import PyMongoError

from shared.contracts.envelope import Envelope, decode, encode, utcnow
from shared.kafka.publisher import EventPublisher, PublishFailed
from shared.logging import get_logger
from shared.mongo import Document

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

    What went out is removed from the documents shortly after, many documents in one bulk write
    (`clear_after_s`), not one write per change: under load that halves the store's writes. A crash
    before the removal only means the relay publishes those events again, with the same ids.
    """

    # Event ids this process has seen acknowledged, newest last: what the next writer of a document
    # finds still in its outbox and need not publish again (bounded: forgetting one costs a duplicate).
    ACKED_KEPT = 50_000

    def __init__(
        self,
        collection: AsyncCollection[Document],
        publisher: EventPublisher,
        *,
        grace_s: float = 2.0,
        clear_after_s: float = 0.1,
    ) -> None:
        self.collection = collection
        self._publisher = publisher
        # A document written this recently is being published by its writer; the relay leaves it be.
        self.grace = timedelta(seconds=grace_s)
        self._clear_after_s = clear_after_s
        self._to_clear: list[tuple[Any, list[str], int | None]] = []
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
            await self._publisher.publish_many([envelope for _id, envelope in ordered])
            self._remember_acked(event_id for event_id, _e in ordered)
        self._to_clear += [(doc_id, list(entries), version) for doc_id, entries, version in pending]
        if self._clearing is None or self._clearing.done():
            self._clearing = asyncio.create_task(
                self._clear_soon(), name=f"outbox-clear:{self.collection.name}"
            )
        return len(ordered)

    def _remember_acked(self, event_ids: Iterable[str]) -> None:
        for event_id in event_ids:
            self._acked[event_id] = None
        while len(self._acked) > self.ACKED_KEPT:
            self._acked.popitem(last=False)

    async def _clear_soon(self) -> None:
        await asyncio.sleep(self._clear_after_s)
        while self._to_clear:
            batch, self._to_clear = self._to_clear, []
            try:
                await self.clear(batch)
            except PyMongoError as exc:
                log.warning(
                    "published events not yet removed; the relay may publish them again (same ids)",
                    collection=self.collection.name,
                    documents=len(batch),
                    error=repr(exc),
                )

    async def flush(self) -> None:
        """Wait until what was published is removed (shutdown, tests)."""
        while self._clearing is not None and not self._clearing.done():
            await self._clearing

    async def clear(self, published: list[tuple[Any, list[str], int | None]]) -> None:
        """Remove published entries: where the document is still at the version they were read at, with
        its pending mark in the same write; elsewhere the entries alone, and the mark once it is empty."""
        whole = [(doc_id, ids, version) for doc_id, ids, version in published if version is not None]
        cleared: set[Any] = set()
        if whole:
            await self.collection.bulk_write(
                [
                    UpdateOne(
                        {"_id": doc_id, "version": version},
                        {"$unset": {**{f"{OUTBOX}.{e}": "" for e in ids}, PENDING_SINCE: ""}},
                    )
                    for doc_id, ids, version in whole
                ],
                ordered=False,
            )
            # Which of them matched is not reported per write: look at what is still marked.
            marked = {
                d["_id"]
                async for d in self.collection.find(
                    {"_id": {"$in": [doc_id for doc_id, _i, _v in whole]}, PENDING_SINCE: {"$exists": True}},
                    {"_id": 1},
                )
            }
            cleared = {doc_id for doc_id, _i, _v in whole if doc_id not in marked}
        rest = [(doc_id, ids) for doc_id, ids, _v in published if doc_id not in cleared]
        if rest:
            await self.collection.bulk_write(
                [
                    UpdateOne({"_id": doc_id}, {"$unset": {f"{OUTBOX}.{e}": "" for e in ids}})
                    for doc_id, ids in rest
                ],
                ordered=False,
            )
            await self.collection.bulk_write(
                [
                    UpdateOne({"_id": doc_id, OUTBOX: {}}, {"$unset": {PENDING_SINCE: ""}})
                    for doc_id, _ids in rest
                ],
                ordered=False,
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
