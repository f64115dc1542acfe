"""A unit's record (R-WA-7): what warranty knows of one serial number from sale to return.

The sale (a dealer's registration, or the customer's activation with a photo of the invoice), the
installation that started its equipment clocks, and its history: every repair with its days in repair,
the exchange that closed it (the new unit starts its own clock) or the return. Decisions read it
instead of history typed on each case; what a case typed stays possible for units sold before the
suite, as evidence.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field

from shared.reference import product_of_serial, production_batch
from warranty.domain.engine import Repair

UnitStatus = Literal["in_service", "exchanged", "returned"]
SaleSource = Literal["dealer", "customer", "exchange", "evidence"]
RepairSource = Literal["parts.repaired", "repair.recorded", "case.closed"]


class UnitRefused(Exception):
    """The change cannot be made to this unit as it is; the message says why (409)."""


class Sale(BaseModel):
    source: SaleSource
    dealer_code: str | None = None
    invoice_no: str | None = None
    invoice_date: date | None = None
    invoice_amount: Decimal | None = Field(
        default=None,
        description="The invoice price (a return refunds it). Confidential: finance and the specialist only.",
    )
    purchase_date: date | None = None
    service_card_no: str | None = None
    service_card_stamped: bool | None = None
    invoice_attachment: str | None = Field(
        default=None, description="The photo of the invoice (attachment id)."
    )
    customer_phone: str | None = Field(
        default=None, description="E.164, from the customer's activation. Never logged."
    )
    recorded_by: str
    recorded_at: datetime


class UnitRepair(BaseModel):
    repair_id: str = Field(description="The parts request, the repair record, or close:<case> for a closure.")
    case_id: str | None = None
    part: str | None = None
    reported_on: date | None = None
    repaired_on: date
    days: int = Field(ge=0, description="From the day the fault was reported to the day it was repaired.")
    source: RepairSource
    record_id: str | None = None


class HistoryEntry(BaseModel):
    on: date
    at: datetime
    kind: str
    case_id: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)


class Unit(BaseModel):
    serial_no: str
    model: str | None = None
    batch: str | None = Field(default=None, description="Production batch: the serial's prefix and yymm.")
    status: UnitStatus = "in_service"
    sale: Sale | None = None
    registrations: list[dict[str, Any]] = Field(default_factory=list, description="Accepted installations.")
    repairs: list[UnitRepair] = Field(default_factory=list)
    replaces: str | None = Field(default=None, description="The unit this one was exchanged for.")
    exchanged_in_on: date | None = Field(default=None, description="Its own clock starts here (an exchange).")
    exchanged_for: str | None = None
    exchanged_on: date | None = None
    returned_on: date | None = None
    history: list[HistoryEntry] = Field(default_factory=list)

    @classmethod
    def new(cls, serial_no: str, model: str | None = None) -> Unit:
        catalogue = product_of_serial(serial_no)
        return cls(
            serial_no=serial_no,
            model=model or (catalogue.model if catalogue else None),
            batch=batch_of(serial_no),
        )

    def _note(self, on: date, at: datetime, kind: str, case_id: str | None = None, **detail: Any) -> None:
        self.history.append(HistoryEntry(on=on, at=at, kind=kind, case_id=case_id, detail=detail))

    # ------------------------------------------------------------------ sale

    def register_sale(self, sale: Sale, *, model: str | None) -> list[Any]:
        """A dealer's sale record or the customer's activation. A second dealer, or other facts, is refused:
        a sale is corrected by the specialist's evidence on a case, not by registering it again."""
        if self.status != "in_service":
            raise UnitRefused(f"unit {self.serial_no} is {self.status}; it cannot be sold or activated")
        if model and self.model and model != self.model:
            raise UnitRefused(f"unit {self.serial_no} is a {self.model}, not a {model}")
        self.model = self.model or model
        current = self.sale
        if current is not None and sale.source == "dealer" and current.source == "dealer":
            if current.dealer_code != sale.dealer_code:
                raise UnitRefused(f"unit {self.serial_no} was sold by {current.dealer_code}")
            if _facts(current) != _facts(sale):
                raise UnitRefused(f"unit {self.serial_no}'s sale is recorded already with other details")
            return []
        if current is not None and sale.source == "customer":
            # The customer's activation completes a dealer's record; it never replaces one.
            merged = current.model_copy(
                update={
                    k: v
                    for k, v in sale.model_dump().items()
                    if k in ("invoice_attachment", "customer_phone") or getattr(current, k) is None
                }
            )
            self.sale = merged
        elif current is not None and current.source == "customer" and sale.source == "dealer":
            self.sale = sale.model_copy(
                update={
                    "invoice_attachment": current.invoice_attachment,
                    "customer_phone": current.customer_phone,
                }
            )
        else:
            self.sale = sale
        day = sale.purchase_date or sale.invoice_date or sale.recorded_at.date()
        kind = "sale_registered" if sale.source == "dealer" else "warranty_activated"
        self._note(day, sale.recorded_at, kind, dealer_code=sale.dealer_code, by=sale.recorded_by)
        return []

    # ------------------------------------------------------------------ installation

    def register_installation(
        self, registration: dict[str, Any], *, model: str | None, at: datetime
    ) -> list[Any]:
        if any(r.get("event_id") == registration.get("event_id") for r in self.registrations):
            return []
        self.model = self.model or model
        self.registrations.append(registration)
        self._note(
            date.fromisoformat(str(registration["accepted_on"])),
            at,
            "installation_accepted",
            project_id=registration.get("project_id"),
        )
        return []

    # ------------------------------------------------------------------ repairs

    def record_repair(self, repair: UnitRepair, *, at: datetime) -> list[Any]:
        """One repair; the same repair told again (parts.repaired, then its repair record) is merged."""
        for i, known in enumerate(self.repairs):
            if known.repair_id == repair.repair_id:
                self.repairs[i] = known.model_copy(
                    update={
                        "record_id": repair.record_id or known.record_id,
                        "part": known.part or repair.part,
                    }
                )
                return []
        if repair.source == "case.closed" and any(r.case_id == repair.case_id for r in self.repairs):
            return []  # the case's repair is known from parts already
        if repair.source != "case.closed":
            # A closure counted before the parts' own record of the same case gives way to it.
            self.repairs = [
                r for r in self.repairs if not (r.source == "case.closed" and r.case_id == repair.case_id)
            ]
        self.repairs.append(repair)
        self.repairs.sort(key=lambda r: r.repaired_on)
        self._note(
            repair.repaired_on,
            at,
            "repaired",
            repair.case_id,
            part=repair.part,
            days=repair.days,
            source=repair.source,
        )
        return []

    def engine_repairs(self, *, except_case: str | None) -> tuple[Repair, ...]:
        return tuple(
            Repair(r.repaired_on, r.part, r.days, r.case_id) for r in self.repairs if r.case_id != except_case
        )

    # ------------------------------------------------------------------ exchange and return

    def exchange_out(self, new_serial: str, *, on: date, case_id: str, at: datetime) -> list[Any]:
        if self.status == "exchanged" and self.exchanged_for == new_serial:
            return []
        if self.status != "in_service":
            raise UnitRefused(f"unit {self.serial_no} is {self.status} already")
        self.status, self.exchanged_for, self.exchanged_on = "exchanged", new_serial, on
        self._note(on, at, "exchanged_out", case_id, new_serial=new_serial)
        return []

    def exchange_in(self, old: Unit, *, on: date, case_id: str, at: datetime) -> list[Any]:
        """This new unit replaces `old`: same model, the old sale's dealer and invoice, its own clock."""
        if self.replaces == old.serial_no:
            return []
        if self.sale is not None or self.repairs or self.replaces:
            raise UnitRefused(
                f"unit {self.serial_no} has a record of its own already; issue an unused serial"
            )
        self.model = self.model or old.model
        self.replaces, self.exchanged_in_on = old.serial_no, on
        if old.sale is not None:
            self.sale = old.sale.model_copy(update={"source": "exchange", "recorded_at": at})
        self._note(on, at, "exchanged_in", case_id, old_serial=old.serial_no)
        return []

    def returned(self, *, on: date, case_id: str, at: datetime) -> list[Any]:
        if self.status == "returned":
            return []
        if self.status != "in_service":
            raise UnitRefused(f"unit {self.serial_no} is {self.status} already")
        self.status, self.returned_on = "returned", on
        self._note(on, at, "returned", case_id)
        return []


def _facts(sale: Sale) -> tuple[Any, ...]:
    return (
        sale.invoice_no,
        sale.invoice_date,
        sale.invoice_amount,
        sale.purchase_date,
        sale.service_card_no,
        sale.service_card_stamped,
    )


def batch_of(serial_no: str) -> str | None:
    """The production batch a serial names (XF2502405001234 → XF250-2405): shared.reference's one rule."""
    return production_batch(serial_no)
