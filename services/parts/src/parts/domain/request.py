"""A key-part request (R-PA-1): local sourcing first (path A), the supplier second (path B).

    sourcing_locally (A) ──found──────────────► sourced_locally ──repair──► repaired
          │ not found / deadline passed
          ▼
    supplier_rma (B) ──RMA number──► rma_confirmed ──good part shipped──► good_part_shipped ──repair──► repaired
                                      (the defective part's return shipment may come before or after)

Path B has legs, each with a deadline (§三.2.3B 及时/第一时间) and each confirmed by whoever received:
the supplier's RMA number; the defective part at the company, then at the supplier; the good part in
the field, with the dealer or regional manager who repairs on site (the request's field recipient).
A leg past its deadline is escalated once (parts.leg_overdue).

Every step records who and when, and returns the event it causes. No prices leave this module in
events: what was paid locally stays on the request, readable by finance and the specialist only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field

from shared.contracts.base import Contract
from shared.contracts.parts import (
    Direction,
    KeyPart,
    Leg,
    LocalSourcingReported,
    PartArrived,
    PartRepaired,
    PartShippedV2,
    PartsLegOverdue,
    PartsRequestOpened,
    SupplierRmaOpened,
)

State = Literal[
    "sourcing_locally", "sourced_locally", "supplier_rma", "rma_confirmed", "good_part_shipped", "repaired"
]
Event = tuple[str, Contract]


class StepRefused(Exception):
    """The request is not at a point where this step can happen; the message says what is missing."""

    def __init__(self, request_id: str, state: str, message: str) -> None:
        super().__init__(f"parts request {request_id} is {state}: {message}")
        self.state = state


class Step(BaseModel):
    step: str
    by: str
    at: datetime
    detail: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True)
class LegHours:
    """How long each leg of path B may take (configurable, like path A's local sourcing hours)."""

    rma: float = 24  # the supplier gives the RMA number, from the moment path B opens
    defective_at_company: float = 96  # the defective part reaches the company, from the RMA number
    defective_at_supplier: float = 96  # ... and the supplier, from its arrival at the company
    good_part_in_field: float = (
        120  # the good part reaches the dealer or regional manager, from the RMA number
    )


# Who each leg waits for, in the words of the escalation.
_WAITING_ON = {
    "defective_at_company": "the field (dealer or regional manager) returning the defective part",
    "defective_at_supplier": "the company sending the defective part to the supplier",
    "good_part_in_field": "the good part reaching the field",
}
# The shipment a leg's arrival follows.
_SHIPMENT_OF: dict[str, Direction] = {
    "defective_at_company": "defective_to_company",
    "defective_at_supplier": "defective_to_supplier",
    "good_part_in_field": "good_part_to_field",
}


class LegDeadline(BaseModel):
    leg: Leg
    due_at: datetime
    done_at: datetime | None = None
    done_by: str | None = None
    escalated_at: datetime | None = None

    @property
    def waiting(self) -> bool:
        return self.done_at is None


class Shipment(BaseModel):
    direction: Direction
    carrier: str
    tracking_no: str
    to: str
    by: str
    at: datetime


class RepairDone(BaseModel):
    technician: str
    repaired_on: date
    old_serial: str | None = None
    new_serial: str | None = None
    fault_found: str
    cause: str
    by: str


class PartsRequest(BaseModel):
    request_id: str
    case_id: str
    part: KeyPart
    model: str | None = None
    state: State = "sourcing_locally"
    path: Literal["A", "B"] = "A"
    chargeable: bool
    sourcing_by: str
    deadline: datetime
    local_source: str | None = None
    local_price_paid: Decimal | None = Field(
        default=None, description="Confidential: finance and specialist only."
    )
    local_receipt_no: str | None = None
    supplier: str | None = None
    rma_no: str | None = None
    rma_reason: str | None = None
    shipments: list[Shipment] = Field(default_factory=list)
    legs: dict[str, LegDeadline] = Field(
        default_factory=dict, description="Path B's legs and their deadlines."
    )
    field_recipient: str | None = Field(
        default=None,
        description="The dealer code or regional manager id the good part goes to (they repair on site).",
    )
    repair: RepairDone | None = None
    steps: list[Step] = Field(default_factory=list)
    opened_at: datetime
    decision_event_id: str
    hours: LegHours = Field(
        default_factory=LegHours,
        exclude=True,
        description="The leg deadlines in force (set by the handler from the settings).",
    )

    def opened_event(self) -> Event:
        return (
            "parts.request_opened",
            PartsRequestOpened(
                case_id=self.case_id,
                request_id=self.request_id,
                part=self.part,
                model=self.model,
                path="A",
                sourcing_by=self.sourcing_by,
                deadline=self.deadline,
                chargeable=self.chargeable,
            ),
        )

    def _refuse(self, message: str) -> StepRefused:
        return StepRefused(self.request_id, self.state, message)

    def report_local(
        self,
        *,
        found: bool,
        by: str,
        now: datetime,
        supplier: str,
        source: str | None = None,
        price_paid: Decimal | None = None,
        receipt_no: str | None = None,
    ) -> list[Event]:
        """Path A's answer. Not found moves the request to the supplier at once (path B)."""
        if self.state != "sourcing_locally":
            raise self._refuse("local sourcing was already answered")
        self.steps.append(
            Step(step="local_sourcing_reported", by=by, at=now, detail={"found": found, "source": source})
        )
        events: list[Event] = [
            (
                "parts.local_sourcing_reported",
                LocalSourcingReported(
                    case_id=self.case_id,
                    request_id=self.request_id,
                    found=found,
                    source=source,
                    reported_by=by,
                ),
            )
        ]
        if found:
            if not source:
                raise self._refuse("a part found locally needs its source (repairer or shop)")
            self.state = "sourced_locally"
            self.local_source, self.local_price_paid, self.local_receipt_no = source, price_paid, receipt_no
            return events
        return events + self._to_supplier("not_found_locally", by=by, now=now, supplier=supplier)

    def deadline_passed(self, *, now: datetime, supplier: str) -> list[Event]:
        if self.state != "sourcing_locally" or now <= self.deadline:
            return []
        return self._to_supplier("local_deadline_passed", by="system", now=now, supplier=supplier)

    def _to_supplier(self, reason: str, *, by: str, now: datetime, supplier: str) -> list[Event]:
        self.state, self.path, self.rma_reason, self.supplier = "supplier_rma", "B", reason, supplier
        self.legs["rma"] = LegDeadline(leg="rma", due_at=now + timedelta(hours=self.hours.rma))
        self.steps.append(
            Step(step="supplier_rma_opened", by=by, at=now, detail={"reason": reason, "supplier": supplier})
        )
        return [
            (
                "parts.rma_opened",
                SupplierRmaOpened(
                    case_id=self.case_id, request_id=self.request_id, reason=reason, supplier=supplier, by=by
                ),
            )
        ]

    def confirm_rma(self, *, rma_no: str, supplier: str | None, by: str, now: datetime) -> list[Event]:
        """The supplier was notified and gave an RMA number."""
        if self.state != "supplier_rma":
            raise self._refuse("an RMA number is recorded once, after local sourcing failed")
        self.state, self.rma_no = "rma_confirmed", rma_no
        self.supplier = supplier or self.supplier
        self._done("rma", by=by, at=now)
        for leg in ("defective_at_company", "good_part_in_field"):
            self.legs[leg] = LegDeadline(leg=leg, due_at=now + timedelta(hours=getattr(self.hours, leg)))
        self.steps.append(
            Step(step="rma_confirmed", by=by, at=now, detail={"rma_no": rma_no, "supplier": self.supplier})
        )
        return [
            (
                "parts.rma_opened",
                SupplierRmaOpened(
                    case_id=self.case_id,
                    request_id=self.request_id,
                    reason=self.rma_reason,
                    supplier=self.supplier or "",
                    rma_no=rma_no,
                    by=by,
                ),
            )
        ]

    def ship(self, shipment: Shipment) -> list[Event]:
        if self.state not in ("rma_confirmed", "good_part_shipped"):
            raise self._refuse("shipments follow the supplier's RMA number (path B)")
        if any(s.direction == shipment.direction for s in self.shipments):
            raise self._refuse(f"the {shipment.direction} shipment is recorded already")
        if shipment.direction == "defective_to_supplier" and self._arrived("defective_at_company") is None:
            raise self._refuse("the defective part goes on to the supplier once it has reached the company")
        self.shipments.append(shipment)
        if shipment.direction == "good_part_to_field":
            self.field_recipient = shipment.to
        self.steps.append(
            Step(
                step=f"shipped_{shipment.direction}",
                by=shipment.by,
                at=shipment.at,
                detail={"carrier": shipment.carrier, "tracking_no": shipment.tracking_no},
            )
        )
        if shipment.direction == "good_part_to_field":
            self.state = "good_part_shipped"
        return [
            (
                "parts.shipped",
                PartShippedV2(
                    case_id=self.case_id,
                    request_id=self.request_id,
                    direction=shipment.direction,
                    carrier=shipment.carrier,
                    tracking_no=shipment.tracking_no,
                    to=shipment.to,
                    by=shipment.by,
                ),
            )
        ]

    def confirm_arrival(self, *, leg: Leg, arrived_on: date, by: str, now: datetime) -> list[Event]:
        """Whoever received the part confirms it: the company (specialist), the supplier's receipt (the
        specialist, on the supplier's word), the field (the dealer or regional manager)."""
        if leg == "rma" or leg not in _SHIPMENT_OF:
            raise self._refuse("the RMA leg is confirmed with the supplier's RMA number")
        if not any(s.direction == _SHIPMENT_OF[leg] for s in self.shipments):
            raise self._refuse(f"{leg} follows the {_SHIPMENT_OF[leg]} shipment, which is not recorded")
        if self._arrived(leg) is not None:
            raise self._refuse(f"{leg} was confirmed already")
        self._done(leg, by=by, at=now)
        if leg == "defective_at_company":
            self.legs["defective_at_supplier"] = LegDeadline(
                leg="defective_at_supplier", due_at=now + timedelta(hours=self.hours.defective_at_supplier)
            )
        self.steps.append(
            Step(step=f"arrived_{leg}", by=by, at=now, detail={"arrived_on": arrived_on.isoformat()})
        )
        return [
            (
                "parts.arrived",
                PartArrived(
                    case_id=self.case_id,
                    request_id=self.request_id,
                    leg=leg,
                    confirmed_by=by,
                    arrived_on=arrived_on,
                ),
            )
        ]

    def overdue_legs(self, now: datetime) -> list[Event]:
        """Each leg past its deadline and still waiting is escalated once."""
        events: list[Event] = []
        if self.state == "repaired":
            return events
        for leg in sorted(self.legs.values(), key=lambda x: x.due_at):
            if leg.waiting and leg.escalated_at is None and now > leg.due_at:
                leg.escalated_at = now
                waiting_on = self.supplier or "the supplier" if leg.leg == "rma" else _WAITING_ON[leg.leg]
                events.append(
                    (
                        "parts.leg_overdue",
                        PartsLegOverdue(
                            case_id=self.case_id,
                            request_id=self.request_id,
                            leg=leg.leg,
                            due_at=leg.due_at,
                            detected_at=now,
                            waiting_on=waiting_on,
                        ),
                    )
                )
        return events

    def next_leg_due(self) -> datetime | None:
        """The first moment the scan has a leg to escalate on this request."""
        if self.state == "repaired":
            return None
        due = [leg.due_at for leg in self.legs.values() if leg.waiting and leg.escalated_at is None]
        return min(due) if due else None

    def _done(self, leg: str, *, by: str, at: datetime) -> None:
        if leg in self.legs and self.legs[leg].waiting:
            self.legs[leg].done_at, self.legs[leg].done_by = at, by

    def _arrived(self, leg: str) -> datetime | None:
        return self.legs[leg].done_at if leg in self.legs else None

    def record_repair(self, repair: RepairDone, *, now: datetime) -> list[Event]:
        if self.state not in ("sourced_locally", "good_part_shipped"):
            missing = "a good part from the supplier" if self.path == "B" else "a part sourced locally"
            raise self._refuse(f"the repair needs {missing} first")
        events: list[Event] = []
        if self.path == "B" and self._arrived("good_part_in_field") is None:
            # Repairing with it confirms the good part reached the field.
            events += self.confirm_arrival(
                leg="good_part_in_field", arrived_on=repair.repaired_on, by=repair.by, now=now
            )
        self.state, self.repair = "repaired", repair
        self.steps.append(
            Step(step="repaired", by=repair.by, at=now, detail={"technician": repair.technician})
        )
        return events + [
            (
                "parts.repaired",
                PartRepaired(
                    case_id=self.case_id,
                    request_id=self.request_id,
                    part=self.part,
                    path=self.path,
                    technician=repair.technician,
                    repaired_on=repair.repaired_on,
                    old_serial=repair.old_serial,
                    new_serial=repair.new_serial,
                ),
            )
        ]

    @property
    def is_open(self) -> bool:
        return self.state != "repaired"
