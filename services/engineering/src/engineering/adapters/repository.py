"""Engineering's records in MongoDB: projects and installation complaints, and the queries over them.

Both change only through the unit of work (shared.unit_of_work). Serial numbers are kept flat beside
the equipment list under a unique index, so a unit's project is one indexed lookup and the store
itself refuses a unit on two projects' lists, whichever replica opens them. Project numbers are drawn
from an atomic counter; a project opened under an Idempotency-Key is recorded with that key in the
same transaction, so the retry finds it instead of drawing another number.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from engineering.domain.case_work import InstallationCase
from engineering.domain.project import Project
from shared.unit_of_work import Aggregates, ChangeKey, IdempotencyConflict, Transaction


def project_query_fields(project: Project, *, visit_grace_days: int = 7) -> dict[str, Any]:
    """Stored beside the project: its serials (unique), and when the visit scan has something to do."""
    check = project.next_visit_check(visit_grace_days)
    return {
        "serials": [u.serial_no for u in project.units],
        "next_visit_check": check.isoformat() if check else None,
    }


class ProjectQueries:
    def __init__(self, db: AsyncDatabase, projects: Aggregates[Project]) -> None:
        self.aggregates = projects
        self.projects = projects.collection
        self.counters = db["counters"]
        self.opened_by_request = db["projects_opened_by_request"]

    async def ensure_indexes(self) -> None:
        # One unit, one installation: the store refuses a serial on a second project.
        await self.projects.create_index([("serials", ASCENDING)], unique=True)
        await self.projects.create_index(
            [("status", ASCENDING), ("opened_at", DESCENDING), ("_id", ASCENDING)]
        )
        await self.projects.create_index([("opened_at", DESCENDING), ("_id", ASCENDING)])
        await self.projects.create_index([("next_visit_check", ASCENDING)], sparse=True)
        await self.projects.create_index([("maintenance_visits.due_on", ASCENDING)])

    async def find(self, query: dict[str, Any], *, skip: int, limit: int) -> tuple[list[Project], int]:
        total = await self.aggregates.count(query)
        found = await self.aggregates.find(
            query, sort=[("opened_at", DESCENDING), ("_id", ASCENDING)], skip=skip, limit=limit
        )
        return found, total

    async def holding(self, serials: list[str]) -> dict[str, str]:
        """Which of these serial numbers some project already lists: serial → project id."""
        found: dict[str, str] = {}
        async for d in self.projects.find({"serials": {"$in": serials}}, {"serials": 1}):
            for s in set(d["serials"]) & set(serials):
                found[s] = d["_id"]
        return found

    async def visits_to_check(self, today: date, limit: int = 500) -> list[str]:
        cursor = self.projects.find({"next_visit_check": {"$lte": today.isoformat()}}, {"_id": 1}).limit(
            limit
        )
        return [d["_id"] async for d in cursor]

    async def with_visits_due(self, until: date) -> list[Project]:
        """Accepted projects with a visit not made yet, due on or before `until`."""
        return await self.aggregates.find(
            {"maintenance_visits": {"$elemMatch": {"done_on": None, "due_on": {"$lte": until.isoformat()}}}},
            sort=[("accepted_on", ASCENDING)],
        )

    async def installed(self, serial_no: str) -> Project | None:
        """The project whose equipment list holds this unit."""
        found = await self.aggregates.find({"serials": serial_no}, limit=1)
        return found[0] if found else None

    async def next_number(self, year: int, tx: Transaction) -> int:
        """The next project number of the year (atomic; a number drawn by an aborted transaction is
        drawn again by the next one)."""
        doc = await self.counters.find_one_and_update(
            {"_id": f"project-{year}"},
            {"$inc": {"n": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
            session=tx.session,
        )
        return int(doc["n"])

    async def opened_by(self, key: ChangeKey, tx: Transaction | None = None) -> str | None:
        """The project an earlier attempt of this request opened (the same key with another body: 409)."""
        doc = await self.opened_by_request.find_one({"_id": key.digest}, session=tx.session if tx else None)
        if doc is None:
            return None
        if doc["fingerprint"] != key.fingerprint:
            raise IdempotencyConflict(key.key)
        return str(doc["project_id"])

    async def record_opened_by(self, key: ChangeKey, project_id: str, tx: Transaction) -> None:
        await self.opened_by_request.insert_one(
            {"_id": key.digest, "fingerprint": key.fingerprint, "project_id": project_id}, session=tx.session
        )


class InstallationCaseQueries:
    def __init__(self, cases: Aggregates[InstallationCase]) -> None:
        self.aggregates = cases

    async def ensure_indexes(self) -> None:
        await self.aggregates.collection.create_index(
            [("project_id", ASCENDING), ("received_at", DESCENDING), ("_id", ASCENDING)]
        )
        await self.aggregates.collection.create_index([("serial_no", ASCENDING)])
        await self.aggregates.collection.create_index([("received_at", DESCENDING), ("_id", ASCENDING)])

    async def find(
        self, query: dict[str, Any], *, skip: int, limit: int
    ) -> tuple[list[InstallationCase], int]:
        total = await self.aggregates.count(query)
        found = await self.aggregates.find(
            query, sort=[("received_at", DESCENDING), ("_id", ASCENDING)], skip=skip, limit=limit
        )
        return found, total
