"""Warranty's records: unit registrations from accepted installations, and the warranty side of cases.

The warranty side of a case changes only through the unit of work (shared.unit_of_work). An accepted
installation registers the project and every unit it lists in one transaction.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from shared.contracts.engineering import InstallationAccepted
from shared.mongo import bson_safe
from shared.unit_of_work import Aggregates, Store, Transaction
from warranty.domain.engine import Installation
from warranty.domain.facts import CaseFacts


class UnitRepository:
    def __init__(self, db: AsyncDatabase, store: Store) -> None:
        self.units = db["units"]
        self.projects = db["projects"]
        self._store = store

    async def register_installation(self, accepted: InstallationAccepted, event_id: str) -> int:
        """Register the project and every unit it lists, all or nothing (the same event changes nothing twice)."""
        return await self._store.transaction(lambda tx: self._register(accepted, event_id, tx))

    async def _register(self, accepted: InstallationAccepted, event_id: str, tx: Transaction) -> int:
        await self.projects.replace_one(
            {"_id": accepted.project_id},
            bson_safe({**accepted.model_dump(mode="python"), "event_id": event_id}),
            upsert=True,
            session=tx.session,
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
                session=tx.session,
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

    async def installations_for(
        self, wanted: list[tuple[str | None, str | None]]
    ) -> dict[tuple[str | None, str | None], Installation]:
        """`installation_for` for a batch of (serial, project named): two indexed reads in all."""
        serials = list({s for s, _ in wanted if s})
        units = {u["_id"]: u async for u in self.units.find({"_id": {"$in": serials}})} if serials else {}
        refs = list({r for _, r in wanted if r})
        projects = {p["_id"]: p async for p in self.projects.find({"_id": {"$in": refs}})} if refs else {}
        found: dict[tuple[str | None, str | None], Installation] = {}
        for serial, ref in wanted:
            regs = [r for r in units.get(serial, {}).get("registrations", []) if r.get("source") == "installation"]
            if regs:
                latest = max(regs, key=lambda r: r["accepted_on"])
                found[(serial, ref)] = Installation(date.fromisoformat(latest["accepted_on"]), latest["project_id"])
            elif ref in projects:
                found[(serial, ref)] = Installation(date.fromisoformat(projects[ref]["accepted_on"]), ref)
        return found

    async def get(self, serial_no: str) -> dict[str, Any] | None:
        return await self.units.find_one({"_id": serial_no})


class CaseFactsQueries:
    """The indexed reads over the warranty side of cases."""

    def __init__(self, cases: Aggregates[CaseFacts]) -> None:
        self.aggregates = cases

    async def ensure_indexes(self) -> None:
        await self.aggregates.collection.create_index([("serial_no", ASCENDING)])

    async def for_serial(self, serial_no: str) -> list[CaseFacts]:
        return await self.aggregates.find({"serial_no": serial_no})
