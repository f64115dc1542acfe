"""The four channels' own input shapes, and how each becomes the canonical complaint (R-IN-1).

Each shape refuses unknown fields and over-long values, and normalises phones, serials, regions and
dates as it validates, so a bad field is a 422 that names it.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from intake.domain.normalise import (
    guess_category,
    local_datetime,
    match_model,
    normalise_region,
    not_in_future,
    reported_not_in_future,
)
from shared.contracts.complaints import Channel, ComplaintReceived, Customer, ProductInfo, Submitter
from shared.periods import CHINA
from shared.reference import check_sale_date, normalise_phone, normalise_serial, region_of_address

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
Id = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40, pattern=r"^[\w\-.:/]+$")
]
Phone = Annotated[str, StringConstraints(max_length=30), AfterValidator(normalise_phone)]
Serial = Annotated[str, StringConstraints(max_length=40), AfterValidator(normalise_serial)]
Region = Annotated[str, StringConstraints(max_length=30), AfterValidator(normalise_region)]
Model = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
Address = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=4000)]
InvoiceNo = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
PurchaseDate = Annotated[date, AfterValidator(not_in_future), AfterValidator(check_sale_date)]
LocalTime = Annotated[datetime, AfterValidator(local_datetime)]
ReportedOn = Annotated[date, AfterValidator(reported_not_in_future)]


class ChannelInput(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    channel: ClassVar[Channel]

    def principal_id(self) -> str:
        raise NotImplementedError

    def submission_reference(self) -> str | None:
        """The channel's natural idempotency key, when it has one."""
        return None

    def to_complaint(
        self, *, case_id: str, received_at: datetime, original: dict[str, Any]
    ) -> ComplaintReceived:
        raise NotImplementedError


class CustomerIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: Name
    phone: Phone
    address: Address | None = None


class ProductHint(BaseModel):
    """What the front desk may know about the product while the caller is on the line."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    model: Model | None = None
    serial_no: Serial | None = None


def _launched_before(day: date | None, info: ValidationInfo) -> date | None:
    """A purchase date no earlier than the launch of the model (or serial) given beside it."""
    return check_sale_date(day, info.data.get("model"), info.data.get("serial_no")) if day else day


class ManagerProduct(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    model: Model
    serial_no: Serial | None = None
    purchase_date: PurchaseDate | None = None
    invoice_no: InvoiceNo | None = None

    _purchase_after_launch = field_validator("purchase_date")(_launched_before)


class DealerProduct(BaseModel):
    """What the dealer knows of the unit. Every complaint a dealer receives is forwarded (§一.1.3):
    the serial, the purchase date and the documents are warranty's question, asked on the case."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    model: Model
    serial_no: Serial | None = None
    purchase_date: PurchaseDate | None = None
    invoice_no: InvoiceNo | None = None
    service_card_stamped: bool | None = Field(
        default=None, description="Whether the customer holds the dealer-stamped service card."
    )

    _purchase_after_launch = field_validator("purchase_date")(_launched_before)


def _product(
    model: str | None,
    serial_no: str | None,
    purchase_date: date | None = None,
    invoice_no: str | None = None,
    service_card_stamped: bool | None = None,
) -> ProductInfo:
    match = match_model(model, serial_no)
    return ProductInfo(
        model=match.model,
        model_as_given=match.as_given,
        kind=match.kind,
        serial_no=serial_no,
        purchase_date=purchase_date,
        invoice_no=invoice_no,
        service_card_stamped=service_card_stamped,
    )


class HotlineCall(ChannelInput):
    """The front desk transcribing a call to the 400-832-0089 hotline (§一.1.1)."""

    channel: ClassVar[Channel] = "hotline"
    caller_name: Name
    phone: Phone
    called_at: LocalTime = Field(description="Time of the call; without a zone it is China time.")
    transcript: Description = Field(description="What the caller said.")
    agent_id: Id = Field(description="The front-desk agent who took the call.")
    address: Address | None = None
    region: Region | None = None
    product: ProductHint | None = None

    def principal_id(self) -> str:
        return self.agent_id

    def to_complaint(
        self, *, case_id: str, received_at: datetime, original: dict[str, Any]
    ) -> ComplaintReceived:
        hint = self.product or ProductHint()
        product = _product(hint.model, hint.serial_no)
        return ComplaintReceived(
            case_id=case_id,
            channel=self.channel,
            received_at=received_at,
            reported_at=self.called_at,
            submitted_by=Submitter(channel=self.channel, principal_id=self.agent_id),
            customer=Customer(name=self.caller_name, phone=self.phone, address=self.address),
            region=self.region or _region_from(self.address),
            product=product,
            description=self.transcript,
            category_guess=guess_category(("transcript", self.transcript), product_kind=product.kind),
            original=original,
        )


class RegionalManagerReport(ChannelInput):
    """A regional manager passing on a customer's complaint (§一.1.2)."""

    channel: ClassVar[Channel] = "regional_manager"
    manager_id: Id
    region: Region
    customer: CustomerIn
    dealer_code: Id | None = None
    product: ManagerProduct
    description: Description
    project_ref: Id | None = Field(
        default=None, description="The installation project, if the unit came with one."
    )

    def principal_id(self) -> str:
        return self.manager_id

    def to_complaint(
        self, *, case_id: str, received_at: datetime, original: dict[str, Any]
    ) -> ComplaintReceived:
        p = self.product
        product = _product(p.model, p.serial_no, p.purchase_date, p.invoice_no)
        return ComplaintReceived(
            case_id=case_id,
            channel=self.channel,
            received_at=received_at,
            submitted_by=Submitter(channel=self.channel, principal_id=self.manager_id),
            customer=Customer(**self.customer.model_dump()),
            region=self.region,
            dealer_code=self.dealer_code,
            project_ref=self.project_ref,
            product=product,
            description=self.description,
            category_guess=guess_category(
                ("description", self.description), product_kind=product.kind, project_ref=self.project_ref
            ),
            original=original,
        )


class DealerTicket(ChannelInput):
    """A dealer's after-sales ticket (§一.1.3); the ticket id is the natural idempotency key."""

    channel: ClassVar[Channel] = "dealer"
    dealer_code: Id
    ticket_id: Id = Field(description="The dealer's own ticket id: re-posting it never makes a second case.")
    customer: CustomerIn
    region: Region | None = None
    product: DealerProduct
    description: Description
    reported_on: ReportedOn | None = Field(
        default=None,
        description="The day the customer reported the fault to the dealer (the 三包 7/15-day "
        "windows count to it); the day intake received the ticket when absent.",
    )

    def principal_id(self) -> str:
        return self.dealer_code

    def submission_reference(self) -> str | None:
        return self.ticket_id

    def to_complaint(
        self, *, case_id: str, received_at: datetime, original: dict[str, Any]
    ) -> ComplaintReceived:
        p = self.product
        product = _product(p.model, p.serial_no, p.purchase_date, p.invoice_no, p.service_card_stamped)
        return ComplaintReceived(
            case_id=case_id,
            channel=self.channel,
            received_at=received_at,
            reported_at=datetime.combine(self.reported_on, time(), tzinfo=CHINA)
            if self.reported_on
            else None,
            submitted_by=Submitter(
                channel=self.channel, principal_id=self.dealer_code, reference=self.ticket_id
            ),
            customer=Customer(**self.customer.model_dump()),
            region=self.region or _region_from(self.customer.address),
            dealer_code=self.dealer_code,
            product=product,
            description=self.description,
            category_guess=guess_category(("description", self.description), product_kind=product.kind),
            original=original,
        )


class OnlineSubmission(ChannelInput):
    """The public complaint form (§一.1.4), opened directly or from a product's QR code."""

    channel: ClassVar[Channel] = "online"
    name: Name
    phone: Phone
    serial_no: Serial | None = None
    description: Description
    address: Address | None = None

    def principal_id(self) -> str:
        return "public"

    def to_complaint(
        self, *, case_id: str, received_at: datetime, original: dict[str, Any]
    ) -> ComplaintReceived:
        product = _product(None, self.serial_no)
        return ComplaintReceived(
            case_id=case_id,
            channel=self.channel,
            received_at=received_at,
            submitted_by=Submitter(channel=self.channel, principal_id="public"),
            customer=Customer(name=self.name, phone=self.phone, address=self.address),
            region=_region_from(self.address),
            product=product,
            description=self.description,
            category_guess=guess_category(("description", self.description), product_kind=product.kind),
            original=original,
        )


def _region_from(address: str | None) -> str | None:
    return region_of_address(address)
