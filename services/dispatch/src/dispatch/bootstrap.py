"""Wires dispatch onto the shared runtime: repositories, targets, roster seed, handlers, background jobs."""

from __future__ import annotations

import asyncio
from functools import partial

import yaml

from dispatch.adapters.reports import FontMissing
from dispatch.adapters.repository import (
    CaseFiguresByDay,
    CaseQueries,
    ReportRepository,
    RosterRepository,
    SettingsRepository,
    TimelineRepository,
    case_query_fields,
)
from dispatch.adapters.workload import WorkloadBoard
from dispatch.config import DispatchSettings
from dispatch.domain.case import Case
from dispatch.domain.closure import ClosurePolicy
from dispatch.domain.routing import AssignmentPolicy, Specialist
from dispatch.domain.targets import TargetPolicy
from dispatch.handlers import (
    Dispatch,
    on_complaint_received,
    on_complaints_received,
    on_engineering_case_event,
    on_notification,
    on_own_event,
    on_own_events,
    on_parts_event,
    on_remedy_event,
    on_warranty_decided,
    on_warranty_decisions,
    scan_deadlines,
    scheduled_report,
)
from shared.contracts.registry import load_registry
from shared.http.ratelimit import RateLimiter
from shared.logging import get_logger
from shared.service import ServiceRuntime

log = get_logger(__name__)


async def wire(runtime: ServiceRuntime) -> None:
    settings = runtime.settings
    assert isinstance(settings, DispatchSettings)
    cases = runtime.aggregates("cases", Case, id_field="case_id", query_fields=case_query_fields, kind="case")
    queries = CaseQueries(cases)
    roster = RosterRepository(runtime.db, runtime.store)
    settings_repo = SettingsRepository(runtime.db)
    policy = yaml.safe_load(settings.policy_file.read_text(encoding="utf-8"))
    assignment = AssignmentPolicy.model_validate(policy["assignment"])  # a bad file stops the start-up
    d = Dispatch(
        cases=cases,
        queries=queries,
        figures=CaseFiguresByDay(runtime.db, cases),
        timeline=TimelineRepository(runtime.db),
        roster=roster,
        settings=settings_repo,
        workload=WorkloadBoard(roster, queries, settings_repo, default_policy=assignment),
        policy=TargetPolicy.from_file(settings.targets_file),
        closure=ClosurePolicy.from_mapping(policy["closure"]),
        reports=ReportRepository(runtime.db),
        quality_pdf_font=settings.quality_pdf_font,
        unknown_case_grace_s=settings.unknown_case_grace_s,
        limiter=RateLimiter(),
        public_rate_limit=settings.public_rate_limit,
    )
    runtime.components["dispatch"] = d
    try:
        await queries.ensure_indexes()
        if marked := await queries.mark_open():
            log.info("cases marked open or not for the open lists", cases=marked)
        await d.timeline.ensure_indexes()
        await d.figures.ensure_indexes()
        await _seed_roster(d, settings)
        await settings_repo.seed_assignment(assignment)
    except Exception as exc:
        log.warning("store not ready at start-up; indexes and roster seed skipped", error=repr(exc))

    consumer = runtime.consumer
    # The busy topics are handled in batches (one read, one write, one publish for what is waiting);
    # each handler keeps the one-event way too, which a failed batch falls back to.
    consumer.handle(
        "complaint.received", partial(on_complaint_received, d=d), batch=partial(on_complaints_received, d=d)
    )
    own_events = partial(on_own_events, d=d)
    for spec in load_registry().get("dispatch.cases.v1").events:
        consumer.handle(spec.type, partial(on_own_event, d=d), batch=own_events)
    consumer.handle(
        "warranty.decided", partial(on_warranty_decided, d=d), batch=partial(on_warranty_decisions, d=d)
    )
    for spec in load_registry().get("parts.requests.v1").events:
        consumer.handle(spec.type, partial(on_parts_event, d=d))
    for spec in load_registry().get("warranty.remedies.v1").events:
        consumer.handle(spec.type, partial(on_remedy_event, d=d))
    for spec in load_registry().get("notifications.messages.v1").events:
        consumer.handle(spec.type, partial(on_notification, d=d))
    for spec in load_registry().get("engineering.case-work.v1").events:
        consumer.handle(spec.type, partial(on_engineering_case_event, d=d))

    async def scanner() -> None:
        while True:
            await scan_deadlines(d)
            await asyncio.sleep(settings.scan_interval_s)

    runtime.background("deadline-scanner", scanner)

    async def reports() -> None:
        while True:
            try:
                await scheduled_report(d)
            except FontMissing as exc:
                log.error("monthly report not generated", error=str(exc))
            await asyncio.sleep(settings.report_check_interval_s)

    runtime.background("monthly-quality-report", reports)

    async def figures_for_statistics() -> None:
        rebuilt = await d.figures.rebuild_if_missing()
        if rebuilt:
            log.info("figures for statistics rebuilt from the cases", cases=rebuilt)
        while True:  # fold each day that changed into its day document
            await d.figures.compact()
            await asyncio.sleep(settings.figures_compact_interval_s)

    runtime.background("figures-by-day", figures_for_statistics)


async def _seed_roster(d: Dispatch, settings: DispatchSettings) -> None:
    if settings.roster_seed_file is None or not await d.roster.is_empty():
        return
    data = yaml.safe_load(settings.roster_seed_file.read_text(encoding="utf-8"))
    for s in data["specialists"]:
        await d.roster.upsert(
            Specialist(
                s["specialist_id"],
                s["name"],
                s["department"],
                tuple(s["skills"]),
                tuple(s["regions"]),
                s["active"],
            )
        )
    log.info("roster seeded", specialists=len(data["specialists"]))
