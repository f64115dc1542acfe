"""Installation complaints: the case tied to the project that installed the unit, and the maintenance done on it.

An installation complaint (department engineering_installation) is linked once, when dispatch assigns
it: to the project whose equipment list holds the unit's serial number, else to the project the
channel named, else to none. Maintenance work recorded on it says whether it fell within the one-year
installation maintenance counted from that project's acceptance (§二.3.4.2).
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from engineering.domain.periods import within_maintenance_year
from engineering.domain.project import Event, InvalidInput, Project
from shared.contracts.cases import CaseAssigned
from shared.contracts.engineering import InstallationCaseLinked, InstallationMaintenanceRecorded
from shared.periods import china_today

ENGINEERING_DEPARTMENT = "engineering_installation"
LINKED_BY = "engineering"


class MaintenanceRecord(BaseModel):
    record_id: str
    work_done: str
    done_on: date
    note: str = ""
    within_maintenance_year: bool | None = Field(
        description="None when no accepted project covers the unit on that day (see periods.within_maintenance_year)."
    )
    by: str
    at: datetime


class InstallationCase(BaseModel):
    case_id: str
    project_id: str | None
    linked_via: str | None = Field(description="serial_no, project_ref, or None when no project was found.")
    serial_no: str | None = None
    model: str | None = None
    project_ref: str | None = None
    specialist_id: str
    description: str
    customer_name: str
    customer_address: str | None = None
    received_at: datetime
    linked_at: datetime
    source_event_id: str
    maintenance: list[MaintenanceRecord] = Field(default_factory=list)

    def record_maintenance(
        self,
        *,
        record_id: str,
        work_done: str,
        done_on: date,
        note: str,
        accepted_on: date | None,
        by: str,
        now: datetime,
        maintenance_months: int,
    ) -> list[Event]:
        """Maintenance work on the complaint; within the year when done by the anniversary of acceptance
        (`maintenance_months` from the rule set in effect, see periods)."""
        if done_on > china_today(now):
            raise InvalidInput("done_on", f"{done_on} is in the future; record the work once it is done")
        within = within_maintenance_year(accepted_on, done_on, maintenance_months)
        self.maintenance.append(
            MaintenanceRecord(
                record_id=record_id,
                work_done=work_done,
                done_on=done_on,
                note=note,
                within_maintenance_year=within,
                by=by,
                at=now,
            )
        )
        return [
            (
                "installation.maintenance_recorded",
                InstallationMaintenanceRecorded(
                    case_id=self.case_id,
                    project_id=self.project_id,
                    work_done=work_done,
                    within_maintenance_year=within,
                    by=by,
                    done_on=done_on,
                ),
            )
        ]


def is_installation_complaint(assigned: CaseAssigned) -> bool:
    return assigned.department == ENGINEERING_DEPARTMENT


def link_case(
    assigned: CaseAssigned, *, by_serial: Project | None, by_ref: Project | None, event_id: str, now: datetime
) -> tuple[InstallationCase, list[Event]]:
    """The unit's own project first (its serial number is on the equipment list), then the one named."""
    project, via = (
        (by_serial, "serial_no") if by_serial else (by_ref, "project_ref") if by_ref else (None, None)
    )
    serial = assigned.product.serial_no
    model = assigned.product.model
    if project is not None and serial:
        model = next((u.model for u in project.units if u.serial_no == serial), model)
    case = InstallationCase(
        case_id=assigned.case_id,
        project_id=project.project_id if project else None,
        linked_via=via,
        serial_no=serial,
        model=model,
        project_ref=assigned.project_ref,
        specialist_id=assigned.specialist_id,
        description=assigned.description,
        customer_name=assigned.customer_name,
        customer_address=assigned.customer_address,
        received_at=assigned.received_at,
        linked_at=now,
        source_event_id=event_id,
    )
    linked = InstallationCaseLinked(
        case_id=case.case_id, project_id=case.project_id, serial_no=serial, linked_by=LINKED_BY
    )
    return case, [("installation.case_linked", linked)]
