"""Remedies as work that gets done (R-WA-8): the customer's choice among what the decision offers, then
each remedy's steps to its end, each with who and when.

    return       goods_received, refunded (at the invoice price)         → the unit is closed (returned)
    exchange     new_unit_issued (same model, new serial), old_unit_received → the old unit is closed, the
                 new one starts its own clock
    replacement  quote_issued, customer_agreed, shipped, delivered        (nothing ships before the agreement)
    paid_repair  quote_issued, customer_agreed, repaired
    paid_installation_maintenance  quote_issued, customer_agreed, done
    free_repair, installation_maintenance  repaired / done;  ota_update  updated

The refund is the only amount kept here; it never leaves in an event (R-PA-4).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field

from shared.contracts.base import Contract
from shared.contracts.warranty import RemedyCancelled, RemedyChosen, RemedyCompleted, RemedyProgressed

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
StepName = Literal[
    "goods_received",
    "refunded",
    "new_unit_issued",
    "old_unit_received",
    "quote_issued",
    "customer_agreed",
    "shipped",
    "delivered",
    "repaired",
    "done",
    "updated",
]
# The decision's remedy as the remedy carried out (a software replacement is a replacement).
OF_DECISION: dict[str, RemedyKind] = {"replacement_with_depreciation": "replacement"}
STEPS: dict[str, tuple[StepName, ...]] = {
    "return": ("goods_received", "refunded"),
    "exchange": ("new_unit_issued", "old_unit_received"),
    "replacement": ("quote_issued", "customer_agreed", "shipped", "delivered"),
    "paid_repair": ("quote_issued", "customer_agreed", "repaired"),
    "paid_installation_maintenance": ("quote_issued", "customer_agreed", "done"),
    "free_repair": ("repaired",),
    "installation_maintenance": ("done",),
    "ota_update": ("updated",),
}
# A step that must wait for another: the customer agrees to a quote, and nothing is done or shipped before.
AFTER: dict[str, StepName] = {
    "customer_agreed": "quote_issued",
    "shipped": "customer_agreed",
    "delivered": "shipped",
}
QUOTED = ("replacement", "paid_repair", "paid_installation_maintenance")
Event = tuple[str, Contract]


class RemedyRefused(Exception):
    """The step cannot happen now; the message says why (409)."""


class RemedyStep(BaseModel):
    step: StepName
    by: str
    at: datetime
    on: date
    detail: dict[str, Any] = Field(default_factory=dict)


class Remedy(BaseModel):
    remedy_id: str
    case_id: str
    serial_no: str | None = None
    remedy: RemedyKind
    status: Literal["open", "completed", "cancelled"] = "open"
    options: list[str] = Field(default_factory=list)
    decision_event_id: str | None = None
    chosen_by: str
    chosen_at: datetime
    via: str | None = None
    note: str = ""
    steps: list[RemedyStep] = Field(default_factory=list)
    quote_id: str | None = None
    refund_amount: Decimal | None = Field(
        default=None, description="Confidential: finance and the case's own specialist only."
    )
    new_serial: str | None = None
    completed_at: datetime | None = None
    cancelled_reason: str | None = None

    # ------------------------------------------------------------------ views

    @property
    def done(self) -> set[str]:
        return {s.step for s in self.steps}

    @property
    def pending(self) -> list[str]:
        return [s for s in STEPS[self.remedy] if s not in self.done]

    def allows(self, step: str) -> bool:
        return (
            self.status == "open" and step in self.pending and (step not in AFTER or AFTER[step] in self.done)
        )

    # ------------------------------------------------------------------ changes

    def chosen_event(self) -> Event:
        return (
            "remedy.chosen",
            RemedyChosen(
                case_id=self.case_id,
                remedy_id=self.remedy_id,
                remedy=self.remedy,
                serial_no=self.serial_no,
                options=self.options,
                chosen_by=self.chosen_by,
                chosen_at=self.chosen_at,
                via=self.via,
            ),
        )

    def progress(
        self,
        step: StepName,
        *,
        by: str,
        at: datetime,
        on: date,
        detail: dict[str, Any] | None = None,
        public: dict[str, Any] | None = None,
    ) -> list[Event]:
        """Record one step; the last pending one completes the remedy. `public` is what the event may say
        about it (never an amount)."""
        if self.status != "open":
            raise RemedyRefused(f"remedy {self.remedy_id} is {self.status}")
        if step not in STEPS[self.remedy]:
            raise RemedyRefused(
                f"a {self.remedy} has no step {step} (its steps: {', '.join(STEPS[self.remedy])})"
            )
        if step in self.done:
            raise RemedyRefused(f"{step} is recorded already on remedy {self.remedy_id}")
        if step in AFTER and AFTER[step] not in self.done:
            raise RemedyRefused(f"{step} needs {AFTER[step]} first")
        self.steps.append(RemedyStep(step=step, by=by, at=at, on=on, detail=detail or {}))
        events: list[Event] = [
            (
                "remedy.progressed",
                RemedyProgressed(
                    case_id=self.case_id,
                    remedy_id=self.remedy_id,
                    remedy=self.remedy,
                    step=step,
                    done_on=on,
                    by=by,
                    detail={k: str(v) for k, v in (public or {}).items()},
                ),
            )
        ]
        if not self.pending:
            self.status, self.completed_at = "completed", at
            events.append(
                (
                    "remedy.completed",
                    RemedyCompleted(
                        case_id=self.case_id,
                        remedy_id=self.remedy_id,
                        remedy=self.remedy,
                        completed_at=at,
                        serial_no=self.serial_no,
                        new_serial=self.new_serial,
                        quote_id=self.quote_id,
                        steps=[s.step for s in self.steps],
                    ),
                )
            )
        return events

    def cancel(self, *, reason: str, by: str, at: datetime) -> list[Event]:
        if self.status != "open":
            raise RemedyRefused(f"remedy {self.remedy_id} is {self.status}")
        if (
            self.remedy == "exchange"
            and "new_unit_issued" in self.done
            or self.remedy == "return"
            and self.done
        ):
            raise RemedyRefused(
                f"the {self.remedy} has begun ({', '.join(sorted(self.done))}); it cannot be cancelled"
            )
        self.status, self.cancelled_reason = "cancelled", reason
        return [
            (
                "remedy.cancelled",
                RemedyCancelled(
                    case_id=self.case_id,
                    remedy_id=self.remedy_id,
                    remedy=self.remedy,
                    reason=reason,
                    by=by,
                    cancelled_at=at,
                ),
            )
        ]


def remedy_choices(decision: dict[str, Any]) -> list[RemedyKind]:
    """What the customer may choose: the decision's options, else its one remedy."""
    offered = decision.get("options") or [decision.get("remedy")]
    return [OF_DECISION.get(r, r) for r in offered if r and r not in ("none", "consumable_quote")]
