"""Engineering's handlers: one per command, and one for the event it consumes (case.assigned).

Every change follows the same path: read the project (or case), let the domain change it and name
its events, write record and events in one document (the outbox), then publish. Events caused by a
consumed event get ids derived from it, so a redelivered case.assigned republishes the same link
rather than a second one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from engineering.adapters.repository import ConcurrentUpdate, InstallationCaseRepository, ProjectRepository
from engineering.domain.case_work import InstallationCase, is_installation_complaint, link_case
from engineering.domain.periods import china_today
from engineering.domain.project import Event, Project, Unit, open_project
from shared.contracts.cases import CaseAssigned
from shared.contracts.envelope import Envelope, envelopes_for
from shared.kafka.consumer import TransientError
from shared.locks import KeyedLocks
from shared.logging import get_logger
from shared.outbox import Outbox

log = get_logger(__name__)

PRODUCER = "engineering"


class ProjectNotFound(Exception):
    def __init__(self, project_id: str) -> None:
        super().__init__(f"project {project_id} does not exist")


class ProjectExists(Exception):
    def __init__(self, project_id: str) -> None:
        super().__init__(f"project {project_id} exists already")


class UnitsInstalledElsewhere(Exception):
    """A serial number is on another project's equipment list: one unit, one installation."""

    def __init__(self, holders: dict[str, str]) -> None:
        listed = ", ".join(f"{s} ({p})" for s, p in sorted(holders.items()))
        super().__init__(f"units already on another project's equipment list: {listed}")
        self.holders = holders


class CaseNotFound(Exception):
    def __init__(self, case_id: str) -> None:
        super().__init__(f"installation complaint {case_id} not known to engineering (it comes with case.assigned)")


@dataclass
class Engineering:
    """Everything the handlers need, wired by bootstrap."""

    projects: ProjectRepository
    cases: InstallationCaseRepository
    project_outbox: Outbox
    case_outbox: Outbox
    project_locks: KeyedLocks
    case_locks: KeyedLocks
    min_installers: int
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)


async def _publish(outbox: Outbox, key: str) -> None:
    try:
        await outbox.flush(key)
    except Exception as exc:
        log.warning("event saved but not yet published; the relay will", key=key, error=repr(exc))


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
) -> Project:
    """A won bid becomes a project; its number is given (the company's own) or drawn (P-<year>-<nnn>)."""
    now = e.clock()
    fields = {
        "client": client, "site": site, "supervisor": supervisor, "design_unit": design_unit, "units": units,
        "contract_value": contract_value, "bid_won_on": bid_won_on or china_today(now), "note": note, "by": by,
        "now": now,
    }
    open_project(project_id=project_id or "P-0000-000", **fields)  # refuses bad input before any number is drawn
    holders = await e.projects.holding([u.serial_no for u in units])
    if holders:
        raise UnitsInstalledElsewhere(holders)
    for _attempt in range(5):
        pid = project_id or f"P-{china_today(now).year}-{await e.projects.next_number(china_today(now).year):03d}"
        project, events = open_project(project_id=pid, **fields)
        if await e.projects.insert(project, envelopes_for(events, correlation_id=pid, producer=PRODUCER, now=now, cause=None)):
            log.info("project opened", project_id=pid, units=len(units))
            await _publish(e.project_outbox, pid)
            return project
        if project_id:
            raise ProjectExists(project_id)
    raise TransientError("no free project number after five draws; try again")


async def get_project(e: Engineering, project_id: str) -> Project:
    found = await e.projects.get(project_id)
    if found is None:
        raise ProjectNotFound(project_id)
    return found[0]


async def change_project(e: Engineering, project_id: str, operation: Callable[[Project], list[Event]]) -> Project:
    """Apply a domain operation: serialised per project in this process, version-checked across processes."""
    for _attempt in range(5):
        async with e.project_locks.hold(project_id):
            found = await e.projects.get(project_id)
            if found is None:
                raise ProjectNotFound(project_id)
            project, version = found
            now = e.clock()
            events = operation(project)
            envelopes = envelopes_for(events, correlation_id=project_id, producer=PRODUCER, now=now, cause=None)
            try:
                await e.projects.save(project, version, envelopes)
            except ConcurrentUpdate:
                continue
        if envelopes:
            await _publish(e.project_outbox, project_id)
        return project
    raise TransientError(f"project {project_id} kept changing under us")


# ------------------------------------------------------------------------------------------- installation complaints


async def on_case_assigned(env: Envelope, assigned: CaseAssigned, *, e: Engineering) -> None:
    """Link an installation complaint to the project that installed the unit, once. Idempotent."""
    if not is_installation_complaint(assigned):
        return  # the quality department's case: nothing for engineering
    if await e.cases.get(assigned.case_id) is None:
        serial = assigned.product.serial_no
        by_serial = await e.projects.installed(serial) if serial else None
        by_ref = None
        if by_serial is None and assigned.project_ref:
            found = await e.projects.get(assigned.project_ref.strip().upper())
            by_ref = found[0] if found else None
        now = e.clock()
        case, events = link_case(assigned, by_serial=by_serial, by_ref=by_ref, event_id=str(env.event_id), now=now)
        if await e.cases.insert(case, envelopes_for(events, correlation_id=case.case_id, producer=PRODUCER, now=now, cause=env.event_id)):
            log.info("installation complaint linked", case_id=case.case_id, project_id=case.project_id,
                     linked_via=case.linked_via)
    # Also after a redelivery: publish whatever an earlier attempt wrote but did not get out.
    await e.case_outbox.flush(assigned.case_id)


async def record_maintenance(
    e: Engineering, case_id: str, *, record_id: str, work_done: str, done_on: date, note: str, by: str
) -> InstallationCase:
    """Maintenance work on an installation complaint, judged against its project's maintenance year."""
    async with e.case_locks.hold(case_id):
        case = await e.cases.get(case_id)
        if case is None:
            raise CaseNotFound(case_id)
        if any(r.record_id == record_id for r in case.maintenance):
            return case  # a retried request: the work is recorded already
        accepted_on = None
        if case.project_id:
            found = await e.projects.get(case.project_id)
            accepted_on = found[0].accepted_on if found else None
        now = e.clock()
        events = case.record_maintenance(record_id=record_id, work_done=work_done, done_on=done_on, note=note,
                                         accepted_on=accepted_on, by=by, now=now)
        await e.cases.save(case, envelopes_for(events, correlation_id=case_id, producer=PRODUCER, now=now, cause=None))
    await _publish(e.case_outbox, case_id)
    return case
