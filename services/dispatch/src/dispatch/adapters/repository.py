"""Dispatch's records in MongoDB: cases (with their outbox), the timeline, the specialist roster.

Cases are written whole with optimistic concurrency (`version`): a write that lost a race is retried
by its caller on the fresh case, so an HTTP command and a consumed event never overwrite each other.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from dispatch.domain.case import OPEN_STATUSES, Case
from dispatch.domain.routing import Specialist
from shared.contracts.envelope import Envelope
from shared.locks import KeyedLocks
from shared.mongo import VersionedWrites, bson_safe
from shared.outbox import Outbox, outbox_fields, outbox_map


class ConcurrentUpdate(Exception):
    """Someone else changed the case since it was read."""


class CaseRepository:
    def __init__(self, db: AsyncDatabase) -> None:
        self.cases = db["cases"]
        self._versioned = VersionedWrites(db)

    async def ensure_indexes(self) -> None:
        await self.cases.create_index([("status", ASCENDING), ("received_at", DESCENDING)])
        await self.cases.create_index([("assignee", ASCENDING), ("status", ASCENDING)])
        await self.cases.create_index([("next_deadline", ASCENDING)])
        await self.cases.create_index([("customer.phone", ASCENDING)])
        await self.cases.create_index([("product.serial_no", ASCENDING)])

    @staticmethod
    def _fields(case: Case, version: int) -> dict[str, Any]:
        doc = bson_safe(case.model_dump(mode="python"))
        doc.pop("case_id")
        doc["version"] = version
        doc["next_deadline"] = case.next_deadline()
        return doc

    @staticmethod
    def _case(doc: dict[str, Any]) -> Case:
        data = {k: v for k, v in doc.items() if k not in ("_id", "version", "next_deadline", "outbox")}
        return Case.model_validate({**data, "case_id": doc["_id"]})

    async def get(self, case_id: str) -> tuple[Case, int] | None:
        """The case and its version."""
        doc = await self.cases.find_one({"_id": case_id}, {"outbox": 0})
        if doc is None:
            return None
        return self._case(doc), doc["version"]

    async def insert(self, case: Case, events: list[Envelope]) -> bool:
        """False when the case exists already (a redelivered complaint)."""
        doc = {"_id": case.case_id, **self._fields(case, 1), "outbox": outbox_map(events)}
        try:
            await self.cases.insert_one(doc)
            return True
        except DuplicateKeyError:
            return False

    async def save(self, case: Case, version: int, events: list[Envelope]) -> int:
        """Write the case and its new events in one document update, if nobody wrote it since `version`."""
        update = {**self._fields(case, version + 1), **outbox_fields(events)}
        result = await self.cases.update_one(await self._versioned.filter(case.case_id, version), {"$set": update})
        if result.matched_count != 1:
            raise ConcurrentUpdate(case.case_id)
        return version + 1

    async def find(self, query: dict[str, Any], *, skip: int, limit: int) -> tuple[list[Case], int]:
        total = await self.cases.count_documents(query)
        cursor = self.cases.find(query, {"outbox": 0}).sort([("received_at", DESCENDING), ("_id", ASCENDING)]).skip(skip).limit(limit)
        return [self._case(d) async for d in cursor], total

    async def all_in(self, query: dict[str, Any]) -> list[Case]:
        return [self._case(d) async for d in self.cases.find(query, {"outbox": 0})]

    async def due(self, now: datetime, limit: int = 500) -> list[str]:
        cursor = self.cases.find({"next_deadline": {"$lte": now}}, {"_id": 1}).limit(limit)
        return [d["_id"] async for d in cursor]

    async def open_workloads(self, specialist_ids: list[str]) -> dict[str, int]:
        pipeline = [
            {"$match": {"status": {"$in": list(OPEN_STATUSES)}, "assignee": {"$in": specialist_ids}}},
            {"$group": {"_id": "$assignee", "n": {"$sum": 1}}},
        ]
        return {d["_id"]: d["n"] async for d in await self.cases.aggregate(pipeline)}

    def outbox(self, publisher: Any, locks: KeyedLocks) -> Outbox:
        return Outbox(self.cases, publisher, locks)


class TimelineRepository:
    """Every event about a case, from any service, once each (`_id` is the event id)."""

    def __init__(self, db: AsyncDatabase) -> None:
        self.entries = db["timeline"]

    async def ensure_indexes(self) -> None:
        await self.entries.create_index([("case_id", ASCENDING), ("occurred_at", ASCENDING)])

    async def add(self, envelope: Envelope, *, topic: str, summary: str, recorded_at: datetime) -> bool:
        try:
            await self.entries.insert_one(
                {
                    "_id": str(envelope.event_id),
                    "case_id": envelope.correlation_id,
                    "event_type": envelope.event_type,
                    "occurred_at": envelope.occurred_at,
                    "recorded_at": recorded_at,
                    "producer": envelope.producer,
                    "topic": topic,
                    "summary": summary,
                    "payload": bson_safe(envelope.payload),
                }
            )
            return True
        except DuplicateKeyError:
            return False

    async def for_case(self, case_id: str) -> list[dict[str, Any]]:
        cursor = self.entries.find({"case_id": case_id}).sort([("occurred_at", ASCENDING), ("recorded_at", ASCENDING)])
        return [
            {
                "event_id": d["_id"],
                "event_type": d["event_type"],
                "occurred_at": d["occurred_at"],
                "producer": d["producer"],
                "summary": d["summary"],
            }
            async for d in cursor
        ]


class RosterRepository:
    def __init__(self, db: AsyncDatabase) -> None:
        self.specialists = db["specialists"]

    async def all(self) -> list[Specialist]:
        return [
            Specialist(
                specialist_id=d["_id"],
                name=d["name"],
                department=d["department"],
                skills=tuple(d.get("skills", ())),
                regions=tuple(d.get("regions", ())),
                active=d.get("active", True),
            )
            async for d in self.specialists.find({}).sort("_id", ASCENDING)
        ]

    async def upsert(self, specialist: Specialist) -> None:
        doc = asdict(specialist)
        doc["_id"] = doc.pop("specialist_id")
        doc["skills"], doc["regions"] = list(specialist.skills), list(specialist.regions)
        await self.specialists.replace_one({"_id": doc["_id"]}, doc, upsert=True)

    async def replace_all(self, roster: list[Specialist]) -> None:
        """Upsert every given specialist; those left out are kept but made inactive (their cases stay theirs)."""
        keep = {s.specialist_id for s in roster}
        for s in roster:
            await self.upsert(s)
        await self.specialists.update_many({"_id": {"$nin": list(keep)}}, {"$set": {"active": False}})

    async def is_empty(self) -> bool:
        return await self.specialists.count_documents({}, limit=1) == 0
