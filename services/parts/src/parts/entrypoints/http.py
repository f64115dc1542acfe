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
from parts.adapters.repair_record import TITLE_EN, TITLE_ZH, FontMissing, record_rows, render_pdf
from parts.adapters.repository import StockShort
from parts.config import PartsSettings
from parts.domain.pricing import PRICE_ROLES, NotPriced, PriceEntry, PriceList, Wanted, in_effect
from parts.domain.request import PartsRequest, RepairDone, Shipment, StepRefused
from parts.handlers import (
    Parts,
    PurchaseClosed,
    QuoteRefused,
    advance_request,
    open_request,
    quote_consumables,
    quote_repair,
    update_purchase,
)
from shared.http.app import JsonRoute
from shared.http.auth import Principal, require_roles
from shared.http.commands import IdempotencyKey, change_key
from shared.periods import china_date
from shared.service import service_app

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Long = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]

STAFF = ("manager", "specialist", "engineering", "finance", "purchasing", "management", "operations")
Staff = Annotated[Principal, require_roles(*STAFF)]
# The regional manager sources parts locally (path A); the dealer or regional manager who receives the good
# part repairs on site (path B). Neither ever sees a price.
FieldWorker = Annotated[Principal, require_roles("specialist", "manager", "regional_manager", "dealer")]
FIELD_ROLES = ("regional_manager", "dealer")
PriceReader = Annotated[Principal, require_roles(*PRICE_ROLES)]
Finance = Annotated[Principal, require_roles("finance")]
Specialist = Annotated[Principal, require_roles("specialist")]
StockKeeper = Annotated[Principal, require_roles("purchasing", "specialist", "manager")]
Purchasing = Annotated[Principal, require_roles("purchasing")]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OpenIn(Body):
    case_id: Annotated[str, StringConstraints(pattern=r"^YD-[0-9A-Z]{10}$")]
    part: Literal["motor", "control_board"]
    chargeable: bool = False


class LocalReportIn(Body):
    found: bool
    source: Short | None = Field(default=None, description="Where the part was found (repairer, shop).")
    price_paid: Decimal | None = Field(default=None, ge=0, description="Confidential: finance and specialist only.")
    receipt_no: Short | None = None


class RmaIn(Body):
    rma_no: Short
    supplier: Short | None = None


class ShipmentIn(Body):
    direction: Literal["defective_to_company", "defective_to_supplier", "good_part_to_field"]
    carrier: Short
    tracking_no: Annotated[str, StringConstraints(strip_whitespace=True, min_length=4, max_length=40)]
    to: Short = Field(description="The company, or the supplier, for a defective part; the dealer code or regional "
                      "manager id for the good one (they then see the request and repair on site).")


class ArrivalIn(Body):
    leg: Literal["defective_at_company", "defective_at_supplier", "good_part_in_field"]
    arrived_on: date | None = Field(default=None, description="The day it arrived (default: today, China).")


class RepairIn(Body):
    technician: Short
    repaired_on: date
    old_serial: Short | None = None
    new_serial: Short | None = None
    fault_found: Long
    cause: Long


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
    case_id: Annotated[str, StringConstraints(pattern=r"^YD-[0-9A-Z]{10}$")]
    items: list[QuoteItemIn] = Field(default_factory=list)
    repair_request_id: str | None = Field(default=None, description="Quote an out-of-warranty key-part repair.")


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
    request: Request, request_id: str, principal: Principal, operation: Any, *, key: str | None, body: BaseModel
) -> dict[str, Any]:
    await _request(request, request_id, principal)
    try:
        req = await advance_request(_p(request), request_id, operation, key=change_key(
            principal, key, action=f"{request.url.path.rsplit('/', 1)[-1]} {request_id}", body=body))
    except StepRefused as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail={"message": str(exc), "state": exc.state}) from exc
    return request_view(req, principal)


requests_router = APIRouter(prefix="/v1/parts-requests", tags=["key parts (R-PA-1)"], route_class=JsonRoute)


@requests_router.get("", summary="Parts requests (a regional manager or dealer sees those asked of them or sent "
                     "to them, without prices)")
async def list_requests(
    request: Request,
    principal: Annotated[Principal, require_roles(*STAFF, *FIELD_ROLES)],
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
async def post_request(request: Request, body: OpenIn, principal: Annotated[Principal, require_roles("specialist", "manager")],
                       idempotency_key: IdempotencyKey = None):
    p = _p(request)
    ctx = await p.repo.context(body.case_id)
    if ctx is None:
        raise HTTPException(422, detail=f"case_id: {body.case_id} is not known to parts (no assignment seen)")
    req = await open_request(p, ctx, body.part, chargeable=body.chargeable, by=principal.id, cause=None,
                             key=change_key(principal, idempotency_key, action="open parts request", body=body))
    return request_view(req, principal)


@requests_router.get("/{request_id}", summary="One request with every step, who and when")
async def get_request(
    request: Request, request_id: str, principal: Annotated[Principal, require_roles(*STAFF, *FIELD_ROLES)]
) -> dict[str, Any]:
    req = await _request(request, request_id, principal)
    if principal.role in PRICE_ROLES and req.local_price_paid is not None:
        await _audited(request, principal, f"parts request {request_id}: local price paid")
    return request_view(req, principal)


@requests_router.post("/{request_id}/local-sourcing", summary="Path A: found locally, or not (then path B)")
async def local_sourcing(request: Request, request_id: str, body: LocalReportIn, principal: FieldWorker,
                         idempotency_key: IdempotencyKey = None):
    p = _p(request)
    return await _step(
        request,
        request_id,
        principal,
        lambda r, now: r.report_local(
            found=body.found, by=principal.id, now=now, supplier=p.suppliers.get(r.part, ""),
            source=body.source, price_paid=body.price_paid, receipt_no=body.receipt_no,
        ),
        key=idempotency_key, body=body,
    )


@requests_router.post("/{request_id}/rma", summary="Path B: the supplier's RMA number")
async def rma(request: Request, request_id: str, body: RmaIn,
              principal: Annotated[Principal, require_roles("specialist", "manager")], idempotency_key: IdempotencyKey = None):
    return await _step(request, request_id, principal,
                       lambda r, now: r.confirm_rma(rma_no=body.rma_no, supplier=body.supplier, by=principal.id, now=now),
                       key=idempotency_key, body=body)


@requests_router.post("/{request_id}/shipments", summary="Path B: defective part back (to the company, then the "
                      "supplier), good part out to the field")
async def shipments(request: Request, request_id: str, body: ShipmentIn, principal: FieldWorker,
                    idempotency_key: IdempotencyKey = None):
    if principal.role == "dealer" and body.direction != "defective_to_company":
        raise HTTPException(403, detail="direction: a dealer sends the defective part back; the company ships the rest")
    return await _step(request, request_id, principal,
                       lambda r, now: r.ship(Shipment(**body.model_dump(), by=principal.id, at=now)),
                       key=idempotency_key, body=body)


@requests_router.post("/{request_id}/arrivals", summary="Path B: a part arrived - at the company, at the supplier, "
                      "or in the field (the dealer or regional manager who received it confirms)")
async def arrivals(request: Request, request_id: str, body: ArrivalIn, principal: FieldWorker,
                   idempotency_key: IdempotencyKey = None):
    if principal.role in FIELD_ROLES and body.leg != "good_part_in_field":
        raise HTTPException(403, detail=f"leg: the company confirms {body.leg}; the field confirms the good part")
    p = _p(request)
    arrived_on = body.arrived_on or china_date(p.clock())
    return await _step(request, request_id, principal,
                       lambda r, now: r.confirm_arrival(leg=body.leg, arrived_on=arrived_on,
                                                        by=principal.id, now=now),
                       key=idempotency_key, body=body)


@requests_router.post("/{request_id}/repair", summary="The on-site repair is done (the record form follows)")
async def repair(request: Request, request_id: str, body: RepairIn, principal: FieldWorker,
                 idempotency_key: IdempotencyKey = None):
    return await _step(request, request_id, principal,
                       lambda r, now: r.record_repair(RepairDone(**body.model_dump(), by=principal.id), now=now),
                       key=idempotency_key, body=body)


async def _record(request: Request, request_id: str, principal: Principal) -> tuple[PartsRequest, list]:
    p = _p(request)
    req = await _request(request, request_id, principal)
    ctx = await p.repo.context(req.case_id)
    if ctx is None:
        raise HTTPException(404, detail=f"case {req.case_id} not known to parts")
    charges = "保修期内免费 / free under warranty"
    if req.chargeable:
        charges = "按报价单收费 / as quoted"
        if principal.role in PRICE_ROLES:
            quotes = await p.repo.quotes.find({"case_id": req.case_id, "kind": "repair"}, sort=[("issued_at", -1)])
            if quotes:
                await _audited(request, principal, f"repair record {request_id}: quote {quotes[0].quote_id}")
                charges = f"{quotes[0].total} 元（报价单 {quotes[0].quote_id}）/ CNY {quotes[0].total}"
    return req, record_rows(req, ctx, charges=charges)


RecordReader = Annotated[Principal, require_roles("specialist", "manager", "finance", "engineering", *FIELD_ROLES)]


@requests_router.get("/{request_id}/repair-record", response_class=HTMLResponse,
                     summary="《产品(设备)售后服务维修记录单》 as a printable page")
async def repair_record_html(request: Request, request_id: str, principal: RecordReader) -> HTMLResponse:
    req, rows = await _record(request, request_id, principal)
    return TEMPLATES.TemplateResponse(
        request,
        "repair_record.html",
        {"rows": rows, "title_zh": TITLE_ZH, "title_en": TITLE_EN, "request_id": req.request_id,
         "pdf_href": f"/v1/parts-requests/{req.request_id}/repair-record.pdf",
         "footer": f"英德售后服务部 · {req.request_id} · 状态 state: {req.state}"},
    )


@requests_router.get("/{request_id}/repair-record.pdf", summary="The repair record as a PDF (Chinese, English beside)")
async def repair_record_pdf(request: Request, request_id: str, principal: RecordReader) -> Response:
    req, rows = await _record(request, request_id, principal)
    try:
        pdf = render_pdf(rows, font=_p(request).pdf_font, footer=f"英德售后服务部 · {req.request_id} · {req.state}")
    except FontMissing as exc:
        raise HTTPException(503, detail=str(exc)) from exc
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="repair-record-{req.request_id}.pdf"'})


money = APIRouter(tags=["stock, prices and quotes (R-PA-3, R-PA-4)"], route_class=JsonRoute)


@money.get("/v1/stock", summary="Consumables on hand (no prices)")
async def get_stock(request: Request, principal: Staff) -> dict[str, Any]:
    items = await _p(request).repo.stock_items()
    return {"items": [{"item": d["_id"], "name": d.get("name"), "on_hand": d["on_hand"]} for d in items]}


@money.post("/v1/stock/{item}/adjustments", summary="Adjust stock with a reason")
async def adjust_stock(request: Request, item: str, body: StockAdjustIn, principal: StockKeeper,
                       idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    p = _p(request)
    key = change_key(principal, idempotency_key, action=f"stock {item}", body=body)
    move_id = key.derived_id("MV-", 16) if key else f"MV-{uuid.uuid4().hex[:16].upper()}"
    try:
        on_hand = await p.repo.move_stock(item, body.delta, move_id=move_id, reason=body.reason, by=principal.id,
                                          at=p.clock(), name=body.name)
    except StockShort as exc:
        raise HTTPException(409, detail=str(exc)) from exc
    return {"item": item, "on_hand": on_hand, "move_id": move_id}


@money.get("/v1/price-lists", summary="Price lists with effective dates (finance and specialists only)")
async def get_price_lists(request: Request, principal: PriceReader) -> dict[str, Any]:
    p = _p(request)
    versions = await p.repo.price_list_versions()
    await _audited(request, principal, "price lists")
    current = in_effect(versions, china_date(p.clock()))
    return {"in_effect": current.version if current else None, "versions": [v.model_dump(mode="json") for v in versions]}


@money.post("/v1/price-lists", status_code=201, summary="Finance: publish a new price list version")
async def post_price_list(request: Request, body: PriceListIn, principal: Finance) -> dict[str, Any]:
    p = _p(request)
    prices = PriceList(**body.model_dump(), created_by=principal.id)
    if not await p.repo.add_price_list(prices, p.clock()):
        raise HTTPException(409, detail=f"version: price list {body.version} exists; versions are never changed")
    return prices.model_dump(mode="json")


@money.get("/v1/price-reads", summary="Finance: who read which prices, when")
async def price_reads(request: Request, principal: Finance) -> dict[str, Any]:
    return {"items": await _p(request).repo.price_read_log()}


@money.post("/v1/quotes", status_code=201, summary="The assigned specialist quotes the customer")
async def post_quote(request: Request, body: QuoteIn, principal: Specialist,
                     idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    p = _p(request)
    ctx = await p.repo.context(body.case_id)
    if ctx is None:
        raise HTTPException(422, detail=f"case_id: {body.case_id} is not known to parts")
    if ctx.specialist_id != principal.id:
        raise HTTPException(403, detail=f"only the case's specialist ({ctx.specialist_id}) may quote it (§三.2.4 注)")
    if bool(body.items) == bool(body.repair_request_id):
        raise HTTPException(422, detail="items: give either consumable items or a repair_request_id")
    key = change_key(principal, idempotency_key, action="quote", body=body)
    try:
        if body.repair_request_id:
            req = await p.repo.requests.get(body.repair_request_id)
            if req is None or req.case_id != body.case_id:
                raise HTTPException(422, detail="repair_request_id: not a parts request of this case")
            quote = await quote_repair(p, req, by=principal.id, key=key)
            result: dict[str, Any] = {"quote": quote, "purchase_requests": []}
        else:
            result = await quote_consumables(p, body.case_id, [Wanted(i.item, i.quantity) for i in body.items],
                                             by=principal.id, key=key)
    except NotPriced as exc:
        raise HTTPException(422, detail=f"items: {exc}") from exc
    except QuoteRefused as exc:
        raise HTTPException(409, detail=str(exc)) from exc
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
    request: Request, principal: Annotated[Principal, require_roles("purchasing", "manager", "specialist")],
    status_: Annotated[str | None, Query(alias="status")] = None,
) -> dict[str, Any]:
    query = {"status": status_} if status_ else {}
    items = await _p(request).repo.purchases.find(query, sort=[("requested_at", -1)], limit=200)
    return {"items": [r.model_dump(mode="json") for r in items]}


@money.post("/v1/purchase-requests/{request_id}/status", summary="Purchasing: ordered, or received (stock goes up)")
async def purchase_status(request: Request, request_id: str, body: PurchaseStatusIn, principal: Purchasing,
                          idempotency_key: IdempotencyKey = None):
    try:
        req = await update_purchase(
            _p(request), request_id, status=body.status, expected_by=body.expected_by, by=principal.id,
            key=change_key(principal, idempotency_key, action=f"purchase status {request_id}", body=body))
    except PurchaseClosed as exc:
        raise HTTPException(409, detail=str(exc)) from exc
    return req.model_dump(mode="json")


@money.get("/v1/repairers", summary="Registered local appliance repairers (path A)")
async def list_repairers(request: Request, principal: Staff) -> dict[str, Any]:
    return {"items": await _p(request).repo.repairers_in(None)}


@money.put("/v1/repairers/{repairer_id}", summary="Register or change a local repairer")
async def put_repairer(request: Request, repairer_id: str, body: RepairerIn,
                       principal: Annotated[Principal, require_roles("specialist", "manager")]) -> dict[str, Any]:
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
        routers=[requests_router, money],
        wire=bootstrap.wire,
    )
