"""A MongoDB collection of one kind of aggregate (a pydantic model), written with its outbox.

Each write stores the aggregate and the events of that change in one document; a change goes
through `change()`, which holds the aggregate's lock (see shared.locks) for read-modify-write.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from shared.contracts.envelope import Envelope
from shared.locks import KeyedLocks
from shared.logging import get_logger
from shared.mongo import bson_safe
from shared.outbox import Outbox, outbox_fields, outbox_map

M = TypeVar("M", bound=BaseModel)
log = get_logger(__name__)


class NotFound(Exception):
    pass


class AggregateStore(Generic[M]):
    def __init__(
        self, collection: AsyncCollection, model: type[M], id_field: str, publisher: Any, locks: KeyedLocks
    ) -> None:
        self.collection = collection
        self.model = model
        self.id_field = id_field
        self.locks = locks
        self.outbox = Outbox(collection, publisher, locks)

    def _fields(self, item: M) -> dict[str, Any]:
        doc = bson_safe(item.model_dump(mode="python"))
        doc.pop(self.id_field)
        return doc

    def _load(self, doc: dict[str, Any]) -> M:
        data = {k: v for k, v in doc.items() if k not in ("_id", "outbox")}
        return self.model.model_validate({**data, self.id_field: doc["_id"]})

    async def insert(self, item: M, events: list[Envelope]) -> bool:
        """False when it exists already (a redelivery); then nothing is written."""
        doc = {"_id": getattr(item, self.id_field), **self._fields(item), "outbox": outbox_map(events)}
        try:
            await self.collection.insert_one(doc)
            return True
        except DuplicateKeyError:
            return False

    async def get(self, item_id: str) -> M | None:
        doc = await self.collection.find_one({"_id": item_id}, {"outbox": 0})
        return self._load(doc) if doc else None

    async def find(self, query: dict[str, Any], *, sort: list[tuple[str, int]] | None = None, limit: int = 0) -> list[M]:
        cursor = self.collection.find(query, {"outbox": 0})
        if sort:
            cursor = cursor.sort(sort)
        if limit:
            cursor = cursor.limit(limit)
        return [self._load(d) async for d in cursor]

    async def change(self, item_id: str, operation: Callable[[M], list[Envelope]]) -> M:
        """Read, apply `operation` (which returns the events it causes), write; then publish."""
        async with self.locks.hold(item_id):
            item = await self.get(item_id)
            if item is None:
                raise NotFound(item_id)
            events = operation(item)
            await self.collection.update_one({"_id": item_id}, {"$set": {**self._fields(item), **outbox_fields(events)}})
        if events:
            try:
                await self.outbox.flush(item_id)
            except Exception as exc:
                log.warning("event saved but not yet published; the relay will", id=item_id, error=repr(exc))
        return item
