"""In-memory stand-ins for the unit of work, for unit tests of handlers (no broker, no store).

`FakeAggregates` keeps the promises of `shared.unit_of_work.Aggregates` that handlers rely on: a
change is applied to a copy and kept only if the operation returns; a consumed event's id or a
request's key applies a change once, and the same key with another request is refused; events are
recorded in `published`, in order. It does not simulate races or outages: those are tested on the
real store and broker.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from shared.contracts.envelope import Envelope, envelopes_for, utcnow
from shared.unit_of_work import ChangeKey, Created, Event, IdempotencyConflict, NotFound

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


class FakeAggregates(Generic[M]):
    def __init__(
        self,
        model: type[M],
        *,
        id_field: str,
        producer: str = "test",
        correlation: Callable[[M], str] | None = None,
        kind: str | None = None,
    ) -> None:
        self.model = model
        self.id_field = id_field
        self.producer = producer
        self.kind = kind or model.__name__
        self.items: dict[str, M] = {}
        self.applied: dict[str, dict[str, Any]] = {}  # id -> key digest -> {fingerprint, result}
        self.published: list[Envelope] = []
        self._correlation = correlation or (lambda item: str(getattr(item, id_field)))

    # ------------------------------------------------------------------ reading

    async def get(self, item_id: str) -> M | None:
        item = self.items.get(item_id)
        return item.model_copy(deep=True) if item is not None else None

    async def require(self, item_id: str) -> M:
        item = await self.get(item_id)
        if item is None:
            raise NotFound(self.kind, item_id)
        return item

    async def find(
        self, query: dict[str, Any], *, sort: Any = None, skip: int = 0, limit: int = 0
    ) -> list[M]:
        found = [i.model_copy(deep=True) for i in self.items.values() if _matches(i, query)]
        return found[skip : skip + limit] if limit else found[skip:]

    async def count(self, query: dict[str, Any]) -> int:
        return len(await self.find(query))

    async def existing(self, item_ids: Iterable[str]) -> set[str]:
        return {i for i in item_ids if i in self.items}

    async def load_many(self, item_ids: Iterable[str]) -> dict[str, M]:
        return {i: item for i in set(item_ids) if (item := await self.get(i)) is not None}

    async def made_by(self, item_id: str, key: ChangeKey) -> M | None:
        if item_id not in self.items:
            return None
        self._replayed(item_id, key)
        return await self.get(item_id)

    # ------------------------------------------------------------------ writing

    def _replayed(self, item_id: str, key: ChangeKey | None) -> bool:
        if key is None or key.digest not in self.applied.get(item_id, {}):
            return False
        if self.applied[item_id][key.digest]["fingerprint"] != key.fingerprint:
            raise IdempotencyConflict(key.key)
        return True

    def _publish(self, item: M, events: Iterable[Event], cause: uuid.UUID | None) -> None:
        events = list(events)
        pairs = [e for e in events if not isinstance(e, Envelope)]
        made = iter(
            envelopes_for(
                pairs,
                correlation_id=self._correlation(item),
                producer=self.producer,
                now=utcnow(),
                cause=cause,
            )
        )
        self.published += [e if isinstance(e, Envelope) else next(made) for e in events]

    async def create(
        self,
        item: M,
        events: Iterable[Event] = (),
        *,
        cause: uuid.UUID | None = None,
        key: ChangeKey | None = None,
        tx: Any = None,
    ) -> Created[M]:
        item_id = str(getattr(item, self.id_field))
        if item_id in self.items:
            return Created(await self.require(item_id), created=False, replayed=self._replayed(item_id, key))
        self.items[item_id] = item.model_copy(deep=True)
        if key is not None:
            self.applied.setdefault(item_id, {})[key.digest] = {
                "fingerprint": key.fingerprint,
                "result": None,
            }
        self._publish(item, events, cause)
        return Created(item, created=True)

    async def create_many(self, items: list[tuple[M, list[Event], uuid.UUID | None]]) -> list[M]:
        return [
            made.item
            for item, events, cause in items
            if (made := await self.create(item, events, cause=cause)).created
        ]

    async def change(
        self,
        item_id: str,
        operation: Callable[[M], Iterable[Event]],
        *,
        cause: uuid.UUID | None = None,
        key: ChangeKey | None = None,
        tx: Any = None,
    ) -> M:
        item, _ = await self.change_recording(item_id, operation, None, cause=cause, key=key)
        return item

    async def change_recording(
        self,
        item_id: str,
        operation: Callable[[M], Iterable[Event]],
        result_of: Callable[[M], Any] | None,
        *,
        cause: uuid.UUID | None = None,
        key: ChangeKey | None = None,
        tx: Any = None,
    ) -> tuple[M, Any]:
        if key is None and cause is not None:
            key = ChangeKey.of_event(cause)
        item = await self.require(item_id)
        if self._replayed(item_id, key):
            assert key is not None
            return item, self.applied[item_id][key.digest]["result"]
        events = list(operation(item))  # on a copy: a refusal leaves nothing changed
        result = result_of(item) if result_of else None
        self.items[item_id] = item.model_copy(deep=True)
        if key is not None:
            self.applied.setdefault(item_id, {})[key.digest] = {
                "fingerprint": key.fingerprint,
                "result": result,
            }
        self._publish(item, events, cause)
        return item, result

    async def change_many(
        self, changes: list[tuple[str, Callable[[M], Iterable[Event]], uuid.UUID]]
    ) -> set[str]:
        missing = {item_id for item_id, _op, _cause in changes if item_id not in self.items}
        for item_id, operation, cause in changes:
            if item_id not in missing:
                await self.change(item_id, operation, cause=cause)
        return missing

    def events(self, event_type: str | None = None) -> list[Envelope]:
        return [e for e in self.published if event_type is None or e.event_type == event_type]


class FakeStore:
    """`Store.transaction` without a store: the work runs; an exception leaves what it changed (the
    fakes have no rollback), so tests of refusals check the refusal, not the rollback."""

    async def transaction(self, work: Callable[[Any], Awaitable[T]]) -> T:
        return await work(None)


def _matches(item: BaseModel, query: dict[str, Any]) -> bool:
    for field, wanted in query.items():
        value: Any = item
        for part in field.split("."):
            value = getattr(value, part, None) if not isinstance(value, dict) else value.get(part)
        if isinstance(wanted, dict) and "$in" in wanted:
            if value not in wanted["$in"]:
                return False
        elif value != wanted:
            return False
    return True
