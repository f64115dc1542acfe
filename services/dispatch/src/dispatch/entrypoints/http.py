"""Dispatch's HTTP API: cases, the one outward reply window, closure, follow-ups, statistics, roster."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, HTTPException, Path, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from dispatch import bootstrap, handlers
from dispatch.adapters.reports import FontMissing, to_csv, to_xlsx
from dispatch.adapters.repository import OPEN
from dispatch.config import DispatchSettings
from dispatch.domain.access import channel_scope, phone_search_scope, sees_phone
from dispatch.domain.case import STATUSES, Case, IllegalTransition, MissingResolution, ReplyVia
from dispatch.domain.closure import ClosureRefused, open_items, repeat_links
from dispatch.domain.quality import Dimension, figures, repeat_units
from dispatch.domain.routing import AssignmentPolicy, Specialist, unstaffed_departments
from dispatch.domain.stats import GroupBy, Period
from dispatch.handlers import (
    Dispatch,
    InvalidRequest,
    NothingProposed,
    NotTheWindow,
    NotYourCase,
    OverrideRefused,
)
from shared.contracts.cases import DEPARTMENTS, Department, Outcome, Priority
from shared.contracts.complaints import Category, Channel
from shared.contracts.ids import CaseId
from shared.http.app import JsonRoute
from shared.http.auth import Principal, require_roles
from shared.http.commands import IdempotencyKey, change_key
from shared.http.paging import Page, PageSize
from shared.logging import mask_phone
from shared.periods import china_date
from shared.reference import normalise_phone, normalise_serial
from shared.roles import (
    CASE_ACTORS,
    CASE_READERS,
    CASE_REOPENERS,
    QUALITY_READERS,
    STAFF_ROLES,
    STATS_READERS,
)
from shared.service import service_app
from shared.unit_of_work import ChangeKey

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=500)]
CaseIdPath = Annotated[CaseId, Path(description="The case number, YD-…")]

Reader = Annotated[Principal, require_roles(*CASE_READERS)]
Actor = Annotated[Principal, require_roles(*CASE_ACTORS)]
Manager = Annotated[Principal, require_roles("manager")]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AssignmentIn(Body):
    specialist_id: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    reason: Reason


class ConfirmationIn(Body):
    specialist_id: Annotated[str | None, StringConstraints(min_length=1, max_length=40)] = Field(
        default=None, description="Another specialist than the one proposed (then a reason is needed)."
    )
    reason: Annotated[str | None, StringConstraints(strip_whitespace=True, min_length=2, max_length=500)] = (
        None
    )


class TriageIn(Body):
    category: Category | None = None
    priority: Priority | None = None
    reason: Reason


class ReplyIn(Body):
    message: Text = Field(description="What the customer is told. It goes out through after-sales only.")
    via: ReplyVia = "phone"


class ResolutionIn(Body):
    resolution: Text
    outcome: Outcome


class ClosureIn(Body):
    resolution: Text | None = Field(default=None, description="Required while the case is being worked.")
    outcome: Outcome | None = Field(default=None, description="Required while the case is being worked.")
    override_reason: Reason | None = Field(
        default=None,
        description="Manager only: close although the warranty decision, a parts request, a remedy or "
        "the repair record is still open (R-DS-5); the reason is kept on the case.",
    )


class ReopenIn(Body):
    reason: Reason = Field(description="What the customer asked, in their words.")


class PublicReopenIn(Body):
    phone_last4: Annotated[str, StringConstraints(pattern=r"^\d{4}$")]
    reason: Reason


class FollowUpIn(Body):
    visited_on: date
    satisfaction: int = Field(ge=1, le=5, description="1 (very dissatisfied) … 5 (very satisfied)")
    notes: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] = ""


class SpecialistIn(Body):
    specialist_id: Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=r"^[\w\-.]+$")]
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
    department: Department
    skills: list[Category] = Field(default_factory=list)
    regions: list[str] = Field(default_factory=list, description="Region codes; empty serves every region.")
    active: bool = True
    absent_until: date | None = Field(
        default=None, description="Away through this day (China): routing gives them nothing meanwhile."
    )

    def to_domain(self) -> Specialist:
        return Specialist(
            self.specialist_id,
            self.name,
            self.department,
            tuple(self.skills),
            tuple(self.regions),
            self.active,
            self.absent_until,
        )


def _d(request: Request) -> Dispatch:
    return request.app.state.runtime.components["dispatch"]


def _now(request: Request) -> datetime:
    return _d(request).clock()


async def _readable(request: Request, case_id: str, principal: Principal) -> Case:
    return await _refusals(handlers.readable_case(_d(request), case_id, principal))


async def _refusals(command: Any) -> Any:
    """Run a command handler; its refusals become the HTTP answers a caller can act on."""
    try:
        return await command
    except handlers.CaseNotFound as exc:
        # Not found and not yours look the same to a channel: no probing of other dealers' case numbers.
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"case {exc.item_id} not found") from exc
    except (NotYourCase, NotTheWindow, OverrideRefused) as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=str(exc)) from exc
    except ClosureRefused as exc:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail={
                "message": str(exc),
                "current_status": "open items",
                "missing": [i.as_dict() for i in exc.items],
            },
        ) from exc
    except (IllegalTransition, NothingProposed) as exc:
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail={"message": str(exc), "current_status": exc.current}
        ) from exc
    except (MissingResolution, InvalidRequest) as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from exc


def summary_view(case: Case, principal: Principal, now: datetime) -> dict[str, Any]:
    phone = case.customer.phone if sees_phone(principal, case) else mask_phone(case.customer.phone)
    return {
        "case_id": case.case_id,
        "status": case.status,
        "channel": case.channel,
        "category": case.category,
        "department": case.department,
        "priority": case.priority,
        "assignee": case.assignee,
        "answered_by": case.window,
        "proposal": case.proposal.model_dump() if case.proposal else None,
        "watched": case.watched,
        "region": case.region,
        "customer": {"name": case.customer.name, "phone": phone, "address": case.customer.address},
        "product": case.product.model_dump(mode="json"),
        "received_at": case.received_at,
        "breached": sorted(case.breaches),
        "targets": case.target_state(now),
    }


def case_view(
    case: Case, timeline: list[dict[str, Any]], principal: Principal, now: datetime
) -> dict[str, Any]:
    channel_reader = principal.role in ("dealer", "regional_manager")
    view = summary_view(case, principal, now) | {
        "submitted_by": case.submitted_by,
        "dealer_code": case.dealer_code,
        "project_ref": case.project_ref,
        "description": case.description,
        "category_evidence": case.category_evidence,
        "liaison": case.liaison,
        "assignments": [a.model_dump() for a in case.assignments],
        "replies": [r.model_dump() for r in case.replies],
        "resolution": case.resolution,
        "outcome": case.outcome,
        "milestones": {
            "assigned_at": case.assigned_at,
            "first_reply_at": case.first_reply_at,
            "resolved_at": case.resolved_at,
            "closed_at": case.closed_at,
            "followed_up_at": case.followed_up_at,
        },
        "follow_up": {"due_on": case.follow_up_due_on, "visits": [v.model_dump() for v in case.follow_ups]},
        "warranty": case.warranty,
        "parts_actions": [
            a for a in case.parts_actions.values() if a.get("state") not in ("repaired", "closed")
        ],
        "remedies": list(case.remedies.values()),
        "repair_records": case.repair_records,
        "open_items": [i.as_dict() for i in open_items(case, case.outcome)] if case.is_open else [],
        "closure_override": case.closure_override.model_dump() if case.closure_override else None,
        "reopenings": [r.model_dump() for r in case.reopenings],
        "timeline": timeline,
    }
    if channel_reader:
        # A channel sees the replies the after-sales department sent, not the internal workings.
        for internal in (
            "assignments",
            "category_evidence",
            "timeline",
            "parts_actions",
            "warranty",
            "liaison",
            "remedies",
            "repair_records",
            "open_items",
            "closure_override",
            "reopenings",
            "proposal",
        ):
            view.pop(internal)
    return view


cases = APIRouter(prefix="/v1/cases", tags=["cases"], route_class=JsonRoute)


@cases.get("/{case_id}", summary="One case: status, assignee, targets, warranty, parts and the timeline")
async def get_case(request: Request, case_id: CaseIdPath, principal: Reader) -> dict[str, Any]:
    case = await _readable(request, case_id, principal)
    timeline = await _d(request).timeline.for_case(case_id)
    view = case_view(case, timeline, principal, _now(request))
    if "timeline" in view and case.product.serial_no:
        d = _d(request)
        same_unit = (await d.queries.with_serials([case.product.serial_no])).get(case.product.serial_no, [])
        view |= repeat_links(case, same_unit, within_days=d.closure.repeat_within_days)
    elif "timeline" in view:
        view |= {"linked_to": None, "linked_days_since": None, "repeats": []}
    return view


@cases.get("", summary="Cases, filtered and paged (newest first)")
async def list_cases(
    request: Request,
    principal: Reader,
    status_: Annotated[Literal[STATUSES] | None, Query(alias="status")] = None,  # type: ignore[valid-type]
    open_only: Annotated[bool, Query(alias="open")] = False,
    assignee: str | None = None,
    unassigned: bool = False,
    channel: Channel | None = None,
    category: Category | None = None,
    department: Department | None = None,
    region: str | None = None,
    breached: bool | None = None,
    watched: Annotated[
        bool | None, Query(description="On the manager's watch list (open online complaints).")
    ] = None,
    proposed: Annotated[
        bool, Query(description="Waiting for the manager to confirm the proposed specialist.")
    ] = False,
    phone: Annotated[str | None, Query(max_length=30)] = None,
    serial_no: Annotated[str | None, Query(max_length=40)] = None,
    page: Page = 1,
    page_size: PageSize = 20,
) -> dict[str, Any]:
    query: dict[str, Any] = {}
    if status_:
        query["status"] = status_
    elif open_only:
        query.update(OPEN)
    if unassigned:
        query["assignee"] = None
    elif assignee:
        query["assignee"] = assignee
    for name, value in (
        ("channel", channel),
        ("category", category),
        ("department", department),
        ("region", region),
    ):
        if value:
            query[name] = value
    if breached is not None:
        query["breaches"] = {"$ne": {}} if breached else {}
    if watched is not None:
        query["watched"] = watched
    if proposed:
        query["assignee"] = None
        query["proposal"] = {"$ne": None}
    if phone:
        phone_scope = phone_search_scope(principal)
        if phone_scope is None:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"role {principal.role!r} may not search by phone: it would tell whose number it is",
            )
        query.update(phone_scope)
    try:
        if phone:
            query["customer.phone"] = normalise_phone(phone)
        if serial_no:
            query["product.serial_no"] = normalise_serial(serial_no)
    except ValueError as exc:
        raise HTTPException(
            422, detail=f"{'phone' if phone and 'phone' in str(exc) else 'serial_no'}: {exc}"
        ) from exc
    scope = channel_scope(principal)
    if scope:
        query.update(scope)
    found, total = await _d(request).queries.find(query, skip=(page - 1) * page_size, limit=page_size)
    now = _now(request)
    return {
        "items": [summary_view(c, principal, now) for c in found],
        "page": page,
        "page_size": page_size,
        "total": total,
    }


@cases.post("/{case_id}/assignment", summary="Manager: assign or reassign, with the reason kept")
async def assign(
    request: Request,
    case_id: CaseIdPath,
    body: AssignmentIn,
    principal: Manager,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    d = _d(request)
    case = await _refusals(
        handlers.assign_case(
            d,
            case_id,
            specialist_id=body.specialist_id,
            reason=body.reason,
            by=principal,
            key=change_key(principal, idempotency_key, action=f"assign {case_id}", body=body),
        )
    )
    return case_view(case, await d.timeline.for_case(case_id), principal, _now(request))


@cases.post(
    "/{case_id}/proposal/confirmation",
    summary="Manager: forward the case to the proposed specialist (or another, with a reason)",
)
async def confirm(
    request: Request,
    case_id: CaseIdPath,
    body: ConfirmationIn,
    principal: Manager,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    d = _d(request)
    case = await _refusals(
        handlers.confirm_proposal(
            d,
            case_id,
            specialist_id=body.specialist_id,
            reason=body.reason,
            by=principal,
            key=change_key(principal, idempotency_key, action=f"confirm {case_id}", body=body),
        )
    )
    return case_view(case, await d.timeline.for_case(case_id), principal, _now(request))


@cases.post(
    "/{case_id}/liaison",
    summary="Manager: the quality specialist who answers the customer on an installation case",
)
async def liaison(
    request: Request,
    case_id: CaseIdPath,
    body: AssignmentIn,
    principal: Manager,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    d = _d(request)
    case = await _refusals(
        handlers.name_liaison(
            d,
            case_id,
            specialist_id=body.specialist_id,
            reason=body.reason,
            by=principal,
            key=change_key(principal, idempotency_key, action=f"liaison {case_id}", body=body),
        )
    )
    return case_view(case, await d.timeline.for_case(case_id), principal, _now(request))


@cases.post("/{case_id}/triage", summary="Manager: correct category or priority (department follows)")
async def triage(
    request: Request,
    case_id: CaseIdPath,
    body: TriageIn,
    principal: Manager,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    d = _d(request)
    case = await _refusals(
        handlers.triage_case(
            d,
            case_id,
            category=body.category,
            priority=body.priority,
            reason=body.reason,
            by=principal,
            key=change_key(principal, idempotency_key, action=f"triage {case_id}", body=body),
        )
    )
    return case_view(case, await d.timeline.for_case(case_id), principal, _now(request))


@cases.post(
    "/{case_id}/replies",
    status_code=201,
    summary="Reply to the customer: the quality after-sales department only (the one outward window, §一.2)",
)
async def reply(
    request: Request,
    case_id: CaseIdPath,
    body: ReplyIn,
    principal: Actor,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    case, reply_id = await _refusals(
        handlers.reply_to_customer(
            _d(request),
            case_id,
            message=body.message,
            via=body.via,
            by=principal,
            key=change_key(principal, idempotency_key, action=f"reply {case_id}", body=body),
        )
    )
    return {"reply_id": reply_id, "case": case_view(case, [], principal, _now(request))}


@cases.post("/{case_id}/resolution", summary="Record how the case was resolved")
async def resolve(
    request: Request,
    case_id: CaseIdPath,
    body: ResolutionIn,
    principal: Actor,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    case = await _refusals(
        handlers.resolve_case(
            _d(request),
            case_id,
            resolution=body.resolution,
            outcome=body.outcome,
            by=principal,
            key=change_key(principal, idempotency_key, action=f"resolve {case_id}", body=body),
        )
    )
    return case_view(case, [], principal, _now(request))


@cases.post(
    "/{case_id}/closure",
    summary="结案: close the case (the quality after-sales department only; needs a resolution and outcome)",
)
async def close(
    request: Request,
    case_id: CaseIdPath,
    body: ClosureIn,
    principal: Actor,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    case = await _refusals(
        handlers.close_case(
            _d(request),
            case_id,
            resolution=body.resolution,
            outcome=body.outcome,
            by=principal,
            override_reason=body.override_reason,
            key=change_key(principal, idempotency_key, action=f"close {case_id}", body=body),
        )
    )
    return case_view(case, [], principal, _now(request))


@cases.post(
    "/{case_id}/reopening",
    responses={409: {"description": "The case is not closed."}},
    summary="Reopen a closed case at the customer's request (channels, the specialist) or by the manager",
)
async def reopen(
    request: Request,
    case_id: CaseIdPath,
    body: ReopenIn,
    principal: Annotated[Principal, require_roles(*CASE_REOPENERS)],
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    d = _d(request)
    case = await _refusals(
        handlers.reopen_case(
            d,
            case_id,
            reason=body.reason,
            by=principal,
            key=change_key(principal, idempotency_key, action=f"reopen {case_id}", body=body),
        )
    )
    return case_view(case, [], principal, _now(request))


@cases.post("/{case_id}/follow-ups", status_code=201, summary="回访: record a follow-up visit")
async def follow_up(
    request: Request,
    case_id: CaseIdPath,
    body: FollowUpIn,
    principal: Actor,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    case = await _refusals(
        handlers.record_follow_up(
            _d(request),
            case_id,
            visited_on=body.visited_on,
            satisfaction=body.satisfaction,
            notes=body.notes,
            by=principal,
            key=change_key(principal, idempotency_key, action=f"follow-up {case_id}", body=body),
        )
    )
    return case_view(case, [], principal, _now(request))


public = APIRouter(prefix="/v1/public", tags=["the customer"], route_class=JsonRoute)

_STATUS_ZH = {
    "received": "已受理",
    "assigned": "已分派专员",
    "in_progress": "处理中",
    "resolved": "已解决",
    "closed": "已结案",
    "followed_up": "已回访",
    "reopened": "已重新打开",
}


@public.get(
    "/cases/{case_id}", summary="The customer's status page: case number plus the phone's last four digits"
)
async def public_case(
    request: Request,
    case_id: CaseIdPath,
    phone_last4: Annotated[
        str, Query(pattern=r"^\d{4}$", description="The last four digits of the phone given.")
    ],
) -> dict[str, Any]:
    """Only what the after-sales department told the customer: status and replies, nothing internal."""
    d = _d(request)
    await d.limiter.hit(d.public_rate_limit, "public-case", request.client.host if request.client else "?")
    case = await d.cases.get(case_id)
    if case is None or not case.customer.phone.endswith(phone_last4):
        # The same answer for a wrong number and a wrong phone: case numbers cannot be probed.
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no case with this number and phone")
    return {
        "case_id": case.case_id,
        "status": case.status,
        "status_zh": _STATUS_ZH[case.status],
        "received_at": case.received_at,
        # Only what reached the customer: a message is shown once it was sent (R-DS-6).
        "replies": [{"message": r.message, "at": r.at} for r in case.replies if r.reached_the_customer],
        "closed_at": case.closed_at,
    }


@public.post(
    "/cases/{case_id}/reopening",
    summary="The customer asks to reopen a closed case (case number and the phone's last four digits)",
)
async def public_reopen(
    request: Request, case_id: CaseIdPath, body: PublicReopenIn, idempotency_key: IdempotencyKey = None
) -> dict[str, Any]:
    d = _d(request)
    await d.limiter.hit(d.public_rate_limit, "public-case", request.client.host if request.client else "?")
    # The customer has no key of their own: the request is theirs by the case number it names.
    key = (
        None
        if idempotency_key is None
        else ChangeKey.of_request(
            caller=f"customer:{case_id}",
            key=idempotency_key,
            request={"action": f"reopen {case_id}", "body": body.model_dump(mode="json")},
        )
    )
    try:
        case = await handlers.reopen_by_customer(
            d, case_id, phone_last4=body.phone_last4, reason=body.reason, key=key
        )
    except IllegalTransition as exc:
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail={"message": str(exc), "current_status": exc.current}
        ) from exc
    if case is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no case with this number and phone")
    return {"case_id": case.case_id, "status": case.status, "status_zh": _STATUS_ZH[case.status]}


other = APIRouter(tags=["follow-ups, statistics, roster"], route_class=JsonRoute)


@other.get("/v1/follow-ups/due", summary="Follow-up visits due (and overdue) for closed cases")
async def follow_ups_due(
    request: Request,
    principal: Actor,
    within_days: Annotated[int, Query(ge=0, le=60)] = 0,
    assignee: str | None = None,
) -> dict[str, Any]:
    today = china_date(_now(request))
    # A specialist sees their own visits to make (as assignee, or answering the customer for another department).
    own = principal.id if principal.role != "manager" else None
    due = await _d(request).queries.follow_ups_due(
        (today + timedelta(days=within_days)).isoformat(), assignee=assignee if own is None else None, own=own
    )
    due.sort(key=lambda c: c.follow_up_due_on or today)
    return {
        "items": [
            {
                "case_id": c.case_id,
                "assignee": c.assignee,
                "customer": c.customer,
                "due_on": c.follow_up_due_on,
                "overdue_days": max(0, (today - c.follow_up_due_on).days) if c.follow_up_due_on else 0,
                "escalated": c.follow_up_escalated,
                "closed_at": c.closed_at,
                "outcome": c.outcome,
            }
            for c in due
        ],
        "total": len(due),
    }


@other.get("/v1/stats", summary="Counts, median/p90 times, satisfaction and open cases by age")
async def stats(
    request: Request,
    principal: Annotated[Principal, require_roles(*STATS_READERS)],
    group_by: GroupBy = "channel",
    period: Period = "week",
    from_: Annotated[date | None, Query(alias="from")] = None,
    to: date | None = None,
) -> dict[str, Any]:
    # From and to are days in China, both included, as the department counts them.
    tallies = await _d(request).figures.tallies(from_, to, group_by=group_by, period=period)
    return tallies.result(_now(request)) | {"from": from_, "to": to}


@other.get("/v1/specialists", summary="The roster, with each specialist's open workload")
async def list_specialists(
    request: Request, principal: Annotated[Principal, require_roles(*STAFF_ROLES)]
) -> dict[str, Any]:
    d = _d(request)
    roster = await d.roster.all()
    workloads = await d.queries.open_workloads([s.specialist_id for s in roster])
    return {
        "items": [
            {
                "specialist_id": s.specialist_id,
                "name": s.name,
                "department": s.department,
                "skills": list(s.skills),
                "regions": list(s.regions),
                "active": s.active,
                "absent_until": s.absent_until,
                "open_cases": workloads.get(s.specialist_id, 0),
            }
            for s in roster
        ],
        "departments": list(DEPARTMENTS),
    }


def _refuse_unstaffed(roster: list[Specialist]) -> None:
    """409 for a roster that would leave a department with no active specialist to route to."""
    unstaffed = unstaffed_departments(roster)
    if unstaffed:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail={
                "message": f"the roster would leave {', '.join(unstaffed)} without an active specialist; "
                "keep at least one active specialist in every department",
                "departments": unstaffed,
            },
        )


ROSTER_RESPONSES: dict[int | str, dict[str, Any]] = {
    409: {"description": "The change would leave a department without an active specialist."}
}


@other.put(
    "/v1/specialists",
    responses=ROSTER_RESPONSES,
    summary="Manager: replace the roster (those left out become inactive)",
)
async def put_specialists(request: Request, body: list[SpecialistIn], principal: Manager) -> dict[str, Any]:
    ids = [s.specialist_id for s in body]
    if len(ids) != len(set(ids)):
        raise HTTPException(422, detail="specialist_id: each specialist may appear once")
    given = {s.specialist_id: s.to_domain() for s in body}

    def replaced(current: list[Specialist]) -> list[Specialist]:
        # Those left out are kept but made inactive: their cases stay theirs.
        left_out = [replace(s, active=False) for s in current if s.specialist_id not in given]
        return [*given.values(), *left_out]

    await _d(request).roster.change(replaced, _refuse_unstaffed)
    _d(request).workload.invalidate()
    return await list_specialists(request, principal)


@other.put(
    "/v1/specialists/{specialist_id}",
    responses=ROSTER_RESPONSES,
    summary="Manager: add or change one specialist",
)
async def put_specialist(
    request: Request, specialist_id: str, body: SpecialistIn, principal: Manager
) -> dict[str, Any]:
    if body.specialist_id != specialist_id:
        raise HTTPException(422, detail="specialist_id: the body names another specialist than the path")
    changed = body.to_domain()
    await _d(request).roster.change(
        lambda current: [*(s for s in current if s.specialist_id != specialist_id), changed],
        _refuse_unstaffed,
    )
    _d(request).workload.invalidate()
    return await list_specialists(request, principal)


quality = APIRouter(
    prefix="/v1/quality", tags=["the quality department's figures (R-DS-7)"], route_class=JsonRoute
)
QualityReader = Annotated[Principal, require_roles(*QUALITY_READERS)]
Month = Annotated[str, Path(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM")]


async def _span(request: Request, from_: date | None, to: date | None) -> tuple[date, date]:
    """The period asked for (China dates); by default this month so far."""
    today = china_date(_now(request))
    start, end = from_ or today.replace(day=1), to or today
    if start > end:
        raise HTTPException(422, detail="from: the period starts after it ends")
    return start, end


@quality.get(
    "/figures",
    summary="Fault counts and shares by model, part, cause, exclusion, dealer, region or "
    "production batch; units failing again, days in repair, path A vs B, satisfaction",
)
async def quality_figures(
    request: Request,
    principal: QualityReader,
    by: Dimension = "model",
    from_: Annotated[date | None, Query(alias="from")] = None,
    to: date | None = None,
) -> dict[str, Any]:
    start, end = await _span(request, from_, to)
    rows = await handlers.quality_rows(_d(request), start, end)
    return figures(rows, by=by) | {"from": start, "to": end}


@quality.get("/repeat-units", summary="Units with more than one fault in the period (failing again)")
async def quality_repeats(
    request: Request,
    principal: QualityReader,
    from_: Annotated[date | None, Query(alias="from")] = None,
    to: date | None = None,
) -> dict[str, Any]:
    start, end = await _span(request, from_, to)
    return {
        "items": repeat_units(await handlers.quality_rows(_d(request), start, end)),
        "from": start,
        "to": end,
    }


def _download(content: bytes, media_type: str, filename: str) -> Response:
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


@quality.get("/export.csv", response_class=Response, summary="Every fault of the period, one line each (CSV)")
async def quality_csv(
    request: Request,
    principal: QualityReader,
    from_: Annotated[date | None, Query(alias="from")] = None,
    to: date | None = None,
) -> Response:
    start, end = await _span(request, from_, to)
    rows = await handlers.quality_rows(_d(request), start, end)
    return _download(to_csv(rows), "text/csv; charset=utf-8", f"yingde-faults-{start}-{end}.csv")


@quality.get(
    "/export.xlsx",
    response_class=Response,
    summary="The figures by every dimension, the repeat units and every fault (XLSX)",
)
async def quality_xlsx(
    request: Request,
    principal: QualityReader,
    from_: Annotated[date | None, Query(alias="from")] = None,
    to: date | None = None,
) -> Response:
    start, end = await _span(request, from_, to)
    rows = await handlers.quality_rows(_d(request), start, end)
    return _download(
        to_xlsx(rows, start=start, end=end),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        f"yingde-quality-{start}-{end}.xlsx",
    )


@quality.get("/reports", summary="The monthly reports kept (one per ended month; generated on the 1st)")
async def quality_reports(request: Request, principal: QualityReader) -> dict[str, Any]:
    return {"items": await _d(request).reports.months()}


@quality.get(
    "/reports/{month}.pdf",
    response_class=Response,
    responses={503: {"description": "No Chinese font to render the report with."}},
    summary="The monthly report as a PDF (Chinese, charts included): kept for an ended month, generated "
    "on demand (refresh=true regenerates it)",
)
async def quality_report_pdf(
    request: Request, month: Month, principal: QualityReader, refresh: bool = False
) -> Response:
    try:
        pdf = await _refusals(handlers.monthly_report(_d(request), month, by=principal.id, refresh=refresh))
    except FontMissing as exc:
        raise HTTPException(503, detail=str(exc)) from exc
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="yingde-quality-{month}.pdf"'},
    )


@other.get(
    "/v1/settings/assignment",
    summary="The manager's assignment settings: auto or confirm per channel "
    "and category, the watch list, the ceiling of open work",
)
async def get_assignment_settings(
    request: Request, principal: Annotated[Principal, require_roles("manager", "management", "operations")]
) -> dict[str, Any]:
    return (await _d(request).workload.current())[2].model_dump()


@other.put("/v1/settings/assignment", summary="Manager: change the assignment settings (whole document)")
async def put_assignment_settings(
    request: Request, body: AssignmentPolicy, principal: Manager
) -> dict[str, Any]:
    d = _d(request)
    await d.settings.put_assignment(body, by=principal.id, at=_now(request))
    d.workload.invalidate()
    return body.model_dump()


def create_app(settings: DispatchSettings | None = None) -> FastAPI:
    settings = settings or DispatchSettings()
    return service_app(
        settings,
        title="英德售后 · Dispatch",
        description=(
            "The quality after-sales manager's desk: every complaint becomes a case, is routed to a department "
            "and a specialist, answered through one outward window, closed (结案) and followed up (回访)."
        ),
        routers=[cases, public, other, quality],
        wire=bootstrap.wire,
    )
