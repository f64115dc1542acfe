"""warranty.decided: an explained 三包 decision on a case (R-WA-1..6)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal
from uuid import UUID

from pydantic import Field

from shared.contracts.base import Contract
from shared.contracts.ids import CaseId

Decision = Literal["covered", "chargeable", "needs_evidence"]
Remedy = Literal[
    "free_repair",
    "paid_repair",
    "ota_update",
    "replacement_with_depreciation",
    "exchange",
    "return",
    "consumable_quote",
    "installation_maintenance",
    "paid_installation_maintenance",
    "none",
]


class Reason(Contract):
    code: str = Field(description="Rule code: out_of_warranty, human_damage, missing_documents, ...")
    message_zh: str
    message_en: str


class WarrantyClock(Contract):
    basis: Literal["purchase", "acceptance", "exchange"]
    kind: Literal["product", "installed_equipment", "installation_workmanship"]
    start: date
    end: date


class WarrantyDecided(Contract):
    """The decision on a case, each rule that applied named with its reason."""

    case_id: CaseId
    serial_no: str | None = None
    decision: Decision
    remedy: Remedy
    reasons: list[Reason] = Field(min_length=1)
    warranty: list[WarrantyClock] = Field(default_factory=list)
    options: list[Remedy] = Field(
        default_factory=list,
        description="Remedies the customer may choose between (三包 7/15-day and repaired-twice).",
    )
    key_part: str | None = Field(
        default=None, description="motor or control_board when the remedy needs one."
    )
    charge_hint: str | None = Field(default=None, description="What the customer pays for, without prices.")
    depreciation_rate: float | None = Field(
        default=None, ge=0, le=1, description="Share of a replacement's cost charged for the unit's age."
    )
    freight_both_ways: bool = Field(
        default=False,
        description="The customer pays freight both ways (权益 2.7: only past the warranty period).",
    )
    earlier_repairs: int = Field(
        default=0, ge=0, description="Repairs of the unit within its period before this case."
    )
    rule_set: str = Field(description="Version of the rule set that decided.")
    supersedes: UUID | None = Field(default=None, description="The earlier decision this one replaces.")
    decided_at: datetime


# ------------------------------------------------------------------ warranty.remedies.v1 (R-WA-8)
# What is still open on a case: dispatch closes a case only when its remedy is settled. No amount is in
# any of these events (the refund stays in warranty, quotes are parts' quote.issued).

RemedyKind = Literal[
    "return",
    "exchange",
    "replacement",
    "paid_repair",
    "paid_installation_maintenance",
    "free_repair",
    "installation_maintenance",
    "ota_update",
]


class RemedyChosen(Contract):
    """The customer's choice among what the decision offered (三包 7/15 days, repaired twice), or the one
    remedy a decision names, recorded by the specialist: the work starts."""

    case_id: CaseId
    remedy_id: str
    remedy: RemedyKind
    serial_no: str | None = None
    options: list[str] = Field(default_factory=list, description="What the decision offered.")
    chosen_by: str
    chosen_at: datetime
    via: str | None = Field(default=None, description="How the customer told us: phone, wechat, on_site.")


class RemedyProgressed(Contract):
    """One step of a remedy: goods received, refunded, new unit issued, quote agreed, shipped, repaired…"""

    case_id: CaseId
    remedy_id: str
    remedy: RemedyKind
    step: str
    done_on: date
    by: str
    detail: dict[str, str] = Field(
        default_factory=dict, description="Serials, quote id, carrier; never an amount."
    )


class RemedyCompleted(Contract):
    case_id: CaseId
    remedy_id: str
    remedy: RemedyKind
    completed_at: datetime
    serial_no: str | None = None
    new_serial: str | None = Field(default=None, description="An exchange's new unit, with its own clock.")
    quote_id: str | None = None
    steps: list[str] = Field(default_factory=list)


class RemedyCancelled(Contract):
    case_id: CaseId
    remedy_id: str
    remedy: RemedyKind
    reason: str
    by: str
    cancelled_at: datetime
