"""A key-part request (R-PA-1): local sourcing first (path A), the supplier second (path B).

    sourcing_locally (A) ──found──────────────► sourced_locally ──repair──► repaired
          │ not found / deadline passed
          ▼
    supplier_rma (B) ──RMA number──► rma_confirmed ──good part shipped──► good_part_shipped ──repair──► repaired
                                      (the defective part's return shipment may come before or after)

Every step records who and when, and returns the event it causes. No prices leave this module in
events: what was paid locally stays on the request, readable by finance and the specialist only.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field

from shared.contracts.base import Contract
from shared.contracts.parts import (
    KeyPart,
    LocalSourcingReported,
    PartRepaired,
    PartShipped,
    PartsRequestOpened,
    SupplierRmaOpened,
)

State = Literal["sourcing_locally", "sourced_locally", "supplier_rma", "rma_confirmed", "good_part_shipped", "repaired"]
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


class Shipment(BaseModel):
    direction: Literal["defective_to_company", "good_part_to_field"]
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
    local_price_paid: Decimal | None = Field(default=None, description="Confidential: finance and specialist only.")
    local_receipt_no: str | None = None
    supplier: str | None = None
    rma_no: str | None = None
    rma_reason: str | None = None
    shipments: list[Shipment] = Field(default_factory=list)
    repair: RepairDone | None = None
    steps: list[Step] = Field(default_factory=list)
    opened_at: datetime
    decision_event_id: str

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
        self, *, found: bool, by: str, now: datetime, supplier: str, source: str | None = None,
        price_paid: Decimal | None = None, receipt_no: str | None = None,
    ) -> list[Event]:
        """Path A's answer. Not found moves the request to the supplier at once (path B)."""
        if self.state != "sourcing_locally":
            raise self._refuse("local sourcing was already answered")
        self.steps.append(Step(step="local_sourcing_reported", by=by, at=now, detail={"found": found, "source": source}))
        events: list[Event] = [
            (
                "parts.local_sourcing_reported",
                LocalSourcingReported(case_id=self.case_id, request_id=self.request_id, found=found, source=source,
                                      reported_by=by),
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
        self.steps.append(Step(step="supplier_rma_opened", by=by, at=now, detail={"reason": reason, "supplier": supplier}))
        return [
            (
                "parts.rma_opened",
                SupplierRmaOpened(case_id=self.case_id, request_id=self.request_id, reason=reason,
                                  supplier=supplier, by=by),
            )
        ]

    def confirm_rma(self, *, rma_no: str, supplier: str | None, by: str, now: datetime) -> list[Event]:
        """The supplier was notified and gave an RMA number."""
        if self.state != "supplier_rma":
            raise self._refuse("an RMA number is recorded once, after local sourcing failed")
        self.state, self.rma_no = "rma_confirmed", rma_no
        self.supplier = supplier or self.supplier
        self.steps.append(Step(step="rma_confirmed", by=by, at=now, detail={"rma_no": rma_no, "supplier": self.supplier}))
        return [
            (
                "parts.rma_opened",
                SupplierRmaOpened(case_id=self.case_id, request_id=self.request_id, reason=self.rma_reason,
                                  supplier=self.supplier or "", rma_no=rma_no, by=by),
            )
        ]

    def ship(self, shipment: Shipment) -> list[Event]:
        if self.state not in ("rma_confirmed", "good_part_shipped"):
            raise self._refuse("shipments follow the supplier's RMA number (path B)")
        if any(s.direction == shipment.direction for s in self.shipments):
            raise self._refuse(f"the {shipment.direction} shipment is recorded already")
        self.shipments.append(shipment)
        self.steps.append(Step(step=f"shipped_{shipment.direction}", by=shipment.by, at=shipment.at,
                               detail={"carrier": shipment.carrier, "tracking_no": shipment.tracking_no}))
        if shipment.direction == "good_part_to_field":
            self.state = "good_part_shipped"
        return [
            (
                "parts.shipped",
                PartShipped(case_id=self.case_id, request_id=self.request_id, direction=shipment.direction,
                            carrier=shipment.carrier, tracking_no=shipment.tracking_no, to=shipment.to, by=shipment.by),
            )
        ]

    def record_repair(self, repair: RepairDone, *, now: datetime) -> list[Event]:
        if self.state not in ("sourced_locally", "good_part_shipped"):
            missing = "a good part from the supplier" if self.path == "B" else "a part sourced locally"
            raise self._refuse(f"the repair needs {missing} first")
        self.state, self.repair = "repaired", repair
        self.steps.append(Step(step="repaired", by=repair.by, at=now, detail={"technician": repair.technician}))
        return [
            (
                "parts.repaired",
                PartRepaired(case_id=self.case_id, request_id=self.request_id, part=self.part, path=self.path,
                             technician=repair.technician, repaired_on=repair.repaired_on,
                             old_serial=repair.old_serial, new_serial=repair.new_serial),
            )
        ]

    @property
    def is_open(self) -> bool:
        return self.state != "repaired"
