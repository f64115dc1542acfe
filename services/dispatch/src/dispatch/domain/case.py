"""The case: one record that tells anyone where a complaint stands, and the moves it may make.

Status moves only along received → assigned → in progress → resolved → closed → followed up; a
closed (or followed-up) case may be reopened (low satisfaction at the follow-up visit, or the
customer's request), and a reopened case works like one in progress until it closes again. A case
closes only when nothing is open on it (dispatch.domain.closure), or by the manager with a reason.
Each operation changes the case and returns the events it causes (type, payload); it never does I/O.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from dispatch.domain.closure import ClosureRefused, OpenItem, open_items
from dispatch.domain.targets import TargetPolicy
from shared.contracts.base import Contract
from shared.contracts.cases import (
    CaseAssigned,
    CaseAssignmentProposed,
    CaseClosed,
    CaseEscalated,
    CaseFollowedUp,
    CaseLiaisonAssigned,
    CaseReassigned,
    CaseReopened,
    CaseReplied,
    CaseResolved,
    CaseTriaged,
    Department,
    FollowUpDue,
    FollowUpOverdue,
    Outcome,
    Priority,
    ReopenTrigger,
    TargetName,
)
from shared.contracts.complaints import Category, Channel, ComplaintReceived, Customer, ProductInfo
from shared.periods import CHINA, china_date

Status = Literal["received", "assigned", "in_progress", "resolved", "closed", "followed_up", "reopened"]
STATUSES: tuple[Status, ...] = (
    "received",
    "assigned",
    "in_progress",
    "resolved",
    "closed",
    "followed_up",
    "reopened",
)
OPEN_STATUSES: tuple[Status, ...] = ("received", "assigned", "in_progress", "resolved", "reopened")
WORKING: tuple[Status, ...] = ("in_progress", "reopened")  # being worked: replies, resolution, closure
ReplyVia = Literal["phone", "sms", "wechat", "email", "on_site", "channel"]

Event = tuple[str, Contract]


class IllegalTransition(Exception):
    """The case is not in a state that allows this; the message names the current state."""

    def __init__(self, case_id: str, current: str, action: str, allowed: tuple[str, ...]) -> None:
        super().__init__(f"case {case_id} is {current}: cannot {action} (only from {', '.join(allowed)})")
        self.current = current


class Assignment(BaseModel):
    specialist_id: str
    by: str
    reason: str
    at: datetime


class Proposal(BaseModel):
    """The specialist the rules chose, waiting for the manager's confirmation."""

    specialist_id: str
    reason: str
    at: datetime


MESSAGE_VIAS = ("sms", "wechat")  # sent by notifications; the other ways were told by the specialist


class Reply(BaseModel):
    reply_id: str
    message: str
    via: ReplyVia
    by: str
    at: datetime
    delivery: dict[str, Any] | None = Field(
        default=None,
        description="pending / sent / failed for a message notifications sends (SMS, WeChat); told "
        "when the specialist told it by phone, on site or through the channel.",
    )

    @property
    def reached_the_customer(self) -> bool:
        return self.delivery is None or self.delivery.get("state") in ("sent", "told")


class Reopening(BaseModel):
    """One reopening, with what the case had been closed with (the history is kept)."""

    at: datetime
    by: str
    trigger: ReopenTrigger
    reason: str
    satisfaction: int | None = None
    previous_closed_at: datetime | None = None
    previous_resolution: str | None = None
    previous_outcome: Outcome | None = None


class ClosureOverride(BaseModel):
    by: str
    reason: str
    open_items: list[dict[str, str]]
    at: datetime


class Visit(BaseModel):
    visited_on: date
    satisfaction: int = Field(ge=1, le=5)
    notes: str
    by: str
    recorded_at: datetime


class Case(BaseModel):
    model_config = ConfigDict(validate_assignment=False)

    case_id: str
    status: Status = "received"
    channel: Channel
    submitted_by: str
    category: Category
    category_evidence: list[str] = Field(default_factory=list)
    department: Department
    priority: Priority
    customer: Customer
    region: str | None = None
    dealer_code: str | None = None
    project_ref: str | None = None
    product: ProductInfo
    description: str
    received_at: datetime
    reported_at: datetime | None = None
    assigned_at: datetime | None = None
    first_reply_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    followed_up_at: datetime | None = None
    assignee: str | None = None
    liaison: str | None = Field(
        default=None,
        description="On a case another department works (installation): the quality after-sales specialist who "
        "answers the customer and closes it. The quality department's own cases are answered by their assignee.",
    )
    assignments: list[Assignment] = Field(default_factory=list)
    proposal: Proposal | None = None
    watched: bool = Field(default=False, description="On the manager's watch list until closure (§一.1.4).")
    targets: dict[str, datetime] = Field(default_factory=dict)
    breaches: dict[str, datetime] = Field(default_factory=dict)
    replies: list[Reply] = Field(default_factory=list)
    resolution: str | None = None
    outcome: Outcome | None = None
    follow_up_due_on: date | None = None
    follow_up_notified: bool = False
    follow_up_escalate_on: date | None = Field(
        default=None, description="Escalated to the manager from this day (China) when no visit was made."
    )
    follow_up_escalated: bool = False
    follow_ups: list[Visit] = Field(default_factory=list)
    warranty: dict[str, Any] | None = Field(default=None, description="The latest warranty decision.")
    parts_actions: dict[str, dict[str, Any]] = Field(default_factory=dict)
    remedies: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Remedies by id (warranty)."
    )
    repair_records: list[dict[str, Any]] = Field(
        default_factory=list, description="Repair record forms filled in."
    )
    closure_override: ClosureOverride | None = None
    reopenings: list[Reopening] = Field(default_factory=list)
    source_event_id: str

    # ------------------------------------------------------------------ derived views

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def window(self) -> str | None:
        """Who answers the customer (§一.2: the quality after-sales department is the one outward window)."""
        return self.assignee if self.department == "quality" else self.liaison

    def milestone(self, target: str) -> datetime | None:
        return {"assign": self.assigned_at, "first_reply": self.first_reply_at, "close": self.closed_at}[
            target
        ]

    def target_state(self, now: datetime) -> dict[str, dict[str, Any]]:
        """Per target: due, met at, and state (met, met_late, pending, breached)."""
        out: dict[str, dict[str, Any]] = {}
        for name, due in self.targets.items():
            met = self.milestone(name)
            if met is not None:
                state = "met" if met <= due else "met_late"
            else:
                state = "breached" if now > due else "pending"
            out[name] = {
                "due_at": due,
                "met_at": met,
                "state": state,
                "escalated_at": self.breaches.get(name),
            }
        return out

    def next_deadline(self) -> datetime | None:
        """The earliest moment the scanner has something to do for this case."""
        if self.is_open:
            moments = [
                d for n, d in self.targets.items() if self.milestone(n) is None and n not in self.breaches
            ]
            return min(moments) if moments else None
        if self.status == "closed" and self.follow_up_due_on and not self.follow_up_notified:
            # Due from the start of that day in China, where the visit is made.
            return datetime.combine(self.follow_up_due_on, datetime.min.time(), tzinfo=CHINA)
        if self.status == "closed" and self.follow_up_escalate_on and not self.follow_up_escalated:
            return datetime.combine(self.follow_up_escalate_on, datetime.min.time(), tzinfo=CHINA)
        return None

    # ------------------------------------------------------------------ transitions

    def _require(self, action: str, *allowed: Status) -> None:
        if self.status not in allowed:
            raise IllegalTransition(self.case_id, self.status, action, allowed)

    def propose(self, specialist_id: str, *, reason: str, now: datetime) -> list[Event]:
        """The rules' choice, left for the manager to confirm; the case stays received meanwhile."""
        self._require("propose a specialist", "received")
        self.proposal = Proposal(specialist_id=specialist_id, reason=reason, at=now)
        return [
            (
                "case.assignment_proposed",
                CaseAssignmentProposed(
                    case_id=self.case_id,
                    specialist_id=specialist_id,
                    department=self.department,
                    category=self.category,
                    channel=self.channel,
                    reason=reason,
                    proposed_at=now,
                ),
            )
        ]

    def assign(self, specialist_id: str, *, by: str, reason: str, now: datetime) -> list[Event]:
        """First assignment (received → assigned) or a reassignment while the case is open."""
        self._require("assign", *OPEN_STATUSES)
        self.proposal = None
        previous = self.assignee
        self.assignments.append(Assignment(specialist_id=specialist_id, by=by, reason=reason, at=now))
        self.assignee = specialist_id
        if previous is None:
            if self.status == "received":
                self.status = "assigned"
            self.assigned_at = self.assigned_at or now
            return [("case.assigned", self._assigned_payload(by, reason))]
        return [
            (
                "case.reassigned",
                CaseReassigned(
                    case_id=self.case_id,
                    from_specialist_id=previous,
                    to_specialist_id=specialist_id,
                    department=self.department,
                    by=by,
                    reason=reason,
                ),
            )
        ]

    def _assigned_payload(self, by: str, reason: str) -> CaseAssigned:
        assert self.assignee is not None
        return CaseAssigned(
            case_id=self.case_id,
            specialist_id=self.assignee,
            department=self.department,
            category=self.category,
            priority=self.priority,
            channel=self.channel,
            region=self.region,
            dealer_code=self.dealer_code,
            project_ref=self.project_ref,
            product=self.product,
            description=self.description,
            customer_name=self.customer.name,
            customer_address=self.customer.address,
            customer_phone=self.customer.phone,
            submitted_by=self.submitted_by,
            received_at=self.received_at,
            reported_at=self.reported_at,
            assigned_by=by,
            reason=reason,
            liaison_id=self.liaison,
        )

    def assign_liaison(self, specialist_id: str, *, by: str, reason: str) -> list[Event]:
        """The quality specialist who answers the customer on a case another department works."""
        self._require("name who answers the customer", *OPEN_STATUSES)
        if self.liaison == specialist_id:
            return []
        self.liaison = specialist_id
        return [
            (
                "case.liaison_assigned",
                CaseLiaisonAssigned(case_id=self.case_id, specialist_id=specialist_id, by=by, reason=reason),
            )
        ]

    def triage(
        self,
        *,
        category: Category,
        priority: Priority,
        department: Department,
        by: str,
        reason: str,
        policy: TargetPolicy,
    ) -> list[Event]:
        self._require("triage", *OPEN_STATUSES)
        self.category, self.priority, self.department = category, priority, department
        self.targets = policy.due_dates(category, priority, self.received_at)
        # Targets already met or escalated stay as they were; the new ones apply from now on.
        self.breaches = {k: v for k, v in self.breaches.items() if k in self.targets}
        return [
            (
                "case.triaged",
                CaseTriaged(
                    case_id=self.case_id,
                    category=category,
                    priority=priority,
                    department=department,
                    by=by,
                    reason=reason,
                ),
            )
        ]

    def reply(self, *, reply_id: str, message: str, via: ReplyVia, by: str, now: datetime) -> list[Event]:
        """A result told to the customer; the first one starts the work (assigned → in progress)."""
        self._require("reply to the customer", "assigned", "in_progress", "resolved", "reopened")
        delivery = (
            {"state": "pending", "channel": via} if via in MESSAGE_VIAS else {"state": "told", "channel": via}
        )
        self.replies.append(
            Reply(reply_id=reply_id, message=message, via=via, by=by, at=now, delivery=delivery)
        )
        self.first_reply_at = self.first_reply_at or now
        if self.status == "assigned":
            self.status = "in_progress"
        return [
            (
                "case.replied",
                CaseReplied(
                    case_id=self.case_id,
                    reply_id=reply_id,
                    message=message,
                    via=via,
                    by=by,
                    channel=self.channel,
                    submitted_by=self.submitted_by,
                    replied_at=now,
                ),
            )
        ]

    def resolve(self, *, resolution: str, outcome: Outcome, by: str, now: datetime) -> list[Event]:
        self._require("record a resolution", *WORKING)
        self.status = "resolved"
        self.resolution, self.outcome, self.resolved_at = resolution, outcome, now
        return [
            (
                "case.resolved",
                CaseResolved(
                    case_id=self.case_id, resolution=resolution, outcome=outcome, by=by, resolved_at=now
                ),
            )
        ]

    def close(
        self,
        *,
        resolution: str | None,
        outcome: Outcome | None,
        by: str,
        now: datetime,
        follow_up_after_days: int,
        follow_up_overdue_after_days: int = 3,
        override_reason: str | None = None,
    ) -> list[Event]:
        """结案. Being worked (in progress, reopened) it needs the resolution and outcome and passes through
        resolved. Anything still open on the case (closure.open_items) refuses it, unless the manager
        closes with `override_reason` (the handler lets only the manager give one)."""
        self._require("close", "in_progress", "resolved", "reopened")
        if self.status in WORKING and (not resolution or not outcome):
            raise MissingResolution(self.case_id)
        still_open: list[OpenItem] = open_items(self, outcome or self.outcome)
        if still_open and not override_reason:
            raise ClosureRefused(self.case_id, still_open)
        events: list[Event] = []
        if self.status in WORKING:
            assert resolution is not None and outcome is not None
            events += self.resolve(resolution=resolution, outcome=outcome, by=by, now=now)
        elif resolution or outcome:
            self.resolution = resolution or self.resolution
            self.outcome = outcome or self.outcome
        assert self.resolution is not None and self.outcome is not None
        self.status = "closed"
        self.closed_at = now
        self.closure_override = (
            ClosureOverride(
                by=by, reason=override_reason, open_items=[i.as_dict() for i in still_open], at=now
            )
            if still_open and override_reason
            else None
        )
        self.follow_up_due_on = china_date(now) + timedelta(days=follow_up_after_days)
        self.follow_up_notified = False
        self.follow_up_escalate_on = self.follow_up_due_on + timedelta(days=follow_up_overdue_after_days)
        self.follow_up_escalated = False
        events.append(
            (
                "case.closed",
                CaseClosed(
                    case_id=self.case_id,
                    resolution=self.resolution,
                    outcome=self.outcome,
                    closed_by=by,
                    closed_at=now,
                    follow_up_due_on=self.follow_up_due_on,
                    override_reason=override_reason if still_open else None,
                    open_items=[i.item for i in still_open] if override_reason else [],
                ),
            )
        )
        return events

    def reopen(
        self,
        *,
        trigger: ReopenTrigger,
        reason: str,
        by: str,
        now: datetime,
        policy: TargetPolicy,
        satisfaction: int | None = None,
    ) -> list[Event]:
        """Open a closed case again; what it was closed with stays in its history. A fresh close target
        runs from now."""
        self._require("reopen", "closed", "followed_up")
        self.reopenings.append(
            Reopening(
                at=now,
                by=by,
                trigger=trigger,
                reason=reason,
                satisfaction=satisfaction,
                previous_closed_at=self.closed_at,
                previous_resolution=self.resolution,
                previous_outcome=self.outcome,
            )
        )
        self.status = "reopened"
        self.closed_at = self.resolved_at = None
        self.resolution = self.outcome = None
        self.follow_up_due_on = self.follow_up_escalate_on = None
        self.follow_up_notified = self.follow_up_escalated = False
        self.closure_override = None
        close_hours = policy.hours(self.category, self.priority).get("close")
        if close_hours:
            self.targets["close"] = now + timedelta(hours=close_hours)
            self.breaches.pop("close", None)
        return [
            (
                "case.reopened",
                CaseReopened(
                    case_id=self.case_id,
                    trigger=trigger,
                    reason=reason,
                    by=by,
                    reopened_at=now,
                    satisfaction=satisfaction,
                    times=len(self.reopenings),
                ),
            )
        ]

    def message_delivered(
        self,
        *,
        kind: str,
        reference: str,
        state: str,
        channel: str,
        at: datetime,
        message_id: str,
        reason: str | None = None,
    ) -> list[Event]:
        """What notifications reports about a message: a reply shows whether it reached the customer."""
        if kind != "reply":
            return []
        for reply in self.replies:
            if reply.reply_id == reference and (reply.delivery or {}).get("state") != "sent":
                reply.delivery = {
                    "state": state,
                    "channel": channel,
                    "at": at,
                    "message_id": message_id,
                    **({"reason": reason} if reason else {}),
                }
        return []

    def record_follow_up(
        self,
        *,
        visited_on: date,
        satisfaction: int,
        notes: str,
        by: str,
        now: datetime,
        reopen_at_satisfaction: int = 0,
        policy: TargetPolicy | None = None,
    ) -> list[Event]:
        """回访 after closure: closed → followed up (further visits are kept too). A satisfaction at or
        below `reopen_at_satisfaction` reopens the case at once."""
        self._require("record a follow-up visit", "closed", "followed_up")
        self.follow_ups.append(
            Visit(visited_on=visited_on, satisfaction=satisfaction, notes=notes, by=by, recorded_at=now)
        )
        self.status = "followed_up"
        self.followed_up_at = self.followed_up_at or now
        events: list[Event] = [
            (
                "case.followed_up",
                CaseFollowedUp(
                    case_id=self.case_id, visited_on=visited_on, satisfaction=satisfaction, notes=notes, by=by
                ),
            )
        ]
        if satisfaction <= reopen_at_satisfaction and policy is not None:
            reason = f"回访满意度 {satisfaction} 分 / satisfaction {satisfaction} at the follow-up visit" + (
                f"：{notes}" if notes else ""
            )
            events += self.reopen(
                trigger="low_satisfaction",
                reason=reason,
                by=by,
                now=now,
                policy=policy,
                satisfaction=satisfaction,
            )
        return events

    def check_deadlines(self, now: datetime) -> list[Event]:
        """Escalate each missed target once; announce a follow-up visit once it is due."""
        events: list[Event] = []
        if self.is_open:
            for name, due in sorted(self.targets.items(), key=lambda kv: kv[1]):
                if self.milestone(name) is None and name not in self.breaches and now > due:
                    self.breaches[name] = now
                    events.append(
                        (
                            "case.escalated",
                            CaseEscalated(
                                case_id=self.case_id,
                                target=_target(name),
                                due_at=due,
                                detected_at=now,
                                assignee=self.assignee,
                                priority=self.priority,
                                category=self.category,
                            ),
                        )
                    )
        if (
            self.status == "closed"
            and self.follow_up_due_on is not None
            and not self.follow_up_notified
            and china_date(now) >= self.follow_up_due_on
        ):
            self.follow_up_notified = True
            events.append(
                (
                    "case.follow_up_due",
                    FollowUpDue(case_id=self.case_id, due_on=self.follow_up_due_on, assignee=self.assignee),
                )
            )
        if (
            self.status == "closed"
            and self.follow_up_due_on is not None
            and self.follow_up_escalate_on is not None
            and not self.follow_up_escalated
            and china_date(now) >= self.follow_up_escalate_on
        ):
            self.follow_up_escalated = True
            events.append(
                (
                    "case.follow_up_overdue",
                    FollowUpOverdue(
                        case_id=self.case_id,
                        due_on=self.follow_up_due_on,
                        overdue_days=(china_date(now) - self.follow_up_due_on).days,
                        assignee=self.window,
                    ),
                )
            )
        return events


class MissingResolution(Exception):
    def __init__(self, case_id: str) -> None:
        super().__init__(f"case {case_id} is being worked: closing it needs a resolution and an outcome")


def _target(name: str) -> TargetName:
    assert name in ("assign", "first_reply", "close")
    return name  # type: ignore[return-value]


def open_case(
    complaint: ComplaintReceived,
    *,
    event_id: str,
    department: Department,
    priority: Priority,
    policy: TargetPolicy,
) -> Case:
    return Case(
        case_id=complaint.case_id,
        channel=complaint.channel,
        submitted_by=complaint.submitted_by.principal_id,
        category=complaint.category_guess.category,
        category_evidence=complaint.category_guess.evidence,
        department=department,
        priority=priority,
        customer=complaint.customer,
        region=complaint.region,
        dealer_code=complaint.dealer_code,
        project_ref=complaint.project_ref,
        product=complaint.product,
        description=complaint.description,
        received_at=complaint.received_at,
        reported_at=complaint.reported_at,
        targets=policy.due_dates(complaint.category_guess.category, priority, complaint.received_at),
        source_event_id=event_id,
    )
