"""Wires warranty onto the shared runtime: rule book, repositories, handlers, the outbox relay."""

from __future__ import annotations

from functools import partial

from shared.logging import get_logger
from shared.service import ServiceRuntime
from warranty.adapters.repository import CaseFactsQueries, UnitRepository
from warranty.config import WarrantySettings
from warranty.domain.facts import CaseFacts
from warranty.domain.rules import RuleBook
from warranty.handlers import (
    Warranty,
    on_case_assigned,
    on_case_changed,
    on_cases_assigned,
    on_installation_accepted,
)

log = get_logger(__name__)


async def wire(runtime: ServiceRuntime) -> None:
    settings = runtime.settings
    assert isinstance(settings, WarrantySettings)
    cases = runtime.aggregates("cases", CaseFacts, id_field="case_id", kind="case")
    w = Warranty(
        units=UnitRepository(runtime.db, runtime.store),
        cases=cases,
        queries=CaseFactsQueries(cases),
        rules=RuleBook.from_directory(settings.rulesets_dir),  # a bad rule set stops the start-up
    )
    runtime.components["warranty"] = w
    try:
        await w.queries.ensure_indexes()
    except Exception as exc:
        log.warning("store not ready at start-up; indexes skipped", error=repr(exc))
    consumer = runtime.consumer
    # New cases are decided in batches (one read, one insert, one publish for what is waiting); the
    # rarer reassignments and triages one at a time, in order with them.
    cases_assigned = partial(on_cases_assigned, w=w)
    consumer.handle("case.assigned", partial(on_case_assigned, w=w), batch=cases_assigned)
    consumer.handle("case.reassigned", partial(on_case_changed, w=w), batch=cases_assigned)
    consumer.handle("case.triaged", partial(on_case_changed, w=w), batch=cases_assigned)
    consumer.handle("installation.accepted", partial(on_installation_accepted, w=w))
