"""Events of parts.requests.v1: key parts sourced locally first, from the supplier second (R-PA-1),
consumable quotes and purchase requests (R-PA-3). No cost or list price appears in these events
except in quote.issued, which is what the customer receives (R-PA-4)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import Field

from shared.contracts.base import Contract
from shared.contracts.ids import CaseId

KeyPart = Literal["motor", "control_board"]
Path = Literal["A", "B"]


class PartsRequestOpened(Contract):
    """A key part is needed on a case: path A, local sourcing, starts with a deadline."""

    case_id: CaseId
    request_id: str
    part: KeyPart
    model: str | None = None
    path: Path = "A"
    sourcing_by: str = Field(
        description="The regional manager or local appliance repairer asked to source it."
    )
    deadline: datetime
    chargeable: bool = Field(
        description="Out of warranty: parts at cost plus freight both ways go into the quote."
    )


class LocalSourcingReported(Contract):
    """Path A's answer: found locally (with the source) or not found."""

    case_id: CaseId
    request_id: str
    found: bool
    source: str | None = None
    reported_by: str


class SupplierRmaOpened(Contract):
    """Path B: local sourcing failed or its deadline passed; the supplier is asked."""

    case_id: CaseId
    request_id: str
    reason: Literal["not_found_locally", "local_deadline_passed"]
    supplier: str
    rma_no: str | None = None
    by: str


Direction = Literal["defective_to_company", "defective_to_supplier", "good_part_to_field"]
Leg = Literal["rma", "defective_at_company", "defective_at_supplier", "good_part_in_field"]


# Path B's shipments, schema_version 1: the defective part to the company, the good part to the field
# (published as it was; parts now publishes version 2).
class PartShipped(Contract):
    case_id: CaseId
    request_id: str
    direction: Literal["defective_to_company", "good_part_to_field"]
    carrier: str
    tracking_no: str
    to: str
    by: str


class PartShippedV2(Contract):
    """Path B's shipments (schema_version 2): the defective part to the company and on to the supplier,
    the good part to the dealer or regional manager who repairs on site (`to`). Version 1 had no
    shipment to the supplier; a consumer of version 2 reads version 1 too."""

    SCHEMA_VERSION = 2

    case_id: CaseId
    request_id: str
    direction: Direction
    carrier: str
    tracking_no: str
    to: str
    by: str


class PartArrived(Contract):
    """A leg of path B confirmed: the defective part at the company or at the supplier, the good part in
    the field (confirmed by the dealer or regional manager who received it)."""

    case_id: CaseId
    request_id: str
    leg: Literal["defective_at_company", "defective_at_supplier", "good_part_in_field"]
    confirmed_by: str
    arrived_on: date


class PartsLegOverdue(Contract):
    """A leg of path B passed its deadline (及时/第一时间, §三.2.3B): escalated to the quality after-sales manager."""

    case_id: CaseId
    request_id: str
    leg: Leg
    due_at: datetime
    detected_at: datetime
    waiting_on: str = Field(description="Who the leg waits for: the supplier, the field, the company.")


class PartRepaired(Contract):
    """The repair is done on site; the repair record form can be printed."""

    case_id: CaseId
    request_id: str
    part: KeyPart | None = Field(default=None, description="The key part replaced.")
    path: Path
    technician: str
    repaired_on: date
    old_serial: str | None = None
    new_serial: str | None = None


class RepairRecorded(Contract):
    """A repair record form (附件 1) was filled in for a repair on the case: every repair has one (R-PA-2).
    Warranty adds the repair to the unit's history; a case whose outcome is a repair closes only with one."""

    case_id: CaseId
    record_id: str
    request_id: str | None = Field(
        default=None, description="The key-part request repaired, when there was one."
    )
    serial_no: str | None = None
    parts: list[str] = Field(
        default_factory=list, description="Parts replaced (motor, control_board, fan...)."
    )
    repaired_on: date


class QuoteLine(Contract):
    item: str
    description: str
    quantity: int = Field(ge=1)
    unit_price: Decimal
    amount: Decimal


class QuoteIssued(Contract):
    """The quote the customer receives, issued by the assigned specialist only (R-PA-4)."""

    case_id: CaseId
    quote_id: str
    kind: str | None = Field(
        default=None, description="consumables, repair, replacement, installation_maintenance."
    )
    remedy_id: str | None = Field(
        default=None, description="The remedy this quote is for (warranty.remedies.v1)."
    )
    lines: list[QuoteLine] = Field(min_length=1)
    total: Decimal
    currency: Literal["CNY"] = "CNY"
    valid_until: date
    issued_by: str


class PurchaseRequested(Contract):
    """A consumable was out of stock: purchasing is told at once (R-PA-3)."""

    case_id: CaseId | None = None
    request_id: str
    item: str
    model: str | None = None
    quantity: int = Field(ge=1)
    reason: str
    customer_told_expected_by: date | None = None
