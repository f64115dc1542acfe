"""Wires engineering onto the shared runtime: projects and installation complaints, the case.assigned handler."""

from __future__ import annotations

import asyncio
from functools import partial

from engineering.adapters.repository import (
    InstallationCaseQueries,
    ProjectQueries,
    project_query_fields,
)
from engineering.config import EngineeringSettings
from engineering.domain.case_work import InstallationCase
from engineering.domain.project import Project
from engineering.handlers import Engineering, on_case_assigned, scan_maintenance_visits
from shared.attachments import AttachmentStore
from shared.logging import get_logger
from shared.rulesets import PeriodBook
from shared.service import ServiceRuntime

log = get_logger(__name__)


async def wire(runtime: ServiceRuntime) -> None:
    settings = runtime.settings
    assert isinstance(settings, EngineeringSettings)
    projects = runtime.aggregates(
        "projects",
        Project,
        id_field="project_id",
        kind="project",
        query_fields=partial(project_query_fields, visit_grace_days=settings.maintenance_visit_grace_days),
    )
    cases = runtime.aggregates(
        "installation_cases", InstallationCase, id_field="case_id", kind="installation complaint"
    )
    e = Engineering(
        store=runtime.store,
        projects=projects,
        project_queries=ProjectQueries(runtime.db, projects),
        cases=cases,
        case_queries=InstallationCaseQueries(cases),
        min_installers=settings.min_installer_quotes,
        visit_every_months=settings.maintenance_visit_every_months,
        visit_grace_days=settings.maintenance_visit_grace_days,
        periods=PeriodBook.from_directory(settings.rulesets_dir),  # a bad rule set stops the start-up
    )
    runtime.components["engineering"] = e
    runtime.components["attachments"] = files = AttachmentStore(runtime.db)
    try:
        await e.project_queries.ensure_indexes()
        await e.case_queries.ensure_indexes()
        await files.ensure_indexes()
    except Exception as exc:
        log.warning("store not ready at start-up; indexes skipped", error=repr(exc))
    runtime.consumer.handle("case.assigned", partial(on_case_assigned, e=e))

    async def visits() -> None:
        while True:
            await scan_maintenance_visits(e)
            await asyncio.sleep(settings.scan_interval_s)

    runtime.background("maintenance-visits", visits)
