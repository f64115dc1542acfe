"""Events of engineering.projects.v1: installation projects, from won bid to archived acceptance."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from shared.contracts.base import Contract
from shared.contracts.ids import CaseId


class InstalledUnit(Contract):
    serial_no: str
    model: str


class InstallationAccepted(Contract):
    """The works passed acceptance (R-EN-4): the equipment and workmanship warranties start (R-EN-5)."""

    project_id: str
    client: str
    site: str
    accepted_on: date
    units: list[InstalledUnit] = Field(min_length=1)


class ProjectOpened(Contract):
    """A bid was won: the project exists (no prices in events; they stay inside engineering)."""

    project_id: str
    client: str
    site: str
    supervisor: str = Field(description="The supervision unit (监理).")
    design_unit: str | None = None
    units: list[InstalledUnit] = Field(default_factory=list)
    opened_by: str


class ProjectMilestone(Contract):
    """A gate of the project passed: quotes complete, decision, contract, paperwork, works, acceptance steps..."""

    project_id: str
    milestone: str = Field(
        description="quotes_complete, installer_chosen, contract_signed, site_lead_named, "
        "survey_done, paperwork_complete, works_started, material_accepted, "
        "preconditions_met, acceptance_<step>, archived"
    )
    detail: str = ""
    by: str


class InstallationCaseLinked(Contract):
    """An installation complaint was tied to the project that installed the unit."""

    case_id: CaseId
    project_id: str | None = Field(description="None when no project installed this unit.")
    serial_no: str | None = None
    linked_by: str


class InstallationMaintenanceRecorded(Contract):
    """Maintenance work done on an installation complaint (§二.3.4.2)."""

    case_id: CaseId
    project_id: str | None = None
    work_done: str
    within_maintenance_year: bool | None = None
    by: str
    done_on: date


class MaintenanceVisitRecorded(Contract):
    """A planned maintenance visit within the maintenance year was made (§二.3.4.1 正常保养)."""

    project_id: str
    visit_no: int = Field(ge=1)
    due_on: date
    visited_on: date
    by: str
    notes: str = ""


class MaintenanceVisitMissed(Contract):
    """A planned maintenance visit was not made in time: escalated to the quality after-sales manager."""

    project_id: str
    client: str
    site: str
    visit_no: int = Field(ge=1)
    due_on: date
    overdue_days: int = Field(ge=0)
