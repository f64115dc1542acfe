"""Engineering's records in MongoDB: projects and installation complaints, each document with its outbox.

Projects are written whole with optimistic concurrency (`version`) and, in this process, under the
project's lock (shared.locks: FerretDB updates are read-then-write). Installation cases are inserted
once (the case id is the key, so a redelivered case.assigned changes nothing) and then changed only
under the case's lock. Serial numbers are kept flat beside the equipment list so a unit's project is
one indexed lookup.
"""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from engineering.domain.case_work import InstallationCase
from engineering.domain.project import Project
from shared.contracts.envelope import Envelope
from shared.locks import KeyedLocks
from shared.mongo import VersionedWrites, bson_safe
from shared.outbox import Outbox, outbox_fields, outbox_map


class ConcurrentUpdate(Exception):
    """Someone else changed the project since it was read."""


class ProjectRepository:
    def __init__(self, db: AsyncDatabase) -> None:
        self.projects = db["projects"]
        self._versioned = VersionedWrites(db)
        self.counters = db["counters"]

    async def ensure_indexes(self) -> None:
        await self.projects.create_index([("serials", ASCENDING)])
        await self.projects.create_index([("status", ASCENDING), ("opened_at", DESCENDING)])

    @staticmethod
    def _fields(project: Project, version: int) -> dict[str, Any]:
        doc = bson_safe(project.model_dump(mode="python"))
        doc.pop("project_id")
        doc["version"] = version
        doc["serials"] = [u.serial_no for u in project.units]
        return doc

    @staticmethod
    def _project(doc: dict[str, Any]) -> Project:
        data = {k: v for k, v in doc.items() if k not in ("_id", "version", "serials", "outbox")}
        return Project.model_validate({**data, "project_id": doc["_id"]})

    async def get(self, project_id: str) -> tuple[Project, int] | None:
        """The project and its version."""
        doc = await self.projects.find_one({"_id": project_id}, {"outbox": 0})
        if doc is None:
            return None
        return self._project(doc), doc["version"]

    async def insert(self, project: Project, events: list[Envelope]) -> bool:
        """False when the project id is taken."""
        doc = {"_id": project.project_id, **self._fields(project, 1), "outbox": outbox_map(events)}
        try:
            await self.projects.insert_one(doc)
            return True
        except DuplicateKeyError:
            return False

    async def save(self, project: Project, version: int, events: list[Envelope]) -> int:
        """Write the project and its new events in one document update, if nobody wrote it since `version`."""
        update = {**self._fields(project, version + 1), **outbox_fields(events)}
        result = await self.projects.update_one(await self._versioned.filter(project.project_id, version), {"$set": update})
        if result.matched_count != 1:
            raise ConcurrentUpdate(project.project_id)
        return version + 1

    async def find(self, query: dict[str, Any], *, skip: int, limit: int) -> tuple[list[Project], int]:
        total = await self.projects.count_documents(query)
        cursor = (
            self.projects.find(query, {"outbox": 0})
            .sort([("opened_at", DESCENDING), ("_id", ASCENDING)])
            .skip(skip)
            .limit(limit)
        )
        return [self._project(d) async for d in cursor], total

    async def holding(self, serials: list[str]) -> dict[str, str]:
        """Which of these serial numbers some project already lists: serial → project id."""
        found: dict[str, str] = {}
        async for d in self.projects.find({"serials": {"$in": serials}}, {"serials": 1}):
            for s in set(d["serials"]) & set(serials):
                found[s] = d["_id"]
        return found

    async def installed(self, serial_no: str) -> Project | None:
        """The project whose equipment list holds this unit (the latest opened, should there be two)."""
        cursor = self.projects.find({"serials": serial_no}, {"outbox": 0}).sort("opened_at", DESCENDING).limit(1)
        async for d in cursor:
            return self._project(d)
        return None

    async def next_number(self, year: int) -> int:
        """The next project number of the year. Two racing writers on FerretDB may draw the same number;
        the insert then fails on the id and the caller draws again."""
        doc = await self.counters.find_one_and_update(
            {"_id": f"project-{year}"}, {"$inc": {"n": 1}}, upsert=True, return_document=ReturnDocument.AFTER
        )
        return int(doc["n"])

    def outbox(self, publisher: Any, locks: KeyedLocks) -> Outbox:
        return Outbox(self.projects, publisher, locks)


class InstallationCaseRepository:
    def __init__(self, db: AsyncDatabase) -> None:
        self.cases = db["installation_cases"]

    async def ensure_indexes(self) -> None:
        await self.cases.create_index([("project_id", ASCENDING)])
        await self.cases.create_index([("serial_no", ASCENDING)])

    @staticmethod
    def _fields(case: InstallationCase) -> dict[str, Any]:
        doc = bson_safe(case.model_dump(mode="python"))
        doc.pop("case_id")
        return doc

    @staticmethod
    def _case(doc: dict[str, Any]) -> InstallationCase:
        data = {k: v for k, v in doc.items() if k not in ("_id", "outbox")}
        return InstallationCase.model_validate({**data, "case_id": doc["_id"]})

    async def get(self, case_id: str) -> InstallationCase | None:
        doc = await self.cases.find_one({"_id": case_id}, {"outbox": 0})
        return self._case(doc) if doc else None

    async def insert(self, case: InstallationCase, events: list[Envelope]) -> bool:
        """False when the case is linked already (a redelivered case.assigned)."""
        doc = {"_id": case.case_id, **self._fields(case), "outbox": outbox_map(events)}
        try:
            await self.cases.insert_one(doc)
            return True
        except DuplicateKeyError:
            return False

    async def save(self, case: InstallationCase, events: list[Envelope]) -> None:
        """Call with the case's lock held (KeyedLocks.hold(case_id))."""
        await self.cases.update_one({"_id": case.case_id}, {"$set": {**self._fields(case), **outbox_fields(events)}})

    async def find(self, query: dict[str, Any], *, skip: int, limit: int) -> tuple[list[InstallationCase], int]:
        total = await self.cases.count_documents(query)
        cursor = (
            self.cases.find(query, {"outbox": 0}).sort([("received_at", DESCENDING), ("_id", ASCENDING)])
            .skip(skip).limit(limit)
        )
        return [self._case(d) async for d in cursor], total

    def outbox(self, publisher: Any, locks: KeyedLocks) -> Outbox:
        return Outbox(self.cases, publisher, locks)
