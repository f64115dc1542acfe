"""What warranty knows about a case: the unit, the fault, the evidence added; and how a case becomes engine input."""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, Field

from warranty.domain.engine import Fault, FaultKind, History, Installation, Product, Repair

KIND_OF_CATEGORY: dict[str, FaultKind] = {
    "product_fault": "hardware",
    "software": "software",
    "consumable": "consumable",
    "installation": "installation",
}
_PARTS = (
    ("motor", re.compile(r"电机|马达|风机不转|motor", re.IGNORECASE)),
    ("control_board", re.compile(r"主板|控制板|电路板|control board|mainboard|pcb", re.IGNORECASE)),
    ("filter", re.compile(r"滤网|滤芯|过滤|filter", re.IGNORECASE)),
)


def part_named_in(text: str) -> str | None:
    """The part a complaint's words name first (a hint; a specialist's evidence overrides it)."""
    for part, pattern in _PARTS:
        if pattern.search(text):
            return part
    return None


class RepairIn(BaseModel):
    on: date
    part: str | None = None
    days: int = Field(default=0, ge=0, le=3650, description="Days in repair or waiting for parts.")


class CaseFacts(BaseModel):
    """The warranty side of a case; evidence updates it and every update re-decides."""

    case_id: str
    specialist_id: str | None = None
    department: str | None = None
    serial_no: str | None = None
    model: str | None = None
    project_ref: str | None = None
    purchase_date: date | None = None
    invoice_date: date | None = None
    invoice_no: str | None = None
    service_card_stamped: bool | None = None
    sale_recorded: bool = False
    fault_kind: FaultKind
    part: str | None = None
    cause: str | None = None
    remote_update_possible: bool | None = None
    confirmed: bool = False
    confirmation: dict[str, Any] | None = None
    reported_on: date
    repairs: list[RepairIn] = Field(default_factory=list)
    exchange_date: date | None = None
    evidence: list[dict[str, Any]] = Field(default_factory=list)
    decisions: list[dict[str, Any]] = Field(default_factory=list)

    def engine_input(self, installation: Installation | None) -> tuple[Product, Fault, History, Installation | None]:
        product = Product(
            serial_no=self.serial_no,
            model=self.model,
            purchase_date=self.purchase_date,
            invoice_date=self.invoice_date,
            invoice_no=self.invoice_no,
            service_card_stamped=self.service_card_stamped,
            sale_recorded=self.sale_recorded,
        )
        fault = Fault(
            kind=self.fault_kind,
            reported_on=self.reported_on,
            part=self.part,
            cause=self.cause,
            remote_update_possible=self.remote_update_possible,
            confirmed=self.confirmed,
        )
        history = History(
            repairs=tuple(Repair(r.on, r.part, r.days) for r in self.repairs), exchange_date=self.exchange_date
        )
        return product, fault, history, installation

    @property
    def latest_decision_id(self) -> str | None:
        return self.decisions[-1]["event_id"] if self.decisions else None


ConfirmVia = Literal["phone", "wechat", "on_site"]
