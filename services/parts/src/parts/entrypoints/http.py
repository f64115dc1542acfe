"""Parts' HTTP API: key-part requests and their steps, stock, price lists (finance), quotes
(the assigned specialist only), purchase requests, repairers, and the repair record (HTML and PDF)."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from parts import bootstrap
from parts.adapters.repair_record import TITLE_EN, TITLE_ZH, FontMissing, path_of, record_rows, render_pdf
from parts.adapters.repository import CaseContext, StockShort
from parts.config import PartsSettings
from parts.domain.pricing import PRICE_ROLES, NotPriced, PriceEntry, PriceList, Wanted, in_effect
from parts.domain.repair_record import PartUsed, RepairRecord, Signature
from parts.domain.request import PartsRequest, RepairDone, Shipment, StepRefused
from parts.handlers import (
    Parts,
    PurchaseClosed,
    QuoteInvalid,
    QuoteRefused,
    advance_request,
    open_request,
    quote_consumables,
    quote_remedy,
    quote_repair,
    record_repair,
    repair_with_record,
    update_purchase,
)
from shared.contracts.ids import CaseId
from shared.http.app import JsonRoute, invalid
from shared.http.auth import Principal, require_roles
from shared.http.commands import IdempotencyKey, change_key
from shared.periods import china_date
from shared.roles import (
    FIELD_RECIPIENTS,
    FIELD_WORKERS,
    PARTS_READERS,
    PARTS_STAFF,
    PURCHASE_READERS,
    REPAIR_RECORD_READERS,
    STOCK_KEEPERS,
)
from shared.service import service_app

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Long = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]

Staff = Annotated[Principal, require_roles(*PARTS_STAFF)]
# The regional manager sources parts locally (path A); the dealer or regional manager who receives the good
# part confirms its receipt and repairs on site (path B). Neither ever sees a price.
FieldWorker = Annotated[Principal, require_roles(*FIELD_WORKERS)]
OnSite = Annotated[Principal, require_roles(*FIELD_WORKERS, *FIELD_RECIPIENTS)]
FIELD_ROLES = ("regional_manager", "dealer")  # confined to the requests they work (field_scope)
PriceReader = Annotated[Principal, require_roles(*PRICE_ROLES)]
Finance = Annotated[Principal, require_roles("finance")]
Specialist = Annotated[Principal, require_roles("specialist")]
StockKeeper = Annotated[Principal, require_roles(*STOCK_KEEPERS)]
Purchasing = Annotated[Principal, require_roles("purchasing")]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OpenIn(Body):
    case_id: CaseId
    part: Literal["motor", "control_board"]
    chargeable: bool = False


class LocalReportIn(Body):
    found: bool
    source: Short | None = Field(default=None, description="Where the part was found (repairer, shop).")
    price_paid: Decimal | None = Field(
        default=None, ge=0, description="Confidential: finance and specialist only."
    )
    receipt_no: Short | None = None


class RmaIn(Body):
    rma_no: Short
    supplier: Short | None = None


class ShipmentIn(Body):
    direction: Literal["defective_to_company", "defective_to_supplier", "good_part_to_field"]
    carrier: Short
    tracking_no: Annotated[str, StringConstraints(strip_whitespace=True, min_length=4, max_length=40)]
    to: Short = Field(
        description="The company, or the supplier, for a defective part; the dealer code or regional "
        "manager id for the good one (they then see the request and repair on site)."
    )


class ArrivalIn(Body):
    leg: Literal["defective_at_company", "defective_at_supplier", "good_part_in_field"]
    arrived_on: date | None = Field(default=None, description="The day it arrived (default: today, China).")


class SignatureIn(Body):
    name: Short
    signed_on: date


class RepairIn(Body):
    technician: Short
    repaired_on: date
    old_serial: Short | None = None
    new_serial: Short | None = None
    fault_found: Long
    cause: Long
    labour: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] = ""
    labour_hours: Decimal = Field(default=Decimal(0), ge=0, le=200, decimal_places=1)
    customer_signature: SignatureIn | None = None
    technician_signature: SignatureIn | None = None
    signed_form_attachment: Annotated[str, StringConstraints(pattern=r"^F-[0-9A-Z]{16}$")] | None = Field(
        default=None, description="The photo of the signed paper form (a file on the case in warranty)."
    )


class PartUsedIn(Body):
    part: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
    old_serial: Short | None = None
    new_serial: Short | None = None
    quantity: int = Field(default=1, ge=1, le=100)


class RecordIn(Body):
    """A repair with no key-part request (a fan, a sensor, cleaning, an adjustment): its record all the same."""

    case_id: CaseId
    technician: Short
    repaired_on: date
    fault_found: Long
    cause: Long
    parts: list[PartUsedIn] = Field(default_factory=list, max_length=30)
    labour: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] = ""
    labour_hours: Decimal = Field(default=Decimal(0), ge=0, le=200, decimal_places=1)
    customer_signature: SignatureIn | None = None
    technician_signature: SignatureIn | None = None
    signed_form_attachment: Annotated[str, StringConstraints(pattern=r"^F-[0-9A-Z]{16}$")] | None = None


class StockAdjustIn(Body):
    delta: int = Field(description="Positive when goods come in, negative when they go out.")
    reason: Long
    name: Short | None = None


class PriceListIn(Body):
    version: Annotated[str, StringConstraints(pattern=r"^[\w\-.]{1,40}$")]
    effective_from: date
    items: dict[Annotated[str, StringConstraints(max_length=40)], PriceEntry] = Field(min_length=1)


class QuoteItemIn(Body):
    item: Short
    quantity: int = Field(ge=1, le=1000)


class QuoteIn(Body):
    case_id: CaseId
    items: list[QuoteItemIn] = Field(
        default_factory=list,
        description="Consumables; or a paid installation maintenance's materials (with remedy_id).",
    )
    repair_request_id: str | None = Field(default=None, description="Quote a chargeable key-part repair.")
    remedy_id: Annotated[str, StringConstraints(pattern=r"^RM-[0-9A-Z]{10}$")] | None = Field(
        default=None, description="Quote a remedy: paid repair, replacement, paid installation maintenance."
    )
    parts: list[Annotated[str, StringConstraints(min_length=1, max_length=40)]] = Field(
        default_factory=list, max_length=30, description="A paid repair's parts (price-list items), at cost."
    )
    labour_hours: Decimal = Field(
        default=Decimal(0),
        ge=0,
        le=200,
        decimal_places=1,
        description="Hours at finance's rate card (labour_hour, installation_labour_hour).",
    )
    replacement_item: Annotated[str, StringConstraints(min_length=1, max_length=40)] | None = Field(
        default=None, description="A replacement's product (its price-list item)."
    )


class PurchaseStatusIn(Body):
    status: Literal["ordered", "received"]
    expected_by: date | None = None


class RepairerIn(Body):
    name: Short
    region: Short
    contact: Short | None = None
    active: bool = True


def _p(request: Request) -> Parts:
    return request.app.state.runtime.components["parts"]


async def _audited(request: Request, principal: Principal, what: str) -> None:
    """Every read of a price is recorded: who, when, what (R-PA-4)."""
    p = _p(request)
    await p.repo.log_price_read(who=principal.id, role=principal.role, what=what, at=p.clock())


def request_view(req: PartsRequest, principal: Principal) -> dict[str, Any]:
    data = req.model_dump(mode="json")
    if principal.role not in PRICE_ROLES:
        data.pop("local_price_paid")
    if principal.role in FIELD_ROLES:
        data.pop("local_receipt_no")  # the local purchase's paperwork is the office's
    return data


def field_scope(principal: Principal) -> dict[str, Any] | None:
    """The requests a dealer or regional manager works: asked to source it (path A), or receiving the
    good part (path B). None for staff, who see every request."""
    if principal.role == "regional_manager":
        return {"$or": [{"sourcing_by": principal.manager_id}, {"field_recipient": principal.manager_id}]}
    if principal.role == "dealer":
        return {"field_recipient": principal.dealer_code}
    return None


def _works_on(principal: Principal, req: PartsRequest) -> bool:
    if principal.role == "regional_manager":
        return principal.manager_id in (req.sourcing_by, req.field_recipient)
    if principal.role == "dealer":
        return req.field_recipient == principal.dealer_code
    return True


async def _request(request: Request, request_id: str, principal: Principal) -> PartsRequest:
    req = await _p(request).repo.requests.get(request_id)
    if req is None or not _works_on(principal, req):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"parts request {request_id} not found")
    return req


async def _step(
    request: Request,
    request_id: str,
    principal: Principal,
    operation: Any,
    *,
    key: str | None,
    body: BaseModel,
) -> dict[str, Any]:
    await _request(request, request_id, principal)
    try:
        req = await advance_request(
            _p(request),
            request_id,
            operation,
            key=change_key(
                principal, key, action=f"{request.url.path.rsplit('/', 1)[-1]} {request_id}", body=body
            ),
        )
    except StepRefused as exc:
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail={"message": str(exc), "state": exc.state}
        ) from exc
    return request_view(req, principal)


requests_router = APIRouter(prefix="/v1/parts-requests", tags=["key parts (R-PA-1)"], route_class=JsonRoute)


@requests_router.get(
    "",
    summary="Parts requests (a regional manager or dealer sees those asked of them or sent "
    "to them, without prices)",
)
async def list_requests(
    request: Request,
    principal: Annotated[Principal, require_roles(*PARTS_READERS, *FIELD_RECIPIENTS)],
    case_id: str | None = None,
    state: str | None = None,
) -> dict[str, Any]:
    query: dict[str, Any] = {}
    if case_id:
        query["case_id"] = case_id
    if state:
        query["state"] = state
    if (scope := field_scope(principal)) is not None:
        query.update(scope)
    items = await _p(request).repo.requests.find(query, sort=[("opened_at", -1)], limit=200)
    return {"items": [request_view(r, principal) for r in items]}


@requests_router.post("", status_code=201, summary="Open a key-part request by hand (usually warranty does)")
async def post_request(
    request: Request,
    body: OpenIn,
    principal: Annotated[Principal, require_roles("specialist", "manager")],
    idempotency_key: IdempotencyKey = None,
):
    p = _p(request)
    ctx = await p.repo.context(body.case_id)
    if ctx is None:
        raise HTTPException(422, detail=f"case_id: {body.case_id} is not known to parts (no assignment seen)")
    req = await open_request(
        p,
        ctx,
        body.part,
        chargeable=body.chargeable,
        by=principal.id,
        cause=None,
        key=change_key(principal, idempotency_key, action="open parts request", body=body),
    )
    return request_view(req, principal)


@requests_router.get("/{request_id}", summary="One request with every step, who and when")
async def get_request(
    request: Request,
    request_id: str,
    principal: Annotated[Principal, require_roles(*PARTS_READERS, *FIELD_RECIPIENTS)],
) -> dict[str, Any]:
    req = await _request(request, request_id, principal)
    if principal.role in PRICE_ROLES and req.local_price_paid is not None:
        await _audited(request, principal, f"parts request {request_id}: local price paid")
    return request_view(req, principal)


@requests_router.post("/{request_id}/local-sourcing", summary="Path A: found locally, or not (then path B)")
async def local_sourcing(
    request: Request,
    request_id: str,
    body: LocalReportIn,
    principal: FieldWorker,
    idempotency_key: IdempotencyKey = None,
):
    p = _p(request)
    return await _step(
        request,
        request_id,
        principal,
        lambda r, now: r.report_local(
            found=body.found,
            by=principal.id,
            now=now,
            supplier=p.suppliers.get(r.part, ""),
            source=body.source,
            price_paid=body.price_paid,
            receipt_no=body.receipt_no,
        ),
        key=idempotency_key,
        body=body,
    )


@requests_router.post("/{request_id}/rma", summary="Path B: the supplier's RMA number")
async def rma(
    request: Request,
    request_id: str,
    body: RmaIn,
    principal: Annotated[Principal, require_roles("specialist", "manager")],
    idempotency_key: IdempotencyKey = None,
):
    return await _step(
        request,
        request_id,
        principal,
        lambda r, now: r.confirm_rma(rma_no=body.rma_no, supplier=body.supplier, by=principal.id, now=now),
        key=idempotency_key,
        body=body,
    )


@requests_router.post(
    "/{request_id}/shipments",
    summary="Path B: defective part back (to the company, then the supplier), good part out to the field",
)
async def shipments(
    request: Request,
    request_id: str,
    body: ShipmentIn,
    principal: OnSite,
    idempotency_key: IdempotencyKey = None,
):
    if principal.role == "dealer" and body.direction != "defective_to_company":
        raise HTTPException(
            403, detail="direction: a dealer sends the defective part back; the company ships the rest"
        )
    return await _step(
        request,
        request_id,
        principal,
        lambda r, now: r.ship(Shipment(**body.model_dump(), by=principal.id, at=now)),
        key=idempotency_key,
        body=body,
    )


@requests_router.post(
    "/{request_id}/arrivals",
    summary="Path B: a part arrived - at the company, at the supplier, "
    "or in the field (the dealer or regional manager who received it confirms)",
)
async def arrivals(
    request: Request,
    request_id: str,
    body: ArrivalIn,
    principal: OnSite,
    idempotency_key: IdempotencyKey = None,
):
    if principal.role in FIELD_ROLES and body.leg != "good_part_in_field":
        raise HTTPException(
            403, detail=f"leg: the company confirms {body.leg}; the field confirms the good part"
        )
    p = _p(request)
    arrived_on = body.arrived_on or china_date(p.clock())
    return await _step(
        request,
        request_id,
        principal,
        lambda r, now: r.confirm_arrival(leg=body.leg, arrived_on=arrived_on, by=principal.id, now=now),
        key=idempotency_key,
        body=body,
    )


@requests_router.post("/{request_id}/repair", summary="The on-site repair is done (the record form follows)")
async def repair(
    request: Request,
    request_id: str,
    body: RepairIn,
    principal: OnSite,
    idempotency_key: IdempotencyKey = None,
):
    p = _p(request)
    await _request(request, request_id, principal)
    done = RepairDone(
        **body.model_dump(
            include={"technician", "repaired_on", "old_serial", "new_serial", "fault_found", "cause"}
        ),
        by=principal.id,
    )

    async def record_of(req: PartsRequest, ctx: Any, tx: Any) -> Any:
        used = [PartUsed(part=req.part, old_serial=body.old_serial, new_serial=body.new_serial)]
        return await record_repair(
            p, ctx, request=req, parts_used=used, by=principal.id, key=key, tx=tx, **_record_fields(body)
        )

    key = change_key(principal, idempotency_key, action=f"repair {request_id}", body=body)
    try:
        req, record = await repair_with_record(
            p, request_id, lambda r, now: r.record_repair(done, now=now), record_of, key=key
        )
    except StepRefused as exc:
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail={"message": str(exc), "state": exc.state}
        ) from exc
    return request_view(req, principal) | {"record_id": record.record_id}


def _record_fields(body: RepairIn | RecordIn) -> dict[str, Any]:
    return {
        "repaired_on": body.repaired_on,
        "technician": body.technician,
        "fault_found": body.fault_found,
        "cause": body.cause,
        "labour": body.labour,
        "labour_hours": body.labour_hours,
        "customer_signature": Signature(**body.customer_signature.model_dump())
        if body.customer_signature
        else None,
        "technician_signature": Signature(**body.technician_signature.model_dump())
        if body.technician_signature
        else None,
        "attachment": body.signed_form_attachment,
    }


async def _form(request: Request, record: RepairRecord, principal: Principal) -> list:
    """The form's rows; the customer's phone only on staff copies, the charges in figures only for price roles."""
    p = _p(request)
    ctx = await p.repo.context(record.case_id) or CaseContext(case_id=record.case_id)
    req = await p.repo.requests.get(record.request_id) if record.request_id else None
    charges = "按报价单收费 / as quoted" if record.chargeable else "保修期内免费 / free under warranty"
    if record.chargeable and principal.role in PRICE_ROLES:
        quotes = await p.repo.quotes.find(
            {"case_id": record.case_id, "kind": "repair"}, sort=[("issued_at", -1)]
        )
        if quotes:
            await _audited(
                request, principal, f"repair record {record.record_id}: quote {quotes[0].quote_id}"
            )
            charges = f"{quotes[0].total} 元（报价单 {quotes[0].quote_id}）/ CNY {quotes[0].total}"
    return record_rows(
        record, ctx, charges=charges, path=path_of(req), show_phone=principal.role in STAFF_COPY
    )


STAFF_COPY = ("specialist", "manager")
# Staff, and the regional manager or dealer who repaired on site (their own records only).
RecordReader = Annotated[Principal, require_roles(*REPAIR_RECORD_READERS, *FIELD_RECIPIENTS)]


async def _record_by_request(request: Request, request_id: str, principal: Principal) -> RepairRecord:
    req = await _request(request, request_id, principal)
    found = await _p(request).repo.records.find({"request_id": req.request_id}, limit=1)
    if found:
        return found[0]
    # Not repaired yet: the form to take on site, the case's facts filled in and the repair left blank.
    ctx = await _p(request).repo.context(req.case_id) or CaseContext(case_id=req.case_id)
    return RepairRecord.model_construct(
        record_id="（未维修 / not yet repaired）",
        case_id=req.case_id,
        request_id=req.request_id,
        serial_no=ctx.serial_no,
        model=ctx.model or req.model,
        customer_name=ctx.customer_name,
        customer_phone=ctx.customer_phone,
        customer_address=ctx.customer_address,
        dealer_code=ctx.dealer_code,
        reported_on=None,
        repaired_on="—",
        technician="",
        fault_found="",
        cause="",
        parts=[PartUsed(part=req.part)],
        labour="",
        labour_hours=Decimal(0),
        earlier_repairs=ctx.earlier_repairs,
        warranty=None,
        chargeable=req.chargeable,
        customer_signature=None,
        technician_signature=None,
        signed_form_attachment=None,
    )


async def _record(request: Request, record_id: str, principal: Principal) -> RepairRecord:
    record = await _p(request).repo.records.get(record_id)
    if record is None:
        raise HTTPException(404, detail=f"repair record {record_id} not found")
    if principal.role in FIELD_ROLES:
        req = await _p(request).repo.requests.get(record.request_id) if record.request_id else None
        if record.recorded_by != principal.id and (req is None or not _works_on(principal, req)):
            raise HTTPException(404, detail=f"repair record {record_id} not found")
    return record


def _html(request: Request, record: RepairRecord, rows: list, pdf_href: str) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(
        request,
        "repair_record.html",
        {
            "rows": rows,
            "title_zh": TITLE_ZH,
            "title_en": TITLE_EN,
            "request_id": record.record_id,
            "pdf_href": pdf_href,
            "footer": f"英德售后服务部 · {record.record_id} · {record.case_id}",
        },
    )


def _pdf(request: Request, record: RepairRecord, rows: list) -> Response:
    try:
        pdf = render_pdf(
            rows, font=_p(request).pdf_font, footer=f"英德售后服务部 · {record.record_id} · {record.case_id}"
        )
    except FontMissing as exc:
        raise HTTPException(503, detail=str(exc)) from exc
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="repair-record-{record.record_id}.pdf"'},
    )


@requests_router.get(
    "/{request_id}/repair-record",
    response_class=HTMLResponse,
    summary="《产品(设备)售后服务维修记录单》 of this request's repair, as a printable page",
)
async def repair_record_html(request: Request, request_id: str, principal: RecordReader) -> HTMLResponse:
    record = await _record_by_request(request, request_id, principal)
    return _html(
        request,
        record,
        await _form(request, record, principal),
        f"/v1/parts-requests/{request_id}/repair-record.pdf",
    )


@requests_router.get(
    "/{request_id}/repair-record.pdf", summary="The repair record as a PDF (Chinese, English beside)"
)
async def repair_record_pdf(request: Request, request_id: str, principal: RecordReader) -> Response:
    record = await _record_by_request(request, request_id, principal)
    return _pdf(request, record, await _form(request, record, principal))


records_router = APIRouter(
    prefix="/v1/repair-records", tags=["repair records (R-PA-2)"], route_class=JsonRoute
)


@records_router.post(
    "", status_code=201, summary="Record a repair without a key-part request (附件 1 for every repair)"
)
async def post_record(
    request: Request, body: RecordIn, principal: FieldWorker, idempotency_key: IdempotencyKey = None
) -> dict[str, Any]:
    p = _p(request)
    ctx = await p.repo.context(body.case_id)
    if ctx is None or ctx.specialist_id is None:
        raise HTTPException(
            422,
            detail={
                "message": f"invalid request: case_id: {body.case_id} is not known to parts",
                "errors": [{"field": "case_id", "message": "not known to parts", "type": "value_error"}],
            },
        )
    used = [PartUsed(**u.model_dump()) for u in body.parts]
    record = await record_repair(
        p,
        ctx,
        request=None,
        parts_used=used,
        by=principal.id,
        key=change_key(principal, idempotency_key, action="repair record", body=body),
        **_record_fields(body),
    )
    return record_view(record, principal)


def record_view(record: RepairRecord, principal: Principal) -> dict[str, Any]:
    data = record.model_dump(mode="json")
    if principal.role not in STAFF_COPY:
        data.pop("customer_phone")
    return data | {"form": f"/v1/repair-records/{record.record_id}/form"}


@records_router.get("", summary="Repair records of a case")
async def list_records(request: Request, principal: RecordReader, case_id: str) -> dict[str, Any]:
    found = await _p(request).repo.records.find({"case_id": case_id}, sort=[("repaired_on", 1)])
    if principal.role in FIELD_ROLES:
        # Their own: what they recorded, or the repair of a request they work (sourced, or received the part).
        requests = {r.request_id: r for r in await _p(request).repo.requests.find({"case_id": case_id})}
        found = [
            r
            for r in found
            if r.recorded_by == principal.id
            or (r.request_id in requests and _works_on(principal, requests[r.request_id]))
        ]
    return {"items": [record_view(r, principal) for r in found]}


@records_router.get("/{record_id}", summary="One repair record")
async def get_record(request: Request, record_id: str, principal: RecordReader) -> dict[str, Any]:
    return record_view(await _record(request, record_id, principal), principal)


@records_router.get(
    "/{record_id}/form", response_class=HTMLResponse, summary="The record as the printable form"
)
async def record_form(request: Request, record_id: str, principal: RecordReader) -> HTMLResponse:
    record = await _record(request, record_id, principal)
    return _html(
        request, record, await _form(request, record, principal), f"/v1/repair-records/{record_id}/form.pdf"
    )


@records_router.get("/{record_id}/form.pdf", summary="The record as a PDF")
async def record_pdf(request: Request, record_id: str, principal: RecordReader) -> Response:
    record = await _record(request, record_id, principal)
    return _pdf(request, record, await _form(request, record, principal))


money = APIRouter(tags=["stock, prices and quotes (R-PA-3, R-PA-4)"], route_class=JsonRoute)


@money.get("/v1/stock", summary="Consumables on hand (no prices)")
async def get_stock(request: Request, principal: Staff) -> dict[str, Any]:
    items = await _p(request).repo.stock_items()
    return {"items": [{"item": d["_id"], "name": d.get("name"), "on_hand": d["on_hand"]} for d in items]}


@money.post("/v1/stock/{item}/adjustments", summary="Adjust stock with a reason")
async def adjust_stock(
    request: Request,
    item: str,
    body: StockAdjustIn,
    principal: StockKeeper,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    p = _p(request)
    key = change_key(principal, idempotency_key, action=f"stock {item}", body=body)
    move_id = key.derived_id("MV-", 16) if key else f"MV-{uuid.uuid4().hex[:16].upper()}"
    try:
        on_hand = await p.repo.move_stock(
            item,
            body.delta,
            move_id=move_id,
            reason=body.reason,
            by=principal.id,
            at=p.clock(),
            name=body.name,
        )
    except StockShort as exc:
        raise HTTPException(409, detail=str(exc)) from exc
    return {"item": item, "on_hand": on_hand, "move_id": move_id}


@money.get("/v1/price-lists", summary="Price lists with effective dates (finance and specialists only)")
async def get_price_lists(request: Request, principal: PriceReader) -> dict[str, Any]:
    p = _p(request)
    versions = await p.repo.price_list_versions()
    await _audited(request, principal, "price lists")
    current = in_effect(versions, china_date(p.clock()))
    return {
        "in_effect": current.version if current else None,
        "versions": [v.model_dump(mode="json") for v in versions],
    }


@money.post("/v1/price-lists", status_code=201, summary="Finance: publish a new price list version")
async def post_price_list(request: Request, body: PriceListIn, principal: Finance) -> dict[str, Any]:
    p = _p(request)
    prices = PriceList(**body.model_dump(), created_by=principal.id)
    if not await p.repo.add_price_list(prices, p.clock()):
        raise HTTPException(
            409, detail=f"version: price list {body.version} exists; versions are never changed"
        )
    return prices.model_dump(mode="json")


@money.get("/v1/price-reads", summary="Finance: who read which prices, when")
async def price_reads(request: Request, principal: Finance) -> dict[str, Any]:
    return {"items": await _p(request).repo.price_read_log()}


@money.post("/v1/quotes", status_code=201, summary="The assigned specialist quotes the customer")
async def post_quote(
    request: Request, body: QuoteIn, principal: Specialist, idempotency_key: IdempotencyKey = None
) -> dict[str, Any]:
    p = _p(request)
    ctx = await p.repo.context(body.case_id)
    if ctx is None:
        raise HTTPException(422, detail=f"case_id: {body.case_id} is not known to parts")
    if ctx.specialist_id != principal.id:
        raise HTTPException(
            403, detail=f"only the case's specialist ({ctx.specialist_id}) may quote it (§三.2.4 注)"
        )
    if not body.remedy_id and bool(body.items) == bool(body.repair_request_id):
        raise HTTPException(422, detail="items: give consumable items, a repair_request_id or a remedy_id")
    key = change_key(principal, idempotency_key, action="quote", body=body)
    try:
        if body.remedy_id:
            quote = await quote_remedy(
                p,
                ctx,
                body.remedy_id,
                by=principal.id,
                key=key,
                parts_used=body.parts,
                labour_hours=body.labour_hours,
                replacement_item=body.replacement_item,
                materials=[Wanted(i.item, i.quantity) for i in body.items],
            )
            result = {"quote": quote, "purchase_requests": []}
        elif body.repair_request_id:
            req = await p.repo.requests.get(body.repair_request_id)
            if req is None or req.case_id != body.case_id:
                raise HTTPException(422, detail="repair_request_id: not a parts request of this case")
            quote = await quote_repair(p, req, by=principal.id, key=key, labour_hours=body.labour_hours)
            result: dict[str, Any] = {"quote": quote, "purchase_requests": []}
        else:
            result = await quote_consumables(
                p, body.case_id, [Wanted(i.item, i.quantity) for i in body.items], by=principal.id, key=key
            )
    except NotPriced as exc:
        raise HTTPException(422, detail=f"items: {exc}") from exc
    except QuoteRefused as exc:
        raise HTTPException(409, detail=str(exc)) from exc
    except QuoteInvalid as exc:
        raise invalid(exc.field, exc.message) from exc
    await _audited(request, principal, f"quote for {body.case_id}")
    return {
        "quote": result["quote"].model_dump(mode="json") if result["quote"] else None,
        "purchase_requests": [r.model_dump(mode="json") for r in result["purchase_requests"]],
        "customer_told": result.get("customer_told"),
    }


@money.get("/v1/quotes", summary="Quotes of a case (finance and specialists only)")
async def list_quotes(request: Request, principal: PriceReader, case_id: str) -> dict[str, Any]:
    quotes = await _p(request).repo.quotes.find({"case_id": case_id}, sort=[("issued_at", -1)])
    await _audited(request, principal, f"quotes of {case_id}")
    return {"items": [q.model_dump(mode="json") for q in quotes]}


@money.get("/v1/purchase-requests", summary="What purchasing must sample or stock")
async def list_purchases(
    request: Request,
    principal: Annotated[Principal, require_roles(*PURCHASE_READERS)],
    status_: Annotated[str | None, Query(alias="status")] = None,
) -> dict[str, Any]:
    query = {"status": status_} if status_ else {}
    items = await _p(request).repo.purchases.find(query, sort=[("requested_at", -1)], limit=200)
    return {"items": [r.model_dump(mode="json") for r in items]}


@money.post(
    "/v1/purchase-requests/{request_id}/status", summary="Purchasing: ordered, or received (stock goes up)"
)
async def purchase_status(
    request: Request,
    request_id: str,
    body: PurchaseStatusIn,
    principal: Purchasing,
    idempotency_key: IdempotencyKey = None,
):
    try:
        req = await update_purchase(
            _p(request),
            request_id,
            status=body.status,
            expected_by=body.expected_by,
            by=principal.id,
            key=change_key(principal, idempotency_key, action=f"purchase status {request_id}", body=body),
        )
    except PurchaseClosed as exc:
        raise HTTPException(409, detail=str(exc)) from exc
    return req.model_dump(mode="json")


@money.get("/v1/repairers", summary="Registered local appliance repairers (path A)")
async def list_repairers(request: Request, principal: Staff) -> dict[str, Any]:
    return {"items": await _p(request).repo.repairers_in(None)}


@money.put("/v1/repairers/{repairer_id}", summary="Register or change a local repairer")
async def put_repairer(
    request: Request,
    repairer_id: str,
    body: RepairerIn,
    principal: Annotated[Principal, require_roles("specialist", "manager")],
) -> dict[str, Any]:
    await _p(request).repo.put_repairer(repairer_id, body.model_dump())
    return {"repairer_id": repairer_id, **body.model_dump()}


def create_app(settings: PartsSettings | None = None) -> FastAPI:
    settings = settings or PartsSettings()
    return service_app(
        settings,
        title="英德售后 · Parts",
        description=(
            "Key parts sourced locally first (path A) and from the supplier second (path B, RMA); the repair record "
            "form; consumable stock, finance's price lists and the specialist's quotes; purchase requests. Prices are "
            "for finance and the specialist only, and every read of one is recorded."
        ),
        routers=[requests_router, records_router, money],
        wire=bootstrap.wire,
    )
