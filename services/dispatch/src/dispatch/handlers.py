"""Dispatch's handlers: one per consumed event, one per command, and the deadline scan.

Every change goes through the unit of work (shared.unit_of_work): read the case, let the domain
change it and name its events, write case and events in one version-checked write, publish after.
A consumed event's id keys its change, so a redelivery changes nothing twice; a command's
Idempotency-Key does the same for a retried request.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from dispatch.adapters.reports import monthly_pdf
from dispatch.adapters.repository import (
    CaseFiguresByDay,
    CaseQueries,
    ReportRepository,
    RosterRepository,
    SettingsRepository,
    TimelineRepository,
)
from dispatch.adapters.workload import WorkloadBoard
from dispatch.domain.access import can_act, can_answer, can_read
from dispatch.domain.case import Case, Event, ReplyVia, open_case
from dispatch.domain.closure import ENDED_REMEDY_STATES, ClosurePolicy
from dispatch.domain.quality import FaultRow, fault_rows
from dispatch.domain.routing import (
    AssignmentPolicy,
    Specialist,
    choose_specialist,
    department_for,
    priority_for,
)
from dispatch.domain.targets import TargetPolicy
from dispatch.domain.timeline import summary_of
from shared.contracts.cases import Department, Outcome, Priority
from shared.contracts.complaints import Category, ComplaintReceived
from shared.contracts.envelope import Envelope, InvalidMessage
from shared.contracts.registry import load_registry
from shared.contracts.warranty import WarrantyDecided
from shared.http.auth import Principal
from shared.http.ratelimit import RateLimiter
from shared.kafka.consumer import TransientError
from shared.logging import get_logger
from shared.periods import CHINA, add_months, china_date
from shared.unit_of_work import Aggregates, ChangeKey, NotFound

log = get_logger(__name__)

PRODUCER = "dispatch"


class CaseNotFound(NotFound):
    """No such case, or not one this caller may read: the two look the same to a channel."""

    def __init__(self, case_id: str) -> None:
        super().__init__("case", case_id)


class NotYourCase(Exception):
    def __init__(self, case: Case) -> None:
        super().__init__(
            f"case {case.case_id} is assigned to {case.assignee or 'nobody'}; "
            "only they or the manager may act on it"
        )


class NotTheWindow(Exception):
    """§一.2: only the quality after-sales department answers the customer and closes a case."""

    def __init__(self, case: Case, by: Principal) -> None:
        who = case.window or "the specialist the manager names"
        if by.role == "engineering":
            message = (
                f"only the quality after-sales department replies to customers and closes cases (§一.2); "
                f"engineering records its installation work on the case, and {who} answers the customer"
            )
        else:
            message = f"case {case.case_id} is answered by {who}; only they or the manager reply, close and follow up"
        super().__init__(message)


class InvalidRequest(Exception):
    """A command that can never succeed as given; the message starts with the field at fault."""


class NotAssignable(InvalidRequest):
    """The specialist cannot take this case (inactive, unknown, or in another department)."""


@dataclass
class Dispatch:
    """Everything the handlers need, wired by bootstrap."""

    cases: Aggregates[Case]
    queries: CaseQueries
    figures: CaseFiguresByDay
    timeline: TimelineRepository
    roster: RosterRepository
    settings: SettingsRepository
    policy: TargetPolicy
    closure: ClosurePolicy
    reports: ReportRepository
    quality_pdf_font: Path
    unknown_case_grace_s: float
    workload: WorkloadBoard
    limiter: RateLimiter
    public_rate_limit: str
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)


# ------------------------------------------------------------------------------------------- events


async def on_complaint_received(env: Envelope, complaint: ComplaintReceived, *, d: Dispatch) -> None:
    """Open the case, route it to a department and assign a specialist (R-DS-1). Idempotent."""
    await _record(d, env, "intake.complaints.v1")
    if await d.cases.get(complaint.case_id) is not None:
        return  # a redelivery: the case and its events exist (the relay publishes what is left)
    case = open_case(
        complaint,
        event_id=str(env.event_id),
        department=department_for(complaint.category_guess.category),
        priority=priority_for(complaint),
        policy=d.policy,
    )
    events = await _auto_assign(d, case, now=d.clock())
    if (await d.cases.create(case, events, cause=env.event_id)).created:
        log.info("case opened", case_id=case.case_id, department=case.department, assignee=case.assignee)
        if case.assignee is None:  # an assigned case's figures come with its case.assigned
            await d.figures.record_cases([case.case_id])


async def on_complaints_received(batch: list[tuple[Envelope, ComplaintReceived]], *, d: Dispatch) -> None:
    """`on_complaint_received` for what is waiting: one read, one insert, one publish for the batch."""
    await _record_many(d, batch, "intake.complaints.v1")
    known = await d.cases.existing(c.case_id for _env, c in batch)
    now = d.clock()
    new: dict[str, tuple[Case, list[Any], uuid.UUID]] = {}
    for env, complaint in batch:
        if complaint.case_id in known or complaint.case_id in new:
            continue
        case = open_case(
            complaint,
            event_id=str(env.event_id),
            department=department_for(complaint.category_guess.category),
            priority=priority_for(complaint),
            policy=d.policy,
        )
        new[case.case_id] = (case, await _auto_assign(d, case, now=now), env.event_id)
    opened = await d.cases.create_many(list(new.values()))
    if opened:
        log.info("cases opened", count=len(opened))
        # An assigned case's figures come with its case.assigned, read back like every own event.
        await d.figures.record_cases([c.case_id for c in opened if c.assignee is None])


async def _auto_assign(d: Dispatch, case: Case, *, now: datetime) -> list[Event]:
    """Route a new case: the window, then the specialist the rules choose, assigned at once or proposed
    to the manager, as the manager's settings say for its channel and category."""
    roster, workloads, policy = await d.workload.current()
    today = china_date(now)
    case.watched = case.channel in policy.watch_channels
    events = _name_window(d, case, roster, workloads, by="auto", policy=policy, today=today)
    choice = choose_specialist(
        roster,
        department=case.department,
        category=case.category,
        region=case.region,
        workloads=workloads,
        ceiling=policy.ceiling,
        today=today,
    )
    if choice is None:
        log.warning("no available specialist in the department: left for the manager", case_id=case.case_id)
        return events
    d.workload.assigned(choice.specialist.specialist_id)
    if policy.mode_for(case.channel, case.category) == "confirm":
        return events + case.propose(choice.specialist.specialist_id, reason=choice.reason, now=now)
    return events + case.assign(choice.specialist.specialist_id, by="auto", reason=choice.reason, now=now)


def _name_window(
    d: Dispatch,
    case: Case,
    roster: list[Specialist],
    workloads: dict[str, int],
    *,
    by: str,
    policy: AssignmentPolicy,
    today: date,
    reason: str = "",
) -> list[Event]:
    """A case another department works still answers the customer through a quality specialist (§一.2)."""
    if case.department == "quality" or case.liaison is not None:
        return []
    choice = choose_specialist(
        roster,
        department="quality",
        category=case.category,
        region=case.region,
        workloads=workloads,
        ceiling=policy.ceiling,
        today=today,
    )
    if choice is None:
        return []
    d.workload.assigned(choice.specialist.specialist_id)
    why = f"answers the customer for the {case.department} department; {choice.reason}"
    return case.assign_liaison(
        choice.specialist.specialist_id, by=by, reason=f"{reason}; {why}" if reason else why
    )


async def on_own_event(env: Envelope, payload: Any, *, d: Dispatch) -> None:
    """Dispatch's own events come back through Kafka into the timeline, like everyone else's, and
    bring the case's figures for statistics up to date."""
    await _record(d, env, "dispatch.cases.v1")
    await d.figures.record_cases([env.correlation_id])


async def on_own_events(batch: list[tuple[Envelope, Any]], *, d: Dispatch) -> None:
    await _record_many(d, batch, "dispatch.cases.v1")
    await d.figures.record_cases([env.correlation_id for env, _ in batch])


async def on_warranty_decided(env: Envelope, decision: WarrantyDecided, *, d: Dispatch) -> None:
    """Show the latest decision on the case; an older decision never replaces a newer one."""
    await _require_case(d, env)
    await d.cases.change(decision.case_id, _show_decision(env, decision), cause=env.event_id)
    # The timeline entry last: once it shows, the case shows the decision too.
    await _record(d, env, "warranty.decisions.v1")


async def on_warranty_decisions(
    batch: list[tuple[Envelope, WarrantyDecided]], *, d: Dispatch
) -> list[Envelope]:
    """`on_warranty_decided` for a batch; a decision about a case not known yet is left for one at a
    time (it waits there for its case), with every later decision of that case."""
    unknown = await d.cases.change_many(
        [(dec.case_id, _show_decision(env, dec), env.event_id) for env, dec in batch]
    )
    await _record_many(
        d, [(env, dec) for env, dec in batch if dec.case_id not in unknown], "warranty.decisions.v1"
    )
    return [env for env, dec in batch if dec.case_id in unknown]


def _show_decision(env: Envelope, decision: WarrantyDecided) -> Callable[[Case], list[Event]]:
    def apply(case: Case) -> list[Event]:
        current = case.warranty
        if (
            current is None
            or current.get("decided_at") is None
            or current["decided_at"] <= decision.decided_at
        ):
            case.warranty = {**decision.model_dump(mode="python"), "event_id": str(env.event_id)}
        return []

    return apply


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
        if env.event_type == "repair.recorded":
            _add_repair_record(case, payload.record_id, payload.request_id, payload.repaired_on)
            return []
        if request_id is None or env.event_type == "quote.issued":
            return []
        action = dict(case.parts_actions.get(request_id, {"request_id": request_id}))
        if env.event_type == "parts.request_opened":
            action |= {
                "part": payload.part,
                "path": "A",
                "sourcing_by": payload.sourcing_by,
                "deadline": payload.deadline,
                "opened_at": env.occurred_at,
            }
        elif env.event_type == "parts.local_sourcing_reported":
            action["state"] = "sourced_locally" if payload.found else action.get("state")
        elif env.event_type == "parts.rma_opened":
            action |= {
                "path": "B",
                "rma_no": payload.rma_no or action.get("rma_no"),
                "supplier": payload.supplier,
            }
        elif env.event_type == "parts.shipped":
            action.setdefault("shipments", []).append(
                f"{payload.direction}: {payload.carrier} {payload.tracking_no}"
            )
            if payload.direction == "good_part_to_field":
                action |= {"state": "good_part_shipped", "field_recipient": payload.to}
        elif env.event_type == "parts.arrived":
            action.setdefault("arrived", {})[payload.leg] = payload.arrived_on.isoformat()
            if payload.leg == "good_part_in_field":
                action["state"] = "good_part_received"
        elif env.event_type == "parts.leg_overdue":
            # Escalated to the manager (§三.2.3B 及时): shown on the case until the leg is done.
            overdue = action.setdefault("overdue", [])
            if payload.leg not in overdue:
                overdue.append(payload.leg)
        elif env.event_type == "purchase.requested":
            action |= {"item": payload.item, "quantity": payload.quantity}
        elif env.event_type == "parts.repaired":
            # The request's repair fills in its repair record form (printable from parts).
            _add_repair_record(case, f"parts:{request_id}", request_id, payload.repaired_on)
            action |= {"repaired_on": payload.repaired_on.isoformat(), "path": payload.path}
        if env.event_type in _PARTS_STATE:
            action["state"] = _PARTS_STATE[env.event_type]
        action["updated_at"] = env.occurred_at
        case.parts_actions[request_id] = action
        return []

    await d.cases.change(env.correlation_id, apply, cause=env.event_id)
    await _record(d, env, "parts.requests.v1")


async def on_remedy_event(env: Envelope, payload: Any, *, d: Dispatch) -> None:
    """A remedy chosen, carried out or cancelled (warranty.remedies.v1): closure waits for it to end."""
    await _require_case(d, env)

    def apply(case: Case) -> list[Event]:
        remedy = dict(case.remedies.get(payload.remedy_id, {"remedy_id": payload.remedy_id}))
        ended = remedy.get("state") in ENDED_REMEDY_STATES
        if env.event_type == "remedy.chosen":
            # A late chosen never reopens a remedy that ended already (events of one case come in order,
            # but a replayed one may not).
            remedy |= {
                "remedy": payload.remedy,
                "chosen_by": payload.chosen_by,
                "chosen_at": payload.chosen_at,
            }
            remedy.setdefault("state", "chosen")
        elif env.event_type == "remedy.progressed":
            # A step done (goods received, new unit issued, quote agreed...): still open until it completes.
            steps = remedy.setdefault("steps", [])
            if payload.step not in steps:
                steps.append(payload.step)
            remedy |= {"remedy": payload.remedy, "last_step": payload.step, "last_step_on": payload.done_on}
            if not ended:
                remedy["state"] = "in_progress"
        elif env.event_type == "remedy.completed":
            remedy |= {"remedy": payload.remedy, "state": "completed", "completed_at": payload.completed_at}
        else:
            remedy |= {
                "remedy": payload.remedy,
                "state": "cancelled",
                "reason": payload.reason,
                "cancelled_at": payload.cancelled_at,
            }
        case.remedies[payload.remedy_id] = remedy
        return []

    await d.cases.change(env.correlation_id, apply, cause=env.event_id)
    await _record(d, env, "warranty.remedies.v1")


async def on_notification(env: Envelope, payload: Any, *, d: Dispatch) -> None:
    """A message reached the customer, or failed: the case shows it (a reply only once it was sent)."""
    await _require_case(d, env)
    sent = env.event_type == "notification.sent"
    await d.cases.change(
        env.correlation_id,
        lambda c: c.message_delivered(
            kind=payload.kind,
            reference=payload.reference,
            state="sent" if sent else "failed",
            channel=payload.channel,
            at=payload.sent_at if sent else payload.failed_at,
            message_id=payload.message_id,
            reason=None if sent else payload.reason,
        ),
        cause=env.event_id,
    )
    await _record(d, env, "notifications.messages.v1")


def _add_repair_record(case: Case, record_id: str, request_id: str | None, repaired_on: date) -> None:
    """A repair's record on the case, once. A key-part repair is known by its parts.repaired (the
    request's placeholder, `parts:<request>`) and by the repair.recorded of the record parts writes with
    it: the real record replaces the placeholder, and a placeholder after it adds nothing."""
    records = case.repair_records
    if any(r["record_id"] == record_id for r in records):
        return
    if request_id is not None:
        if record_id.startswith("parts:") and any(r.get("request_id") == request_id for r in records):
            return
        records[:] = [
            r
            for r in records
            if not (r.get("request_id") == request_id and str(r["record_id"]).startswith("parts:"))
        ]
    records.append({"record_id": record_id, "request_id": request_id, "repaired_on": repaired_on.isoformat()})


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


async def _record_many(d: Dispatch, batch: list[tuple[Envelope, Any]], topic: str) -> None:
    await d.timeline.add_many(
        [(env, topic, summary_of(env.event_type, payload)) for env, payload in batch], recorded_at=d.clock()
    )


async def _record(d: Dispatch, env: Envelope, topic: str) -> None:
    """Add the event to the case's timeline once (its id is the key)."""
    spec = load_registry().event_spec(env.event_type, env.schema_version)
    payload = spec.payload_model.model_validate(env.payload)
    await d.timeline.add(env, topic=topic, summary=summary_of(env.event_type, payload), recorded_at=d.clock())


# ------------------------------------------------------------------------------------------- commands


async def readable_case(d: Dispatch, case_id: str, by: Principal) -> Case:
    case = await d.cases.get(case_id)
    if case is None or not can_read(by, case):
        raise CaseNotFound(case_id)
    return case


async def _act(
    d: Dispatch, case_id: str, by: Principal, operation: Callable[[Case], list[Event]], key: ChangeKey | None
) -> Case:
    """A command on a case by someone who may act on it (checked again on the fresh case each attempt)."""
    await readable_case(d, case_id, by)

    def guarded(case: Case) -> list[Event]:
        if not can_act(by, case):
            raise NotYourCase(case)
        return operation(case)

    return await d.cases.change(case_id, guarded, key=key)


async def _answer(
    d: Dispatch, case_id: str, by: Principal, operation: Callable[[Case], list[Event]], key: ChangeKey | None
) -> Case:
    """A command that tells the customer something or ends the case: the one outward window (§一.2)."""
    await readable_case(d, case_id, by)

    def guarded(case: Case) -> list[Event]:
        if not can_answer(by, case):
            raise NotTheWindow(case, by)
        return operation(case)

    return await d.cases.change(case_id, guarded, key=key)


async def assign_case(
    d: Dispatch, case_id: str, *, specialist_id: str, reason: str, by: Principal, key: ChangeKey | None = None
) -> Case:
    """Manager: assign or reassign to an active specialist of the case's department, reason kept."""
    specialist = {s.specialist_id: s for s in await d.roster.all()}.get(specialist_id)
    now = d.clock()
    if specialist is None or not specialist.available(china_date(now)):
        raise NotAssignable(f"specialist_id: {specialist_id} is not an active specialist at work today")

    def op(case: Case) -> list[Event]:
        if specialist.department != case.department:
            raise NotAssignable(
                f"specialist_id: {specialist_id} works in {specialist.department}, the case is "
                f"for {case.department}; triage the case first"
            )
        if case.assignee == specialist_id:
            return []
        return case.assign(specialist_id, by=by.id, reason=reason, now=now)

    return await _act(d, case_id, by, op, key)


class NothingProposed(Exception):
    """A confirmation for a case that has no proposal waiting (assigned already, or never proposed)."""

    def __init__(self, case: Case) -> None:
        super().__init__(
            f"case {case.case_id} has no proposal waiting for confirmation "
            f"(it is {case.status}, assigned to {case.assignee or 'nobody'})"
        )
        self.current = case.status


async def confirm_proposal(
    d: Dispatch,
    case_id: str,
    *,
    specialist_id: str | None,
    reason: str | None,
    by: Principal,
    key: ChangeKey | None = None,
) -> Case:
    """Manager: forward the case to the proposed specialist, or to another one with a reason (§一.1)."""
    roster = {s.specialist_id: s for s in await d.roster.all()}
    now = d.clock()
    if specialist_id is not None:
        chosen = roster.get(specialist_id)
        if chosen is None or not chosen.available(china_date(now)):
            raise NotAssignable(f"specialist_id: {specialist_id} is not an active specialist at work today")

    def op(case: Case) -> list[Event]:
        if case.proposal is None or case.assignee is not None:
            raise NothingProposed(case)
        proposed = case.proposal
        target = specialist_id or proposed.specialist_id
        if target == proposed.specialist_id:
            why = f"confirmed the proposal ({proposed.reason})" + (f"; {reason}" if reason else "")
        else:
            if roster[target].department != case.department:
                raise NotAssignable(
                    f"specialist_id: {target} works in {roster[target].department}, the case is "
                    f"for {case.department}; triage the case first"
                )
            if not reason:
                raise InvalidRequest("reason: choosing another specialist than the proposal needs a reason")
            why = f"{reason} (instead of the proposed {proposed.specialist_id})"
        return case.assign(target, by=by.id, reason=why, now=now)

    return await _act(d, case_id, by, op, key)


async def name_liaison(
    d: Dispatch, case_id: str, *, specialist_id: str, reason: str, by: Principal, key: ChangeKey | None = None
) -> Case:
    """Manager: the quality specialist who answers the customer on another department's case."""
    specialist = {s.specialist_id: s for s in await d.roster.all()}.get(specialist_id)
    if specialist is None or not specialist.active or specialist.department != "quality":
        raise NotAssignable(f"specialist_id: {specialist_id} is not an active quality after-sales specialist")

    def op(case: Case) -> list[Event]:
        if case.department == "quality":
            raise NotAssignable(
                "specialist_id: the quality department's own cases are answered by their assignee; "
                "reassign the case instead"
            )
        return case.assign_liaison(specialist_id, by=by.id, reason=reason)

    return await _act(d, case_id, by, op, key)


async def triage_case(
    d: Dispatch,
    case_id: str,
    *,
    category: Category | None,
    priority: Priority | None,
    reason: str,
    by: Principal,
    key: ChangeKey | None = None,
) -> Case:
    """Manager: correct category or priority; a new department routes the case again there."""
    current = await readable_case(d, case_id, by)
    new_category = category or current.category
    department: Department = department_for(new_category)
    choice = None
    roster: list[Specialist] = []
    workloads: dict[str, int] = {}
    now = d.clock()
    today = china_date(now)
    policy = (await d.workload.current())[2]
    if department != current.department:
        # case.assigned then tells that department everything about it (engineering learns the unit).
        roster = await d.roster.all()
        workloads = await d.queries.open_workloads([s.specialist_id for s in roster])
        choice = choose_specialist(
            roster,
            department=department,
            category=new_category,
            region=current.region,
            workloads=workloads,
            ceiling=policy.ceiling,
            today=today,
        )

    def op(case: Case) -> list[Event]:
        moved = department != case.department
        events = case.triage(
            category=new_category,
            priority=priority or case.priority,
            department=department,
            by=by.id,
            reason=reason,
            policy=d.policy,
        )
        if moved:
            case.assignee = None  # the old department's specialist no longer owns it
            if department == "quality":
                case.liaison = None  # the quality specialist assigned answers the customer himself
            else:
                events += _name_window(
                    d, case, roster, workloads, by=by.id, reason=reason, policy=policy, today=today
                )
            if choice is not None:
                events += case.assign(
                    choice.specialist.specialist_id, by=by.id, reason=f"{reason}; {choice.reason}", now=now
                )
        return events

    return await _act(d, case_id, by, op, key)


async def reply_to_customer(
    d: Dispatch, case_id: str, *, message: str, via: ReplyVia, by: Principal, key: ChangeKey | None = None
) -> tuple[Case, str]:
    """The one outward window: what the customer is told. A retried request adds no second reply."""
    reply_id = key.derived_id("R-", 12) if key else f"R-{uuid.uuid4().hex[:12].upper()}"
    now = d.clock()
    case = await _answer(
        d, case_id, by, lambda c: c.reply(reply_id=reply_id, message=message, via=via, by=by.id, now=now), key
    )
    return case, reply_id


async def resolve_case(
    d: Dispatch,
    case_id: str,
    *,
    resolution: str,
    outcome: Outcome,
    by: Principal,
    key: ChangeKey | None = None,
) -> Case:
    now = d.clock()
    return await _act(
        d, case_id, by, lambda c: c.resolve(resolution=resolution, outcome=outcome, by=by.id, now=now), key
    )


class OverrideRefused(Exception):
    """Only the manager closes a case although items are open (R-DS-5)."""


async def close_case(
    d: Dispatch,
    case_id: str,
    *,
    resolution: str | None,
    outcome: Outcome | None,
    by: Principal,
    override_reason: str | None = None,
    key: ChangeKey | None = None,
) -> Case:
    """结案: when nothing is open on the case (closure.open_items), or by the manager with a reason."""
    if override_reason and by.role != "manager":
        raise OverrideRefused(
            "override_reason: only the quality after-sales manager closes a case with items open"
        )
    now = d.clock()
    return await _answer(
        d,
        case_id,
        by,
        lambda c: c.close(
            resolution=resolution,
            outcome=outcome,
            by=by.id,
            now=now,
            follow_up_after_days=d.policy.follow_up_after_days,
            follow_up_overdue_after_days=d.closure.follow_up_overdue_after_days,
            override_reason=override_reason,
        ),
        key,
    )


async def record_follow_up(
    d: Dispatch,
    case_id: str,
    *,
    visited_on: date,
    satisfaction: int,
    notes: str,
    by: Principal,
    key: ChangeKey | None = None,
) -> Case:
    """回访 after closure; a satisfaction of `reopen_at_satisfaction` or less reopens the case."""
    now = d.clock()
    if visited_on > china_date(now):  # the visit's day in China, where it was made
        raise InvalidRequest("visited_on: a visit cannot be recorded before it happens")
    return await _answer(
        d,
        case_id,
        by,
        lambda c: c.record_follow_up(
            visited_on=visited_on,
            satisfaction=satisfaction,
            notes=notes,
            by=by.id,
            now=now,
            reopen_at_satisfaction=d.closure.reopen_at_satisfaction,
            policy=d.policy,
        ),
        key,
    )


# Who passes on a customer's request to reopen: the channels the customer reaches us through.
CUSTOMER_CHANNELS = ("hotline", "front_desk", "dealer", "regional_manager")


async def reopen_case(
    d: Dispatch, case_id: str, *, reason: str, by: Principal, key: ChangeKey | None = None
) -> Case:
    """Reopen a closed case at the customer's request (through a channel, or the specialist who answers
    the case), or by the manager. A dealer or regional manager only for a case they raised."""
    await readable_case(d, case_id, by)  # a channel reads only its own cases
    now = d.clock()

    def op(case: Case) -> list[Event]:
        if by.role not in CUSTOMER_CHANNELS and not can_answer(by, case):
            raise NotTheWindow(case, by)
        trigger = "manager" if by.role == "manager" else "customer_request"
        return case.reopen(trigger=trigger, reason=reason, by=by.id, now=now, policy=d.policy)

    return await d.cases.change(case_id, op, key=key)


async def reopen_by_customer(
    d: Dispatch, case_id: str, *, phone_last4: str, reason: str, key: ChangeKey | None = None
) -> Case | None:
    """The customer's own request on the status page (the online channel): the case number and the
    phone's last four digits, as for reading it. None when they do not match. A retried request under
    the same Idempotency-Key reopens nothing twice."""
    case = await d.cases.get(case_id)
    if case is None or not case.customer.phone.endswith(phone_last4):
        return None
    now = d.clock()
    return await d.cases.change(
        case_id,
        lambda c: c.reopen(
            trigger="customer_request", reason=reason, by="customer", now=now, policy=d.policy
        ),
        key=key,
    )


async def scan_deadlines(d: Dispatch) -> int:
    """Escalate missed time targets and announce due follow-ups; returns the events raised."""
    raised = 0
    now = d.clock()
    for case_id in await d.queries.due(now):
        found: list[Event] = []

        def check(case: Case, found: list[Event] = found) -> list[Event]:
            found[:] = case.check_deadlines(now)
            return found

        try:
            # Two scanners (replicas) may race: the version check lets one win, the other then finds
            # nothing due on the fresh case.
            await d.cases.change(case_id, check)
        except (TransientError, NotFound):
            continue  # the next scan sees it again
        raised += len(found)
    return raised


# ------------------------------------------------------------------------------------------- quality figures


async def quality_rows(d: Dispatch, start: date, end: date) -> list[FaultRow]:
    """The fault cases received from `start` to `end`, China dates, both included (an indexed range)."""
    span = {
        "$gte": datetime.combine(start, datetime.min.time(), tzinfo=CHINA),
        "$lt": datetime.combine(end + timedelta(days=1), datetime.min.time(), tzinfo=CHINA),
    }
    return fault_rows(await d.queries.all_in({"received_at": span}), start=start, end=end)


class InvalidMonth(InvalidRequest):
    pass


def month_span(month: str, today: date) -> tuple[date, date]:
    """The first and last day of a month given as YYYY-MM; refused when it has not begun."""
    try:
        start = date.fromisoformat(f"{month}-01")
    except ValueError as exc:
        raise InvalidMonth(f"month: {month!r} is not a month (YYYY-MM)") from exc
    if start > today:
        raise InvalidMonth(f"month: {month} has not begun")
    return start, add_months(start, 1) - timedelta(days=1)


async def monthly_report(d: Dispatch, month: str, *, by: str, refresh: bool = False) -> bytes:
    """The month's report: as kept for an ended month (unless `refresh`), else generated now. An ended
    month's report is kept; the running month's is generated on each request and not kept."""
    today = china_date(d.clock())
    start, end = month_span(month, today)
    ended = end < today
    if ended and not refresh and (stored := await d.reports.stored(month)) is not None:
        return bytes(stored["pdf"])
    rows = await quality_rows(d, start, min(end, today))
    now = d.clock()
    pdf = monthly_pdf(
        rows, month=month, start=start, end=end, font=d.quality_pdf_font, generated_at=now, by=by
    )
    if ended:
        await d.reports.store(month, pdf, generated_at=now, by=by, faults=len(rows), replace=True)
    return pdf


async def scheduled_report(d: Dispatch) -> str | None:
    """From the first day of a month (China), the month just ended gets its report, once."""
    today = china_date(d.clock())
    month = add_months(today.replace(day=1), -1).strftime("%Y-%m")
    if await d.reports.stored(month) is not None:
        return None
    start, end = month_span(month, today)
    rows = await quality_rows(d, start, end)
    now = d.clock()
    pdf = monthly_pdf(
        rows, month=month, start=start, end=end, font=d.quality_pdf_font, generated_at=now, by="scheduled"
    )
    if await d.reports.store(month, pdf, generated_at=now, by="scheduled", faults=len(rows), replace=False):
        log.info("monthly quality report generated", month=month, faults=len(rows))
        return month
    return None
