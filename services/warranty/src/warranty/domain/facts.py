"""What warranty knows about a case: the unit, the fault, the evidence added; and how a case becomes engine input."""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, Field

from warranty.domain.engine import Fault, FaultKind, History, Installation, PendingRepair, Product, Repair
from warranty.domain.unit import Unit

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


# Facts a specialist's evidence may correct; what evidence set wins over the unit's sale record.
SALE_FIELDS = ("purchase_date", "invoice_date", "invoice_no", "service_card_stamped")


class CaseFacts(BaseModel):
    """The warranty side of a case; evidence updates it and every update re-decides."""

    case_id: str
    specialist_id: str | None = None
    department: str | None = None
    channel: str | None = None
    submitted_by: str | None = None
    dealer_code: str | None = None
    phone_last4: str | None = Field(default=None, description="For the customer's own access to the case.")
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
    repairs: list[RepairIn] = Field(
        default_factory=list, description="Typed history: units sold before the suite."
    )
    exchange_date: date | None = None
    invoice_attached: bool = False
    service_card_attached: bool = False
    cause_evidenced: bool = False
    attachments: list[str] = Field(default_factory=list, description="Files cited as evidence.")
    corrected: list[str] = Field(
        default_factory=list, description="Facts set by evidence: they win over the unit's."
    )
    repair_pending_since: date | None = None
    waiting_for_parts: bool = False
    repaired_on: date | None = None
    overdue_decided: list[str] = Field(
        default_factory=list, description="Overdue-repair rules decided already."
    )
    closed_on: date | None = None
    outcome: str | None = None
    evidence: list[dict[str, Any]] = Field(default_factory=list)
    decisions: list[dict[str, Any]] = Field(default_factory=list)

    def engine_input(
        self, installation: Installation | None, unit: Unit | None = None
    ) -> tuple[Product, Fault, History, Installation | None]:
        """The engine's view: what evidence corrected, then the unit's record, then what the complaint said;
        the unit's repairs and exchange with the repairs typed on the case (units sold before the suite)."""
        sale = unit.sale if unit is not None else None
        facts: dict[str, Any] = {}
        for name in SALE_FIELDS:
            mine, theirs = getattr(self, name), getattr(sale, name) if sale else None
            facts[name] = mine if name in self.corrected or theirs is None else theirs
        product = Product(
            serial_no=self.serial_no,
            model=self.model or (unit.model if unit else None),
            sale_recorded=self.sale_recorded or bool(sale and sale.source in ("dealer", "exchange")),
            invoice_attached=self.invoice_attached or bool(sale and sale.invoice_attachment),
            **facts,
        )
        if self.service_card_attached and not product.service_card_stamped:
            product = Product(**{**product.__dict__, "service_card_stamped": True})
        fault = Fault(
            kind=self.fault_kind,
            reported_on=self.reported_on,
            part=self.part,
            cause=self.cause,
            remote_update_possible=self.remote_update_possible,
            confirmed=self.confirmed,
            cause_evidenced=self.cause_evidenced,
        )
        typed = tuple(Repair(r.on, r.part, r.days) for r in self.repairs)
        pending = (
            PendingRepair(self.repair_pending_since, self.waiting_for_parts)
            if self.repair_pending_since and not self.repaired_on
            else None
        )
        history = History(
            repairs=(unit.engine_repairs(except_case=self.case_id) if unit else ()) + typed,
            exchange_date=(unit.exchanged_in_on if unit else None) or self.exchange_date,
            pending_repair=pending,
            exchanged_for=unit.exchanged_for if unit else None,
            returned_on=unit.returned_on if unit else None,
        )
        if unit is not None and unit.registrations and installation is None:
            latest = max(unit.registrations, key=lambda r: str(r["accepted_on"]))
            installation = Installation(
                date.fromisoformat(str(latest["accepted_on"])), latest.get("project_id")
            )
        return product, fault, history, installation

    def repair_check_on(self, repair_days_limit: int, parts_wait_days_limit: int) -> date | None:
        """The first day an overdue-repair rule could change the decision (the scanner's index)."""
        if self.repair_pending_since is None or self.repaired_on is not None or self.closed_on is not None:
            return None
        rule, limit = (
            ("sanbao_parts_unavailable", parts_wait_days_limit)
            if self.waiting_for_parts
            else ("sanbao_repair_overdue", repair_days_limit)
        )
        if rule in self.overdue_decided:
            return None
        return date.fromordinal(self.repair_pending_since.toordinal() + limit + 1)

    @property
    def latest_decision_id(self) -> str | None:
        return self.decisions[-1]["event_id"] if self.decisions else None


ConfirmVia = Literal["phone", "wechat", "on_site"]
