"""complaint.received: the one canonical complaint every channel is normalised into (R-IN-1)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import Field

from shared.contracts.base import Contract
from shared.contracts.ids import CaseId

Channel = Literal["hotline", "regional_manager", "dealer", "online"]
Category = Literal["installation", "product_fault", "consumable", "software"]
ProductKind = Literal["fresh_air_unit", "purifier", "filter"]

CHANNELS: tuple[Channel, ...] = ("hotline", "regional_manager", "dealer", "online")
CATEGORIES: tuple[Category, ...] = ("installation", "product_fault", "consumable", "software")


class Customer(Contract):
    name: str = Field(description="The customer's name as given.")
    phone: str = Field(description="Phone in E.164 (+8613812345678). Personal data: never logged.")
    address: str | None = Field(default=None, description="Installation or contact address.")


class ProductInfo(Contract):
    model: str | None = Field(default=None, description="Canonical model code (YD-XF250) when recognised.")
    model_as_given: str | None = Field(default=None, description="The model exactly as the channel sent it.")
    kind: ProductKind | None = Field(
        default=None, description="Kind from the catalogue, when the model is known."
    )
    serial_no: str | None = Field(default=None, description="Serial number, upper-case, no spaces.")
    purchase_date: date | None = None
    invoice_no: str | None = None
    service_card_stamped: bool | None = Field(
        default=None,
        description="Whether the dealer-stamped service card is held (basis of a warranty claim).",
    )


class CategoryGuess(Contract):
    category: Category = Field(
        description="First guess at the complaint's category; dispatch may correct it."
    )
    confidence: float = Field(ge=0, le=1)
    evidence: list[str] = Field(description="Why: the words or fields that pointed to this category.")


class Submitter(Contract):
    channel: Channel
    principal_id: str = Field(description="Hotline agent id, regional manager id, dealer code, or 'public'.")
    reference: str | None = Field(
        default=None, description="The channel's own reference (a dealer's ticket id)."
    )


class ComplaintReceived(Contract):
    """A complaint as the quality after-sales manager's queue receives it, whatever its channel."""

    case_id: CaseId = Field(description="Case number given at intake (YD-…); the key of every later event.")
    channel: Channel
    received_at: datetime
    reported_at: datetime | None = Field(
        default=None, description="When the customer reported it (time of call)."
    )
    submitted_by: Submitter
    customer: Customer
    region: str | None = Field(default=None, description="Canonical region code (south_china…), when known.")
    dealer_code: str | None = None
    project_ref: str | None = Field(default=None, description="Installation project named by the channel.")
    product: ProductInfo
    description: str = Field(description="What the customer said, in their words.")
    category_guess: CategoryGuess
    original: dict[str, Any] = Field(description="The channel's payload exactly as it was posted.")
