"""Wires engineering onto the shared runtime: repositories, the case.assigned handler, the outbox relays."""

from __future__ import annotations

from functools import partial

from engineering.adapters.repository import InstallationCaseRepository, ProjectRepository
from engineering.config import EngineeringSettings
from engineering.handlers import Engineering, on_case_assigned
from shared.locks import KeyedLocks
from shared.logging import get_logger
from shared.service import ServiceRuntime

log = get_logger(__name__)


async def wire(runtime: ServiceRuntime) -> None:
    settings = runtime.settings
    assert isinstance(settings, EngineeringSettings)
    projects = ProjectRepository(runtime.db)
    cases = InstallationCaseRepository(runtime.db)
    project_locks, case_locks = KeyedLocks(), KeyedLocks()
    e = Engineering(
        projects=projects,
        cases=cases,
        project_outbox=projects.outbox(runtime.publisher, project_locks),
        case_outbox=cases.outbox(runtime.publisher, case_locks),
        project_locks=project_locks,
        case_locks=case_locks,
        min_installers=settings.min_installer_quotes,
    )
    runtime.components["engineering"] = e
    try:
        await projects.ensure_indexes()
        await cases.ensure_indexes()
    except Exception as exc:
        log.warning("store not ready at start-up; indexes skipped", error=repr(exc))
    runtime.consumer.handle("case.assigned", partial(on_case_assigned, e=e))
    runtime.outbox_relay("project-outbox-relay", e.project_outbox)
    runtime.outbox_relay("case-outbox-relay", e.case_outbox)
