"""A transactional outbox without transactions: events live inside the document they describe.

A service changes an aggregate (a case, a unit, a project) and records the events of that change in
the same single-document write, under `outbox.<event_id>`. Only then are they published; each one
published is `$unset`. A crash between the write and the publish leaves the event in the document,
and the relay publishes it later, so no acknowledged change ever misses its event. Event ids are
fixed at write time, so a publish repeated after a crash is a duplicate consumers recognise.
(FerretDB has no transactions and no `$pull` by condition; a map keyed by event id needs neither.)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import PyMongoError

from shared.contracts.envelope import Envelope, decode, encode, utcnow
from shared.kafka.publisher import EventPublisher, PublishFailed
from shared.locks import KeyedLocks
from shared.logging import get_logger

log = get_logger(__name__)


def _entries(envelopes: Iterable[Envelope]) -> dict[str, Any]:
    # `seq` keeps the events of one change in the order they happened: a map's key order is not kept
    # by every store, and two events written in the same millisecond share `added_at`.
    base = time.time_ns()
    return {
        str(e.event_id): {"value": encode(e).decode(), "added_at": utcnow(), "seq": f"{base:020d}.{i:04d}"}
        for i, e in enumerate(envelopes)
    }


def outbox_fields(envelopes: Iterable[Envelope]) -> dict[str, Any]:
    """`$set` fields that add these events to a document's outbox."""
    return {f"outbox.{event_id}": entry for event_id, entry in _entries(envelopes).items()}


def outbox_map(envelopes: Iterable[Envelope]) -> dict[str, Any]:
    """The outbox as a whole-document field (for inserts)."""
    return _entries(envelopes)


class Outbox:
    """Publishes a collection's outbox entries; writes under `locks` like every other writer of it.

    Two ways back for an event that was written but not published. A flush that failed (Kafka down)
    notes its document here, and the relay retries just those, by `_id`, every `interval_s`. A crash
    leaves no note, so the relay also sweeps the whole collection for non-empty outboxes when it starts
    and every `sweep_interval_s`: on FerretDB that query reads every document, so it runs rarely.
    """

    def __init__(self, collection: AsyncCollection, publisher: EventPublisher, locks: KeyedLocks) -> None:
        self._collection = collection
        self._publisher = publisher
        self._locks = locks
        self._unpublished: set[Any] = set()

    @property
    def unpublished(self) -> int:
        """Documents whose events this process knows are still waiting (flush failed)."""
        return len(self._unpublished)

    async def flush(self, doc_id: Any) -> int:
        """Publish the pending events of one document; returns how many went out."""
        try:
            async with self._locks.hold(str(doc_id)):
                doc = await self._collection.find_one({"_id": doc_id}, {"outbox": 1})
                sent = await self._flush_doc(doc) if doc else 0
        except Exception:
            self._unpublished.add(doc_id)
            raise
        self._unpublished.discard(doc_id)
        return sent

    async def _flush_doc(self, doc: dict[str, Any]) -> int:
        pending = sorted((doc.get("outbox") or {}).items(), key=lambda kv: kv[1].get("seq", ""))
        sent = 0
        for event_id, entry in pending:
            await self._publisher.publish(decode(entry["value"].encode()))
            await self._collection.update_one({"_id": doc["_id"]}, {"$unset": {f"outbox.{event_id}": ""}})
            sent += 1
        return sent

    async def retry_unpublished(self) -> int:
        """Flush the documents whose flush failed earlier in this process."""
        sent = 0
        for doc_id in list(self._unpublished):
            sent += await self.flush(doc_id)
        return sent

    async def relay_once(self, limit: int = 200) -> int:
        """Sweep: publish whatever earlier writes left in any outbox (after a crash or a Kafka outage)."""
        sent = 0
        ids = [d["_id"] async for d in self._collection.find({"outbox": {"$ne": {}}}, {"_id": 1}).limit(limit)]
        for doc_id in ids:
            sent += await self.flush(doc_id)
        return sent

    async def relay_forever(self, interval_s: float, sweep_interval_s: float | None = None) -> None:
        """Retry failed flushes every `interval_s`; sweep at start and every `sweep_interval_s`."""
        sweep_every = max(interval_s, sweep_interval_s or interval_s)
        next_sweep = time.monotonic()
        while True:
            sweep = time.monotonic() >= next_sweep
            try:
                sent = await (self.relay_once() if sweep else self.retry_unpublished())
                if sweep:
                    next_sweep = time.monotonic() + sweep_every
                if sent:
                    log.info("outbox relay published left-over events", collection=self._collection.name,
                             sent=sent, sweep=sweep)
            except (PublishFailed, PyMongoError) as exc:
                log.warning("outbox relay could not publish yet", error=repr(exc))
            await asyncio.sleep(interval_s)
