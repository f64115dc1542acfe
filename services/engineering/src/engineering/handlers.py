"""Engineering's handlers: one per command, and one for the event it consumes (case.assigned).

Every change goes through the unit of work (shared.unit_of_work): read the project (or case), let the
domain change it and name its events, write record and events in one version-checked write, publish
after. A redelivered case.assigned, or a request retried under its Idempotency-Key, changes nothing
twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from pymongo.errors import DuplicateKeyError

from engineering.adapters.repository import InstallationCaseQueries, ProjectQueries
from engineering.domain.case_work import InstallationCase, is_installation_complaint, link_case
from engineering.domain.periods import china_today, maintenance_months
from engineering.domain.project import Event, Project, Unit, open_project
from shared.contracts.cases import CaseAssigned
from shared.contracts.envelope import Envelope
from shared.kafka.consumer import TransientError
from shared.logging import get_logger
from shared.rulesets import PeriodBook
from shared.unit_of_work import Aggregates, ChangeKey, NotFound, Store, Transaction

log = get_logger(__name__)

PRODUCER = "engineering"


class ProjectNotFound(NotFound):
    def __init__(self, project_id: str) -> None:
        super().__init__("project", project_id)


class ProjectExists(Exception):
    def __init__(self, project_id: str) -> None:
        super().__init__(f"project {project_id} exists already")


class UnitsInstalledElsewhere(Exception):
    """A serial number is on another project's equipment list: one unit, one installation."""

    def __init__(self, holders: dict[str, str]) -> None:
        listed = ", ".join(f"{s} ({p})" for s, p in sorted(holders.items()))
        super().__init__(f"units already on another project's equipment list: {listed}")
        self.holders = holders


class CaseNotFound(NotFound):
    def __init__(self, case_id: str) -> None:
        super().__init__("installation complaint", case_id)
        self.args = (
            f"installation complaint {case_id} not known to engineering (it comes with case.assigned)",
        )


@dataclass
class Engineering:
    """Everything the handlers need, wired by bootstrap."""

    store: Store
    projects: Aggregates[Project]
    project_queries: ProjectQueries
    cases: Aggregates[InstallationCase]
    case_queries: InstallationCaseQueries
    min_installers: int
    visit_every_months: int = 3
    visit_grace_days: int = 7
    periods: PeriodBook = field(default_factory=PeriodBook.from_directory)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)


# ------------------------------------------------------------------------------------------- projects


async def create_project(
    e: Engineering,
    *,
    project_id: str | None,
    client: str,
    site: str,
    supervisor: str,
    design_unit: str | None,
    units: list[Unit],
    contract_value: Decimal,
    bid_won_on: date | None,
    note: str,
    by: str,
    key: ChangeKey | None = None,
) -> Project:
    """A won bid becomes a project; its number is given (the company's own) or drawn (P-<year>-<nnn>).
    Number, project and the request's key commit together, so a retry finds the project it opened."""
    now = e.clock()
    fields = {
        "client": client,
        "site": site,
        "supervisor": supervisor,
        "design_unit": design_unit,
        "units": units,
        "contract_value": contract_value,
        "bid_won_on": bid_won_on or china_today(now),
        "note": note,
        "by": by,
        "now": now,
    }
    open_project(
        project_id=project_id or "P-0000-000", **fields
    )  # refuses bad input before any number is drawn
    if key is not None and (earlier := await e.project_queries.opened_by(key)) is not None:
        return await get_project(e, earlier)
    if project_id and await e.projects.get(project_id) is not None:
        raise ProjectExists(project_id)
    holders = await e.project_queries.holding([u.serial_no for u in units])
    if holders:
        raise UnitsInstalledElsewhere(holders)

    async def open_in(tx: Transaction) -> Project:
        year = china_today(now).year
        pid = project_id or f"P-{year}-{await e.project_queries.next_number(year, tx):03d}"
        project, events = open_project(project_id=pid, **fields)
        await e.projects.create(project, events, key=key, tx=tx)
        if key is not None:
            await e.project_queries.record_opened_by(key, pid, tx)
        return project

    try:
        project = await e.store.transaction(open_in)
    except DuplicateKeyError as exc:
        # Another replica got there between the checks above and the commit: the store refused it.
        holders = await e.project_queries.holding([u.serial_no for u in units])
        if holders:
            raise UnitsInstalledElsewhere(holders) from exc
        if key is not None and (earlier := await e.project_queries.opened_by(key)) is not None:
            return await get_project(e, earlier)
        raise ProjectExists(project_id or "?") from exc
    log.info("project opened", project_id=project.project_id, units=len(units))
    return project


async def get_project(e: Engineering, project_id: str) -> Project:
    project = await e.projects.get(project_id)
    if project is None:
        raise ProjectNotFound(project_id)
    return project


async def change_project(
    e: Engineering,
    project_id: str,
    operation: Callable[[Project], list[Event]],
    *,
    key: ChangeKey | None = None,
    result_of: Callable[[Project], Any] | None = None,
) -> tuple[Project, Any]:
    """Apply a domain operation to a project; returns it and `result_of` it (the record it added)."""
    try:
        return await e.projects.change_recording(project_id, operation, result_of, key=key)
    except NotFound as exc:
        raise ProjectNotFound(project_id) from exc


# ------------------------------------------------------------------------------------------- installation complaints


async def on_case_assigned(env: Envelope, assigned: CaseAssigned, *, e: Engineering) -> None:
    """Link an installation complaint to the project that installed the unit, once. Idempotent."""
    if not is_installation_complaint(assigned):
        return  # the quality department's case: nothing for engineering
    if await e.cases.get(assigned.case_id) is not None:
        return  # a redelivery: linked already (the relay publishes whatever is left)
    serial = assigned.product.serial_no
    by_serial = await e.project_queries.installed(serial) if serial else None
    by_ref = None
    if by_serial is None and assigned.project_ref:
        by_ref = await e.projects.get(assigned.project_ref.strip().upper())
    case, events = link_case(
        assigned, by_serial=by_serial, by_ref=by_ref, event_id=str(env.event_id), now=e.clock()
    )
    if (await e.cases.create(case, events, cause=env.event_id)).created:
        log.info(
            "installation complaint linked",
            case_id=case.case_id,
            project_id=case.project_id,
            linked_via=case.linked_via,
        )


async def record_maintenance(
    e: Engineering,
    case_id: str,
    *,
    work_done: str,
    done_on: date,
    note: str,
    by: str,
    key: ChangeKey | None = None,
) -> tuple[InstallationCase, str]:
    """Maintenance work on an installation complaint, judged against its project's maintenance year."""
    case = await e.cases.get(case_id)
    if case is None:
        raise CaseNotFound(case_id)
    record_id = key.derived_id("W-", 12) if key else f"W-{uuid.uuid4().hex[:12].upper()}"
    project = await e.projects.get(case.project_id) if case.project_id else None
    accepted_on = project.accepted_on if project else None
    now = e.clock()
    months = maintenance_months(e.periods, china_today(now))
    changed = await e.cases.change(
        case_id,
        lambda c: c.record_maintenance(
            record_id=record_id,
            work_done=work_done,
            done_on=done_on,
            note=note,
            accepted_on=accepted_on,
            by=by,
            now=now,
            maintenance_months=months,
        ),
        key=key,
    )
    return changed, record_id


# ------------------------------------------------------------------------------------------- maintenance visits


async def scan_maintenance_visits(e: Engineering) -> int:
    """Planned maintenance visits not made in time are escalated, once each (maintenance.visit_missed)."""
    now = e.clock()
    today = china_today(now)
    raised = 0
    for project_id in await e.project_queries.visits_to_check(today):
        found: list[Event] = []

        def check(p: Project, found: list[Event] = found) -> list[Event]:
            found[:] = p.check_visits(today=today, grace_days=e.visit_grace_days, now=now)
            return found

        try:
            # Two replicas' scans: the version check lets one win; the other finds nothing left to do.
            await e.projects.change(project_id, check)
        except (TransientError, NotFound):
            continue
        raised += len(found)
    return raised
