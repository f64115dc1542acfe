"""Warranty's records: unit registrations from accepted installations, and the warranty side of cases.

Writes to one case go through the per-case lock (see shared.locks); units and projects are written
only by the engineering consumer, one event at a time.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.contracts.engineering import InstallationAccepted
from shared.contracts.envelope import Envelope
from shared.locks import KeyedLocks
from shared.mongo import bson_safe
from shared.outbox import Outbox, outbox_fields, outbox_map
from warranty.domain.engine import Installation
from warranty.domain.facts import CaseFacts


class UnitRepository:
    def __init__(self, db: AsyncDatabase) -> None:
        self.units = db["units"]
        self.projects = db["projects"]

    async def register_installation(self, accepted: InstallationAccepted, event_id: str) -> int:
        """Register every unit of an accepted project (idempotent: the same event changes nothing twice)."""
        await self.projects.replace_one(
            {"_id": accepted.project_id},
            bson_safe({**accepted.model_dump(mode="python"), "event_id": event_id}),
            upsert=True,
        )
        registration = bson_safe(
            {
                "source": "installation",
                "project_id": accepted.project_id,
                "client": accepted.client,
                "site": accepted.site,
                "accepted_on": accepted.accepted_on,
                "event_id": event_id,
            }
        )
        for unit in accepted.units:
            await self.units.update_one(
                {"_id": unit.serial_no},
                {"$set": {"model": unit.model}, "$addToSet": {"registrations": registration}},
                upsert=True,
            )
        return len(accepted.units)

    async def installation_for(self, serial_no: str | None, project_ref: str | None) -> Installation | None:
        """The accepted installation a unit came with: by its serial number, else by the project named."""
        if serial_no:
            unit = await self.units.find_one({"_id": serial_no})
            regs = [r for r in (unit or {}).get("registrations", []) if r.get("source") == "installation"]
            if regs:
                latest = max(regs, key=lambda r: r["accepted_on"])
                return Installation(date.fromisoformat(latest["accepted_on"]), latest["project_id"])
        if project_ref:
            project = await self.projects.find_one({"_id": project_ref})
            if project:
                return Installation(date.fromisoformat(project["accepted_on"]), project_ref)
        return None

    async def get(self, serial_no: str) -> dict[str, Any] | None:
        return await self.units.find_one({"_id": serial_no})


class CaseFactsRepository:
    def __init__(self, db: AsyncDatabase, publisher: Any, locks: KeyedLocks) -> None:
        self.cases = db["cases"]
        self.locks = locks
        self.outbox = Outbox(self.cases, publisher, locks)

    async def ensure_indexes(self) -> None:
        await self.cases.create_index([("serial_no", ASCENDING)])

    async def insert(self, facts: CaseFacts, events: list[Envelope]) -> bool:
        doc = {"_id": facts.case_id, **self._fields(facts), "outbox": outbox_map(events)}
        try:
            await self.cases.insert_one(doc)
            return True
        except DuplicateKeyError:
            return False

    async def get(self, case_id: str) -> CaseFacts | None:
        doc = await self.cases.find_one({"_id": case_id}, {"outbox": 0})
        return self._facts(doc) if doc else None

    async def save(self, facts: CaseFacts, events: list[Envelope]) -> None:
        """Call with the case's lock held (KeyedLocks.hold(case_id))."""
        await self.cases.update_one({"_id": facts.case_id}, {"$set": {**self._fields(facts), **outbox_fields(events)}})

    async def for_serial(self, serial_no: str) -> list[CaseFacts]:
        return [self._facts(d) async for d in self.cases.find({"serial_no": serial_no}, {"outbox": 0})]

    @staticmethod
    def _fields(facts: CaseFacts) -> dict[str, Any]:
        doc = bson_safe(facts.model_dump(mode="python"))
        doc.pop("case_id")
        return doc

    @staticmethod
    def _facts(doc: dict[str, Any]) -> CaseFacts:
        return CaseFacts.model_validate({**{k: v for k, v in doc.items() if k != "_id"}, "case_id": doc["_id"]})
