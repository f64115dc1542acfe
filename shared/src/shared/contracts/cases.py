"""Events of dispatch.cases.v1: what happens to a case, from assignment to the follow-up visit."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import Field

from shared.contracts.base import Contract
from shared.contracts.complaints import Category, Channel, ProductInfo
from shared.contracts.ids import CaseId

Department = Literal["quality", "engineering_installation"]
Priority = Literal["urgent", "high", "normal", "low"]
Outcome = Literal[
    "repaired",
    "replaced",
    "returned",
    "software_updated",
    "consumable_supplied",
    "advice_given",
    "no_fault_found",
    "not_covered_declined",
    "other",
]
TargetName = Literal["assign", "first_reply", "close"]

DEPARTMENTS: tuple[Department, ...] = ("quality", "engineering_installation")
PRIORITIES: tuple[Priority, ...] = ("urgent", "high", "normal", "low")


class CaseAssigned(Contract):
    """A specialist owns the case now; carries the case facts the other departments act on."""

    case_id: CaseId
    specialist_id: str
    department: Department
    category: Category
    priority: Priority
    channel: Channel
    region: str | None = None
    dealer_code: str | None = None
    project_ref: str | None = None
    product: ProductInfo
    description: str
    customer_name: str
    customer_address: str | None = None
    customer_phone: str | None = Field(
        default=None,
        description="E.164. Personal data, never logged: for staff copies of the repair record and "
        "for the customer's own access to the case (the phone's last four digits).",
    )
    submitted_by: str | None = Field(
        default=None,
        description="Who raised it on its channel (dealer code, manager id...): who else may read it.",
    )
    received_at: datetime
    reported_at: datetime | None = Field(
        default=None,
        description="When the customer reported it (the call, the day told to the dealer); "
        "the 三包 7/15-day windows count to it.",
    )
    assigned_by: str = Field(description="'auto' for the routing rules, else the manager's staff id.")
    reason: str = Field(description="Why this specialist: the rule that chose them, or the manager's words.")
    liaison_id: str | None = Field(
        default=None,
        description="For a case worked by another department (installation): the quality after-sales specialist "
        "who answers the customer and closes it (§一.2, the one outward window).",
    )


class CaseAssignmentProposed(Contract):
    """The rules chose a specialist, and this channel and category wait for the manager's confirmation
    (§一.1: the quality after-sales manager collects, sorts and forwards each complaint)."""

    case_id: CaseId
    specialist_id: str
    department: Department
    category: Category
    channel: Channel
    reason: str
    proposed_at: datetime


class CaseReassigned(Contract):
    case_id: CaseId
    from_specialist_id: str | None
    to_specialist_id: str
    department: Department
    by: str
    reason: str


class CaseLiaisonAssigned(Contract):
    """The quality after-sales specialist who answers the customer on a case another department works (§一.2)."""

    case_id: CaseId
    specialist_id: str
    by: str
    reason: str


class CaseTriaged(Contract):
    """The manager corrected the category or priority (and with it, maybe, the department)."""

    case_id: CaseId
    category: Category
    priority: Priority
    department: Department
    by: str
    reason: str


class CaseReplied(Contract):
    """A result told to the customer, through the after-sales department only (R-DS-2)."""

    case_id: CaseId
    reply_id: str
    message: str
    via: Literal["phone", "sms", "wechat", "email", "on_site", "channel"]
    by: str
    channel: Channel = Field(description="The channel the complaint came from; it sees the reply too.")
    submitted_by: str = Field(description="Who raised it on that channel (dealer code, manager id, ...).")
    replied_at: datetime


class CaseResolved(Contract):
    case_id: CaseId
    resolution: str
    outcome: Outcome
    by: str
    resolved_at: datetime


class CaseClosed(Contract):
    """结案: the case is closed; a follow-up visit becomes due."""

    case_id: CaseId
    resolution: str
    outcome: Outcome
    closed_by: str
    closed_at: datetime
    follow_up_due_on: date
    override_reason: str | None = Field(
        default=None, description="The manager closed it although items were open (R-DS-5), and why."
    )
    open_items: list[str] = Field(
        default_factory=list, description="What was still open when the manager closed it."
    )


ReopenTrigger = Literal["low_satisfaction", "customer_request", "manager"]


class CaseReopened(Contract):
    """A closed case is open again (R-DS-5): a follow-up satisfaction of 1-2, or the customer's request."""

    case_id: CaseId
    trigger: ReopenTrigger
    reason: str
    by: str
    reopened_at: datetime
    satisfaction: int | None = Field(default=None, ge=1, le=5)
    times: int = Field(ge=1, description="How many times this case has been reopened.")


class FollowUpOverdue(Contract):
    """A follow-up visit was not made in time: the manager is told (R-DS-5)."""

    case_id: CaseId
    due_on: date
    overdue_days: int
    assignee: str | None


class CaseEscalated(Contract):
    """A time target was missed; the manager is told (R-DS-4)."""

    case_id: CaseId
    target: TargetName
    due_at: datetime
    detected_at: datetime
    assignee: str | None
    priority: Priority
    category: Category


class FollowUpDue(Contract):
    case_id: CaseId
    due_on: date
    assignee: str | None


class CaseFollowedUp(Contract):
    """回访: the specialist's follow-up visit and the customer's satisfaction."""

    case_id: CaseId
    visited_on: date
    satisfaction: int = Field(ge=1, le=5)
    notes: str
    by: str
