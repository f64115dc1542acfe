"""Warranty's records: units (sale, installation, repairs, exchange, return) and the warranty side of cases.

Both change only through the unit of work (shared.unit_of_work). An accepted installation registers
the project and every unit it lists in one transaction; an exchange changes the old unit and makes the
new one in one transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from shared.contracts.engineering import InstallationAccepted
from shared.mongo import bson_safe
from shared.unit_of_work import Aggregates, ChangeKey, Store, Transaction
from warranty.domain.engine import Installation
from warranty.domain.facts import CaseFacts
from warranty.domain.unit import Unit


class UnitRepository:
    """Units (one aggregate per serial, changed through the unit of work) and accepted projects."""

    def __init__(self, units: Aggregates[Unit], db: AsyncDatabase, store: Store) -> None:
        self.aggregates = units
        self.units = units.collection
        self.projects = db["projects"]
        self._store = store

    async def ensure_indexes(self) -> None:
        await self.units.create_index([("replaces", ASCENDING)], sparse=True)

    async def change(
        self,
        serial_no: str,
        model: str | None,
        operation: Callable[[Unit], list[Any]],
        *,
        cause: uuid.UUID | None = None,
        key: ChangeKey | None = None,
        tx: Transaction | None = None,
    ) -> Unit:
        """Change a unit, making its record first when the suite has not seen the serial yet."""
        session = tx.session if tx else None
        if await self.units.find_one({"_id": serial_no}, {"_id": 1}, session=session) is None:
            unit = Unit.new(serial_no, model)
            operation(unit)
            made = await self.aggregates.create(
                unit, [], key=key or (ChangeKey.of_event(cause) if cause else None), tx=tx
            )
            if made.created:
                return made.item
        return await self.aggregates.change(serial_no, operation, cause=cause, key=key, tx=tx)

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
        now = datetime.now(UTC)
        for unit in accepted.units:
            await self.change(
                unit.serial_no,
                unit.model,
                lambda u, model=unit.model: u.register_installation(registration, model=model, at=now),
                cause=uuid.UUID(event_id),
                tx=tx,
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
            regs = [
                r for r in units.get(serial, {}).get("registrations", []) if r.get("source") == "installation"
            ]
            if regs:
                latest = max(regs, key=lambda r: r["accepted_on"])
                found[(serial, ref)] = Installation(
                    date.fromisoformat(latest["accepted_on"]), latest["project_id"]
                )
            elif ref in projects:
                found[(serial, ref)] = Installation(date.fromisoformat(projects[ref]["accepted_on"]), ref)
        return found

    async def get(self, serial_no: str) -> Unit | None:
        return await self.aggregates.get(serial_no)

    async def load_many(self, serials: list[str | None]) -> dict[str, Unit]:
        return await self.aggregates.load_many(s for s in serials if s)


class CaseFactsQueries:
    """The indexed reads over the warranty side of cases."""

    def __init__(self, cases: Aggregates[CaseFacts]) -> None:
        self.aggregates = cases

    async def ensure_indexes(self) -> None:
        await self.aggregates.collection.create_index([("serial_no", ASCENDING)])
        await self.aggregates.collection.create_index([("repair_check_on", ASCENDING)], sparse=True)

    async def repairs_to_check(self, today: date) -> list[CaseFacts]:
        return await self.aggregates.find({"repair_check_on": {"$lte": today.isoformat()}}, limit=500)

    async def for_serial(self, serial_no: str) -> list[CaseFacts]:
        return await self.aggregates.find({"serial_no": serial_no})
