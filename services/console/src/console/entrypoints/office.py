"""Back-office and channel pages: finance's price lists, stock, purchasing's requests, the regional
manager's local sourcing, and the complaint form for dealers and regional managers."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response

from console import access, labels
from console.entrypoints.web import after, console_of, form_of, new_key, problem, redirect, render, require

router = APIRouter(include_in_schema=False)
SafeId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][\w\-.]{0,60}$")]


def _items(api: Any) -> list[dict[str, Any]]:
    data = api.json({})
    return data.get("items", []) if isinstance(data, dict) else []


# ------------------------------------------------------------------------------------ price lists (finance)


def parse_price_lines(text: str) -> tuple[dict[str, Any], list[str]]:
    """`code | name | cost | list price`, one item a line (tabs or commas also separate)."""
    items: dict[str, Any] = {}
    errors: list[str] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        sep = "|" if "|" in line else ("\t" if "\t" in line else ",")
        cells = [c.strip() for c in line.split(sep)]
        if len(cells) != 4 or not cells[0]:
            errors.append(
                f"第 {n} 行应为「编码 | 名称 | 成本 | 售价」/ line {n}: code | name | cost | list price"
            )
            continue
        items[cells[0]] = {"name": cells[1], "cost": cells[2], "list_price": cells[3]}
    return items, errors


@router.get("/prices", response_class=HTMLResponse)
async def prices_page(request: Request) -> Response:
    user = require(request, access.PRICE_ROLES)
    api = await console_of(request).services.parts.get("/v1/price-lists", key=user.key)
    data = api.json({}) or {}
    versions = sorted(
        data.get("versions", []), key=lambda v: (v["effective_from"], v["version"]), reverse=True
    )
    return render(
        request,
        "prices.html",
        {
            "versions": versions,
            "in_effect": data.get("in_effect"),
            "error": None if api.ok else problem(api)[0],
        },
        user=user,
    )


@router.post("/prices")
async def post_price_list(request: Request) -> Response:
    user = require(request, ("finance",))
    form = await form_of(request)
    items, errors = parse_price_lines(form.get("items", ""))
    if errors or not items:
        return redirect(
            "/prices",
            flash=("error", "价格表格式有误 / the price list is not in the expected form"),
            items=[{"zh": e, "en": ""} for e in errors or ["至少一行 / at least one line"]],
        )
    api = await console_of(request).services.parts.post(
        "/v1/price-lists",
        key=user.key,
        json={
            "version": form.get("version", ""),
            "effective_from": form.get("effective_from", ""),
            "items": items,
        },
    )
    return after(
        api, "/prices", f"价格表 {form.get('version')} 已发布", f"price list {form.get('version')} published"
    )


# ------------------------------------------------------------------------------------ stock


@router.get("/stock", response_class=HTMLResponse)
async def stock_page(request: Request) -> Response:
    user = require(request, access.STOCK_READERS)
    api = await console_of(request).services.parts.get("/v1/stock", key=user.key)
    return render(
        request, "stock.html", {"items": _items(api), "error": None if api.ok else problem(api)[0]}, user=user
    )


@router.post("/stock")
async def post_stock(request: Request) -> Response:
    user = require(request, access.STOCK_KEEPERS)
    form = await form_of(request)
    item = form.get("item", "")
    body: dict[str, Any] = {"delta": form.get("delta", ""), "reason": form.get("reason", "")}
    if form.get("name"):
        body["name"] = form["name"]
    api = await console_of(request).services.parts.post(
        f"/v1/stock/{quote(item, safe='')}/adjustments", key=user.key, json=body
    )
    return after(api, "/stock", f"{item} 库存已调整", f"stock of {item} adjusted")


# ------------------------------------------------------------------------------------ purchase requests


@router.get("/purchases", response_class=HTMLResponse)
async def purchases_page(request: Request) -> Response:
    user = require(request, access.PURCHASE_READERS)
    api = await console_of(request).services.parts.get(
        "/v1/purchase-requests", key=user.key, params={"status": request.query_params.get("status")}
    )
    return render(
        request,
        "purchases.html",
        {"items": _items(api), "error": None if api.ok else problem(api)[0]},
        user=user,
    )


@router.post("/purchases/{request_id}/status")
async def post_purchase_status(request: Request, request_id: SafeId) -> Response:
    user = require(request, ("purchasing",))
    form = await form_of(request)
    body: dict[str, Any] = {"status": form.get("status", "")}
    if form.get("expected_by"):
        body["expected_by"] = form["expected_by"]
    api = await console_of(request).services.parts.post(
        f"/v1/purchase-requests/{quote(request_id, safe='')}/status", key=user.key, json=body
    )
    return after(api, "/purchases", f"{request_id} 已更新", f"{request_id} updated")


# ------------------------------------------------------------------------------------ local sourcing (path A)


@router.get("/sourcing", response_class=HTMLResponse)
async def sourcing_page(request: Request) -> Response:
    user = require(request, access.SOURCING)
    api = await console_of(request).services.parts.get(
        "/v1/parts-requests", key=user.key, params={"state": "sourcing_locally"}
    )
    return render(
        request,
        "sourcing.html",
        {"items": _items(api), "error": None if api.ok else problem(api)[0]},
        user=user,
    )


# ------------------------------------------------------------------------------------ on-site repair (path B)


@router.get("/field-parts", response_class=HTMLResponse)
async def field_parts_page(request: Request) -> Response:
    """The dealer or regional manager the good part was sent to: confirm receipt, record the repair.
    Parts answers only their requests, and never a price."""
    user = require(request, access.FIELD)
    api = await console_of(request).services.parts.get("/v1/parts-requests", key=user.key)
    items = [r for r in _items(api) if r.get("field_recipient") == user.id and r.get("state") != "repaired"]
    return render(
        request, "field_parts.html", {"items": items, "error": None if api.ok else problem(api)[0]}, user=user
    )


@router.post("/field-parts/{request_id}/receipt")
async def post_field_receipt(request: Request, request_id: SafeId) -> Response:
    user = require(request, access.FIELD)
    api = await console_of(request).services.parts.post(
        f"/v1/parts-requests/{quote(request_id, safe='')}/arrivals",
        key=user.key,
        json={"leg": "good_part_in_field"},
        headers={"Idempotency-Key": f"receipt-{request_id}"},
    )
    return after(api, "/field-parts", "已确认收到良品配件", "receipt of the good part confirmed")


@router.post("/field-parts/{request_id}/repair")
async def post_field_repair(request: Request, request_id: SafeId) -> Response:
    user = require(request, access.FIELD)
    form = await form_of(request)
    body = {k: form.get(k, "") for k in ("technician", "repaired_on", "fault_found", "cause")}
    for k in ("old_serial", "new_serial"):
        if form.get(k):
            body[k] = form[k]
    api = await console_of(request).services.parts.post(
        f"/v1/parts-requests/{quote(request_id, safe='')}/repair",
        key=user.key,
        json=body,
        headers={"Idempotency-Key": form.get("idempotency_key") or new_key("repair")},
    )
    return after(api, "/field-parts", "已记录现场维修", "on-site repair recorded")


@router.post("/sourcing/{request_id}")
async def post_sourcing(request: Request, request_id: SafeId) -> Response:
    user = require(request, access.SOURCING)
    form = await form_of(request)
    body: dict[str, Any] = {"found": form.get("found") == "yes"}
    if form.get("source"):
        body["source"] = form["source"]
    if form.get("receipt_no"):
        body["receipt_no"] = form["receipt_no"]
    if form.get("price_paid") and access.sees_prices(user.role):
        body["price_paid"] = form["price_paid"]
    api = await console_of(request).services.parts.post(
        f"/v1/parts-requests/{quote(request_id, safe='')}/local-sourcing", key=user.key, json=body
    )
    return after(api, "/sourcing", "已回复本地采购结果", "local sourcing answered")


# ------------------------------------------------------------------------------------ dealers and regional managers


def _submit_values(form: dict[str, str] | None = None) -> dict[str, str]:
    values = {
        k: ""
        for k in (
            "ticket_id",
            "customer_name",
            "phone",
            "address",
            "region",
            "model",
            "serial_no",
            "purchase_date",
            "invoice_no",
            "service_card_stamped",
            "description",
            "dealer_code",
            "project_ref",
        )
    }
    values["idempotency_key"] = new_key("rm")
    return values | {k: v for k, v in (form or {}).items() if k in values}


@router.get("/submit", response_class=HTMLResponse)
async def submit_page(request: Request) -> Response:
    user = require(request, ("dealer", "regional_manager"))
    return render(request, "submit.html", {"values": _submit_values(), "regions": labels.REGION}, user=user)


@router.post("/submit", response_class=HTMLResponse)
async def submit_complaint(request: Request) -> Response:
    user = require(request, ("dealer", "regional_manager"))
    form = await form_of(request)
    values = _submit_values(form)
    customer = {"name": values["customer_name"], "phone": values["phone"]}
    if values["address"]:
        customer["address"] = values["address"]
    intake = console_of(request).services.intake
    if user.role == "dealer":
        body: dict[str, Any] = {
            "dealer_code": user.principal.dealer_code,
            "ticket_id": values["ticket_id"],
            "customer": customer,
            "product": {
                "model": values["model"],
                "serial_no": values["serial_no"],
                "purchase_date": values["purchase_date"],
                "invoice_no": values["invoice_no"],
                "service_card_stamped": values["service_card_stamped"] == "yes",
            },
            "description": values["description"],
        }
        if values["region"]:
            body["region"] = values["region"]
        api = await intake.post("/v1/complaints/dealer", key=user.key, json=body)
    else:
        product = {k: values[k] for k in ("model", "serial_no", "purchase_date", "invoice_no") if values[k]}
        body = {
            "manager_id": user.principal.manager_id,
            "region": values["region"],
            "customer": customer,
            "product": product,
            "description": values["description"],
        }
        for k in ("dealer_code", "project_ref"):
            if values[k]:
                body[k] = values[k]
        api = await intake.post(
            "/v1/complaints/regional-manager",
            key=user.key,
            json=body,
            headers={"Idempotency-Key": values["idempotency_key"]},
        )
    if not api.ok:
        message, items = problem(api)
        return render(
            request,
            "submit.html",
            {"values": values, "regions": labels.REGION, "error": message, "error_items": items},
            status=api.status,
            user=user,
        )
    return render(
        request,
        "submit.html",
        {"values": _submit_values(), "regions": labels.REGION, "accepted": api.data},
        user=user,
    )
