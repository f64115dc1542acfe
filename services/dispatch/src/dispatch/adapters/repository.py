"""Dispatch's records in MongoDB: cases, the timeline, the specialist roster.

Cases change only through the unit of work (shared.unit_of_work: version-checked writes with their
outbox); this module adds the queries dispatch runs over them, each served by an index.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from datetime import date, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from dispatch.domain.case import OPEN_STATUSES, Case
from dispatch.domain.routing import AssignmentPolicy, Specialist
from shared.contracts.envelope import Envelope
from shared.mongo import bson_safe
from shared.unit_of_work import Aggregates, Store, Transaction


def case_query_fields(case: Case) -> dict[str, Any]:
    """Stored beside the case for the deadline scan's index."""
    return {"next_deadline": case.next_deadline()}


class CaseQueries:
    """The indexed reads over dispatch's cases (the manager's board, a specialist's cases, the scan)."""

    def __init__(self, cases: Aggregates[Case]) -> None:
        self.aggregates = cases
        self.cases = cases.collection

    async def ensure_indexes(self) -> None:
        # Lists are paged newest first with the id as tie-break: indexes in that order serve the page
        # straight from the index instead of sorting every match.
        await self.cases.create_index([("status", ASCENDING), ("received_at", DESCENDING), ("_id", ASCENDING)])
        await self.cases.create_index([("assignee", ASCENDING), ("status", ASCENDING)])
        await self.cases.create_index([("liaison", ASCENDING), ("status", ASCENDING)])
        await self.cases.create_index([("next_deadline", ASCENDING)])
        await self.cases.create_index([("customer.phone", ASCENDING)])
        await self.cases.create_index([("product.serial_no", ASCENDING)])
        await self.cases.create_index([("received_at", DESCENDING), ("_id", ASCENDING)])

    async def find(self, query: dict[str, Any], *, skip: int, limit: int) -> tuple[list[Case], int]:
        total = await self.aggregates.count(query)
        found = await self.aggregates.find(query, sort=[("received_at", DESCENDING), ("_id", ASCENDING)],
                                           skip=skip, limit=limit)
        return found, total

    async def all_in(self, query: dict[str, Any]) -> list[Case]:
        return await self.aggregates.find(query)

    async def with_serials(self, serials: Iterable[str]) -> dict[str, list[Case]]:
        """Every case about these units (indexed by serial number), oldest first per unit."""
        wanted = sorted(set(serials))
        out: dict[str, list[Case]] = {}
        if not wanted:
            return out
        for case in await self.aggregates.find({"product.serial_no": {"$in": wanted}},
                                               sort=[("received_at", ASCENDING)]):
            out.setdefault(case.product.serial_no or "", []).append(case)
        return out

    async def due(self, now: datetime, limit: int = 500) -> list[str]:
        cursor = self.cases.find({"next_deadline": {"$lte": now}}, {"_id": 1}).limit(limit)
        return [d["_id"] async for d in cursor]

    async def open_workloads(self, specialist_ids: list[str]) -> dict[str, int]:
        """Open cases per specialist: those they own, those they answer the customer on, those proposed to them."""
        loads: dict[str, int] = {}
        # A proposal waiting for the manager counts for whom it proposes: a burst of proposals spreads too.
        for holder, extra in (("assignee", {}), ("liaison", {}), ("proposal.specialist_id", {"assignee": None})):
            pipeline = [
                {"$match": {"status": {"$in": list(OPEN_STATUSES)}, holder: {"$in": specialist_ids}, **extra}},
                {"$group": {"_id": f"${holder}", "n": {"$sum": 1}}},
            ]
            async for d in await self.cases.aggregate(pipeline):
                loads[d["_id"]] = loads.get(d["_id"], 0) + d["n"]
        return loads


class TimelineRepository:
    """Every event about a case, from any service, once each (`_id` is the event id)."""

    def __init__(self, db: AsyncDatabase) -> None:
        self.entries = db["timeline"]

    async def ensure_indexes(self) -> None:
        await self.entries.create_index([("case_id", ASCENDING), ("occurred_at", ASCENDING)])

    @staticmethod
    def _entry(envelope: Envelope, topic: str, summary: str, recorded_at: datetime) -> dict[str, Any]:
        return {
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

    async def add(self, envelope: Envelope, *, topic: str, summary: str, recorded_at: datetime) -> bool:
        try:
            await self.entries.insert_one(self._entry(envelope, topic, summary, recorded_at))
            return True
        except DuplicateKeyError:
            return False

    async def add_many(self, entries: list[tuple[Envelope, str, str]], *, recorded_at: datetime) -> None:
        """(event, topic, summary) for a batch: one unordered insert; an event seen before is skipped."""
        if not entries:
            return
        try:
            await self.entries.insert_many([self._entry(e, t, s, recorded_at) for e, t, s in entries], ordered=False)
        except BulkWriteError as exc:
            if any(e.get("code") != 11000 for e in exc.details.get("writeErrors", [])):
                raise

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
    def __init__(self, db: AsyncDatabase, store: Store) -> None:
        self.specialists = db["specialists"]
        self._store = store

    async def all(self) -> list[Specialist]:
        return [
            Specialist(
                specialist_id=d["_id"],
                name=d["name"],
                department=d["department"],
                skills=tuple(d.get("skills", ())),
                regions=tuple(d.get("regions", ())),
                active=d.get("active", True),
                absent_until=date.fromisoformat(d["absent_until"]) if d.get("absent_until") else None,
            )
            async for d in self.specialists.find({}).sort("_id", ASCENDING)
        ]

    async def upsert(self, specialist: Specialist, tx: Transaction | None = None) -> None:
        doc = asdict(specialist)
        doc["_id"] = doc.pop("specialist_id")
        doc["skills"], doc["regions"] = list(specialist.skills), list(specialist.regions)
        doc["absent_until"] = specialist.absent_until.isoformat() if specialist.absent_until else None
        await self.specialists.replace_one({"_id": doc["_id"]}, doc, upsert=True, session=tx.session if tx else None)

    async def replace_all(self, roster: list[Specialist]) -> None:
        """Upsert every given specialist; those left out are kept but made inactive (their cases stay
        theirs). One transaction: routing never sees half of the new roster."""

        async def work(tx: Transaction) -> None:
            keep = [s.specialist_id for s in roster]
            for s in roster:
                await self.upsert(s, tx)
            await self.specialists.update_many({"_id": {"$nin": keep}}, {"$set": {"active": False}},
                                               session=tx.session)

        await self._store.transaction(work)

    async def is_empty(self) -> bool:
        return await self.specialists.count_documents({}, limit=1) == 0


class SettingsRepository:
    """The manager's assignment settings: one document, replaced as a whole, with who changed it when."""

    def __init__(self, db: AsyncDatabase) -> None:
        self.settings = db["settings"]

    async def assignment(self) -> AssignmentPolicy | None:
        doc = await self.settings.find_one({"_id": "assignment"})
        return AssignmentPolicy.model_validate(doc["policy"]) if doc else None

    async def put_assignment(self, policy: AssignmentPolicy, *, by: str, at: datetime) -> None:
        await self.settings.replace_one({"_id": "assignment"},
                                        {"_id": "assignment", "policy": policy.model_dump(), "by": by, "at": at},
                                        upsert=True)

    async def seed_assignment(self, policy: AssignmentPolicy) -> None:
        """On a fresh store only: the file's settings, until the manager changes them."""
        await self.settings.update_one({"_id": "assignment"},
                                       {"$setOnInsert": {"policy": policy.model_dump(), "by": "seed"}}, upsert=True)


class ReportRepository:
    """The quality department's monthly reports (PDF), one per month, kept as generated."""

    def __init__(self, db: AsyncDatabase) -> None:
        self.reports = db["quality_reports"]

    async def stored(self, month: str) -> dict[str, Any] | None:
        return await self.reports.find_one({"_id": month})

    async def store(self, month: str, pdf: bytes, *, generated_at: datetime, by: str, faults: int,
                    replace: bool) -> bool:
        """Keep the month's report; the scheduled run keeps the first (another instance may be at it too)."""
        doc = {"_id": month, "pdf": pdf, "generated_at": generated_at, "by": by, "faults": faults,
               "bytes": len(pdf)}
        if replace:
            await self.reports.replace_one({"_id": month}, doc, upsert=True)
            return True
        try:
            await self.reports.insert_one(doc)
            return True
        except DuplicateKeyError:
            return False

    async def months(self) -> list[dict[str, Any]]:
        cursor = self.reports.find({}, {"pdf": 0}).sort("_id", DESCENDING)
        return [{"month": d["_id"], **{k: v for k, v in d.items() if k != "_id"}} async for d in cursor]
