"""Dispatch's handlers: one per consumed event, one per command, and the deadline scan.

Every change follows the same path: read the case, let the domain change it and name its events,
write case and events in one document (the outbox), then publish. Events caused by a consumed event
get ids derived from it, so redelivery republishes the same events rather than new ones.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dispatch.adapters.repository import (
    CaseRepository,
    ConcurrentUpdate,
    RosterRepository,
    TimelineRepository,
)
from dispatch.adapters.workload import WorkloadBoard
from dispatch.domain.case import Case, Event, open_case
from dispatch.domain.routing import choose_specialist, department_for, priority_for
from dispatch.domain.targets import TargetPolicy
from dispatch.domain.timeline import summary_of
from shared.contracts.complaints import ComplaintReceived
from shared.contracts.envelope import Envelope, InvalidMessage, envelopes_for
from shared.contracts.registry import load_registry
from shared.contracts.warranty import WarrantyDecided
from shared.http.ratelimit import RateLimiter
from shared.kafka.consumer import TransientError
from shared.locks import KeyedLocks
from shared.logging import get_logger
from shared.outbox import Outbox

log = get_logger(__name__)

PRODUCER = "dispatch"


class CaseNotFound(Exception):
    def __init__(self, case_id: str) -> None:
        super().__init__(f"case {case_id} does not exist")


@dataclass
class Dispatch:
    """Everything the handlers need, wired by bootstrap."""

    cases: CaseRepository
    timeline: TimelineRepository
    roster: RosterRepository
    outbox: Outbox
    policy: TargetPolicy
    unknown_case_grace_s: float
    locks: KeyedLocks
    workload: WorkloadBoard
    limiter: RateLimiter
    public_rate_limit: str
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)


# ------------------------------------------------------------------------------------------- events


async def on_complaint_received(env: Envelope, complaint: ComplaintReceived, *, d: Dispatch) -> None:
    """Open the case, route it to a department and assign a specialist (R-DS-1). Idempotent."""
    await _record(d, env, "intake.complaints.v1")
    if await d.cases.get(complaint.case_id) is None:
        case = open_case(
            complaint,
            event_id=str(env.event_id),
            department=department_for(complaint.category_guess.category),
            priority=priority_for(complaint),
            policy=d.policy,
        )
        events = await _auto_assign(d, case, now=d.clock())
        if await d.cases.insert(case, envelopes_for(events, correlation_id=case.case_id, producer=PRODUCER, now=d.clock(), cause=env.event_id)):
            log.info("case opened", case_id=case.case_id, department=case.department, assignee=case.assignee)
    # Also after a redelivery: publish whatever an earlier attempt wrote but did not get out.
    await d.outbox.flush(complaint.case_id)


async def _auto_assign(d: Dispatch, case: Case, *, now: datetime) -> list[Event]:
    roster, workloads = await d.workload.current()
    choice = choose_specialist(
        roster, department=case.department, category=case.category, region=case.region, workloads=workloads
    )
    if choice is None:
        log.warning("no active specialist in the department: left for the manager", case_id=case.case_id)
        return []
    d.workload.assigned(choice.specialist.specialist_id)
    return case.assign(choice.specialist.specialist_id, by="auto", reason=choice.reason, now=now)


async def on_own_event(env: Envelope, payload: Any, *, d: Dispatch) -> None:
    """Dispatch's own events come back through Kafka into the timeline, like everyone else's."""
    await _record(d, env, "dispatch.cases.v1")


async def on_warranty_decided(env: Envelope, decision: WarrantyDecided, *, d: Dispatch) -> None:
    """Show the latest decision on the case; an older decision never replaces a newer one."""
    await _require_case(d, env)

    def apply(case: Case) -> list[Event]:
        current = case.warranty
        if current is None or current.get("decided_at") is None or current["decided_at"] <= decision.decided_at:
            case.warranty = {**decision.model_dump(mode="python"), "event_id": str(env.event_id)}
        return []

    await change_case(d, decision.case_id, apply, cause=env.event_id)
    # The timeline entry last: once it shows, the case shows the decision too.
    await _record(d, env, "warranty.decisions.v1")


_PARTS_STATE = {
    "parts.request_opened": "sourcing_locally",
    "parts.rma_opened": "supplier_rma",
    "parts.repaired": "repaired",
    "purchase.requested": "purchase_requested",
}


async def on_parts_event(env: Envelope, payload: Any, *, d: Dispatch) -> None:
    """The parts path (local sourcing, RMA, shipments, repair) shows on the case as it happens."""
    await _require_case(d, env)
    request_id = getattr(payload, "request_id", None)

    def apply(case: Case) -> list[Event]:
        if request_id is None or env.event_type == "quote.issued":
            return []
        action = dict(case.parts_actions.get(request_id, {"request_id": request_id}))
        if env.event_type == "parts.request_opened":
            action |= {"part": payload.part, "path": "A", "sourcing_by": payload.sourcing_by, "deadline": payload.deadline}
        elif env.event_type == "parts.local_sourcing_reported":
            action["state"] = "sourced_locally" if payload.found else action.get("state")
        elif env.event_type == "parts.rma_opened":
            action |= {"path": "B", "rma_no": payload.rma_no or action.get("rma_no"), "supplier": payload.supplier}
        elif env.event_type == "parts.shipped":
            action.setdefault("shipments", []).append(f"{payload.direction}: {payload.carrier} {payload.tracking_no}")
            if payload.direction == "good_part_to_field":
                action["state"] = "good_part_shipped"
        elif env.event_type == "purchase.requested":
            action |= {"item": payload.item, "quantity": payload.quantity}
        if env.event_type in _PARTS_STATE:
            action["state"] = _PARTS_STATE[env.event_type]
        action["updated_at"] = env.occurred_at
        case.parts_actions[request_id] = action
        return []

    await change_case(d, env.correlation_id, apply, cause=env.event_id)
    await _record(d, env, "parts.requests.v1")


async def on_engineering_case_event(env: Envelope, payload: Any, *, d: Dispatch) -> None:
    """Engineering's work on an installation complaint joins the case's timeline."""
    await _require_case(d, env)
    await _record(d, env, "engineering.case-work.v1")


async def _require_case(d: Dispatch, env: Envelope) -> None:
    """The stated rule for events about an unknown case: wait while the event is young, then dead-letter."""
    if await d.cases.get(env.correlation_id) is not None:
        return
    age = (d.clock() - env.occurred_at).total_seconds()
    if age < d.unknown_case_grace_s:
        raise TransientError(f"case {env.correlation_id} not known yet ({age:.0f}s after the event); waiting")
    raise InvalidMessage(
        f"case {env.correlation_id} unknown {age:.0f}s after {env.event_type} (grace {d.unknown_case_grace_s:.0f}s)"
    )


async def _record(d: Dispatch, env: Envelope, topic: str) -> None:
    """Add the event to the case's timeline once (its id is the key)."""
    spec = load_registry().event_spec(env.event_type, env.schema_version)
    payload = spec.payload_model.model_validate(env.payload)
    await d.timeline.add(env, topic=topic, summary=summary_of(env.event_type, payload), recorded_at=d.clock())


# ------------------------------------------------------------------------------------------- commands


async def change_case(
    d: Dispatch, case_id: str, operation: Callable[[Case], list[Event]], *, cause: uuid.UUID | None = None
) -> Case:
    """Apply a domain operation: serialised per case in this process, version-checked across processes."""
    for _attempt in range(5):
        async with d.locks.hold(case_id):
            found = await d.cases.get(case_id)
            if found is None:
                raise CaseNotFound(case_id)
            case, version = found
            events = operation(case)
            envelopes = envelopes_for(events, correlation_id=case_id, producer=PRODUCER, now=d.clock(), cause=cause)
            try:
                await d.cases.save(case, version, envelopes)
            except ConcurrentUpdate:
                continue
        if envelopes:
            try:
                await d.outbox.flush(case_id)
            except Exception as exc:
                log.warning("event saved but not yet published; the relay will", case_id=case_id, error=repr(exc))
        return case
    raise TransientError(f"case {case_id} kept changing under us")


async def scan_deadlines(d: Dispatch) -> int:
    """Escalate missed time targets and announce due follow-ups; returns the events raised."""
    raised = 0
    now = d.clock()
    for case_id in await d.cases.due(now):
        try:
            # Two scanners may race; the version check lets one win and the other then finds nothing due.
            found: list[Event] = []

            def check(case: Case, found: list[Event] = found) -> list[Event]:
                found[:] = case.check_deadlines(now)
                return found

            await change_case(d, case_id, check, cause=None)
            raised += len(found)
        except (ConcurrentUpdate, TransientError):
            continue  # the next scan sees it again
    return raised
