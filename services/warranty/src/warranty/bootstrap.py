"""Wires warranty onto the shared runtime: rule book, repositories, handlers, the outbox relay."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from functools import partial
from typing import Any

from pymongo import ASCENDING

from shared.attachments import AttachmentStore
from shared.http.ratelimit import RateLimiter
from shared.logging import get_logger
from shared.periods import china_date
from shared.service import ServiceRuntime
from warranty.adapters.repository import CaseFactsQueries, UnitRepository
from warranty.config import WarrantySettings
from warranty.domain.facts import CaseFacts
from warranty.domain.remedy import Remedy
from warranty.domain.rules import RuleBook
from warranty.domain.unit import Unit
from warranty.handlers import (
    Warranty,
    on_case_assigned,
    on_case_changed,
    on_case_closed,
    on_cases_assigned,
    on_installation_accepted,
    on_part_repaired,
    on_parts_request_opened,
    on_quote_issued,
    on_repair_recorded,
    on_rma_opened,
    scan_overdue_repairs,
)

log = get_logger(__name__)


async def wire(runtime: ServiceRuntime) -> None:
    settings = runtime.settings
    assert isinstance(settings, WarrantySettings)
    rules = RuleBook.from_directory(settings.rulesets_dir)  # a bad rule set stops the start-up

    def scan_fields(facts: CaseFacts) -> dict[str, Any]:
        # The first day an overdue-repair rule could change the decision: the scanner's indexed query.
        current = rules.for_day(china_date(datetime.now(UTC)))
        return {
            "repair_check_on": facts.repair_check_on(current.repair_days_limit, current.parts_wait_days_limit)
        }

    cases = runtime.aggregates("cases", CaseFacts, id_field="case_id", kind="case", query_fields=scan_fields)
    units = runtime.aggregates("units", Unit, id_field="serial_no", kind="unit")
    remedies = runtime.aggregates(
        "remedies", Remedy, id_field="remedy_id", kind="remedy", correlation=lambda r: r.case_id
    )
    w = Warranty(
        remedies=remedies,
        store=runtime.store,
        units=UnitRepository(units, runtime.db, runtime.store),
        cases=cases,
        queries=CaseFactsQueries(cases),
        rules=rules,
        unknown_case_grace_s=settings.unknown_case_grace_s,
        public_rate_limit=settings.public_rate_limit,
    )
    runtime.components["warranty"] = w
    runtime.components["attachments"] = AttachmentStore(runtime.db)
    runtime.components["limiter"] = RateLimiter()
    try:
        await w.queries.ensure_indexes()
        await w.units.ensure_indexes()
        await runtime.components["attachments"].ensure_indexes()
        await remedies.collection.create_index([("case_id", ASCENDING)])
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
    # The unit's history: repairs from parts and from closures, and the time a repair is waiting.
    consumer.handle("case.closed", partial(on_case_closed, w=w))
    consumer.handle("parts.request_opened", partial(on_parts_request_opened, w=w))
    consumer.handle("parts.rma_opened", partial(on_rma_opened, w=w))
    consumer.handle("parts.repaired", partial(on_part_repaired, w=w))
    consumer.handle("repair.recorded", partial(on_repair_recorded, w=w))
    consumer.handle("quote.issued", partial(on_quote_issued, w=w))

    async def overdue_repairs() -> None:
        while True:
            await scan_overdue_repairs(w)
            await asyncio.sleep(settings.overdue_scan_interval_s)

    runtime.background("overdue-repairs", overdue_repairs)
