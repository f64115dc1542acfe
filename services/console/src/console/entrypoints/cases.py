"""Case pages: the hotline's call entry, the manager's board, my cases, the case page with its live
timeline and its forms, the repair record (proxied with the user's key), and the customer's status."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from console import access
from console.adapters.services import Api
from console.entrypoints.web import (
    after,
    console_of,
    form_lists,
    form_of,
    new_key,
    now_china_local,
    problem,
    redirect,
    render,
    require,
)
from console.session import User
from shared.contracts.ids import CaseId, is_case_id
from shared.logging import get_logger

log = get_logger(__name__)

router = APIRouter(include_in_schema=False)
CaseIdPath = Annotated[CaseId, Path()]
SafeId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][\w\-.]{0,60}$")]
PAGE_SIZE = 50


def _items(api: Api) -> list[dict[str, Any]]:
    data = api.json({})
    return data.get("items", []) if isinstance(data, dict) else []


# ------------------------------------------------------------------------------------ the hotline


async def _open_cases(request: Request, user: User, phone: str, serial_no: str) -> dict[str, Any]:
    """Open cases for this phone and for this serial number, as dispatch lets this user see them."""
    d = console_of(request).services.dispatch
    calls: dict[str, Any] = {}
    if phone:
        calls["phone"] = d.get("/v1/cases", key=user.key, params={"phone": phone, "open": "true"})
    if serial_no:
        calls["serial_no"] = d.get("/v1/cases", key=user.key, params={"serial_no": serial_no, "open": "true"})
    results = dict(zip(calls, await asyncio.gather(*calls.values()), strict=True))
    out: dict[str, Any] = {"asked": bool(calls)}
    for name, api in results.items():
        out[name] = {
            "ok": api.ok,
            "items": _items(api),
            "status": api.status,
            "error": None if api.ok else problem(api)[0],
        }
    return out


def _hotline_values(form: dict[str, str] | None = None) -> dict[str, str]:
    values = {
        "caller_name": "",
        "phone": "",
        "called_at": now_china_local(),
        "transcript": "",
        "address": "",
        "model": "",
        "serial_no": "",
        "idempotency_key": new_key("call"),
    }
    return values | {k: v for k, v in (form or {}).items() if k in values}


@router.get("/hotline", response_class=HTMLResponse)
async def hotline_page(request: Request) -> Response:
    user = require(request, access.HOTLINE_DESK)
    return render(
        request, "hotline.html", {"values": _hotline_values(), "found": {"asked": False}}, user=user
    )


@router.post("/hotline/open-cases", response_class=HTMLResponse)
async def hotline_lookup(request: Request) -> Response:
    """The open-cases panel alone, fetched by the page while the caller is still on the line."""
    user = require(request, access.HOTLINE_DESK)
    form = await form_of(request)
    found = await _open_cases(request, user, form.get("phone", ""), form.get("serial_no", ""))
    return render(request, "_open_cases.html", {"found": found}, user=user)


@router.post("/hotline", response_class=HTMLResponse)
async def hotline_submit(request: Request) -> Response:
    user = require(request, access.HOTLINE_DESK)
    form = await form_of(request)
    values = _hotline_values(form)
    found = await _open_cases(request, user, values["phone"], values["serial_no"])
    if form.get("action") == "lookup":
        return render(request, "hotline.html", {"values": values, "found": found}, user=user)
    body: dict[str, Any] = {
        "caller_name": values["caller_name"],
        "phone": values["phone"],
        "called_at": values["called_at"],
        "transcript": values["transcript"],
        "agent_id": user.id,
    }
    if values["address"]:
        body["address"] = values["address"]
    product = {k: values[k] for k in ("model", "serial_no") if values[k]}
    if product:
        body["product"] = product
    api = await console_of(request).services.intake.post(
        "/v1/complaints/hotline",
        key=user.key,
        json=body,
        headers={"Idempotency-Key": values["idempotency_key"]},
    )
    if not api.ok:
        message, items = problem(api)
        return render(
            request,
            "hotline.html",
            {"values": values, "found": found, "error": message, "error_items": items},
            status=api.status,
            user=user,
        )
    # A fresh form (and key) for the next call; the one just taken is shown with its case number.
    fresh = _hotline_values()
    return render(
        request,
        "hotline.html",
        {
            "values": fresh,
            "found": found,
            "accepted": api.data,
            "replayed": api.headers.get("idempotent-replayed") == "true",
        },
        user=user,
    )


# ------------------------------------------------------------------------------------ lists and the board


@router.get("/triage", response_class=HTMLResponse)
async def triage_board(request: Request) -> Response:
    user = require(request, access.BOARD_READERS)
    d = console_of(request).services.dispatch
    k = user.key
    proposed, unassigned, breached, watched, open_, roster = await asyncio.gather(
        d.get("/v1/cases", key=k, params={"proposed": "true", "open": "true", "page_size": PAGE_SIZE}),
        d.get("/v1/cases", key=k, params={"unassigned": "true", "open": "true", "page_size": PAGE_SIZE}),
        d.get("/v1/cases", key=k, params={"breached": "true", "open": "true", "page_size": PAGE_SIZE}),
        d.get("/v1/cases", key=k, params={"watched": "true", "open": "true", "page_size": PAGE_SIZE}),
        d.get("/v1/cases", key=k, params={"open": "true", "page_size": PAGE_SIZE}),
        d.get("/v1/specialists", key=k),
    )
    specialists = _items(roster)
    # A proposal is also unassigned: it shows once, in the column where the manager confirms it.
    waiting = {c["case_id"] for c in _items(proposed)}
    unassigned_only = unassigned
    if unassigned.ok:
        kept = [c for c in _items(unassigned) if c["case_id"] not in waiting]
        left_out = len(_items(unassigned)) - len(kept)
        unassigned_only = Api(
            unassigned.status,
            (unassigned.data or {})
            | {"items": kept, "total": (unassigned.data or {}).get("total", 0) - left_out},
        )
    return render(
        request,
        "triage.html",
        {
            "columns": [
                ("proposed", "待确认分派", "Proposals to confirm", proposed),
                ("unassigned", "待分派", "New / unassigned", unassigned_only),
                ("breached", "超时 / 已升级", "Breaching targets / escalated", breached),
                ("watched", "网络投诉全程跟进", "Watch list (online, to closure)", watched),
                ("open", "全部未结", "All open", open_),
            ],
            "specialists": specialists,
            "errors": [
                problem(a)[0] for a in (proposed, unassigned, breached, watched, open_, roster) if not a.ok
            ],
            "items": _items,
        },
        user=user,
    )


@router.get("/my", response_class=HTMLResponse)
async def my_cases(request: Request) -> Response:
    user = require(request, ("specialist", "engineering"))
    d = console_of(request).services.dispatch
    mine, due = await asyncio.gather(
        d.get(
            "/v1/cases", key=user.key, params={"assignee": user.id, "open": "true", "page_size": PAGE_SIZE}
        ),
        d.get("/v1/follow-ups/due", key=user.key, params={"within_days": 7}),
    )
    return render(
        request,
        "my_cases.html",
        {
            "cases": _items(mine),
            "total": (mine.json({}) or {}).get("total", 0),
            "due": _items(due),
            "errors": [problem(a)[0] for a in (mine, due) if not a.ok],
        },
        user=user,
    )


FILTERS = ("status", "channel", "category", "department", "assignee", "region")


@router.get("/cases", response_class=HTMLResponse)
async def case_list(request: Request) -> Response:
    user = require(request, access.CASE_READERS)
    q = request.query_params
    params: dict[str, Any] = {name: q.get(name) for name in FILTERS if q.get(name)}
    if q.get("open", "true" if not user.is_channel else "") == "true":
        params["open"] = "true"
    if q.get("breached") == "true":
        params["breached"] = "true"
    page = int(q["page"]) if q.get("page", "").isdigit() and int(q["page"]) > 0 else 1
    params |= {"page": page, "page_size": PAGE_SIZE}
    api = await console_of(request).services.dispatch.get("/v1/cases", key=user.key, params=params)
    data = api.json({}) or {}
    total = data.get("total", 0)
    base = {k: v for k, v in params.items() if k not in ("page", "page_size")}
    return render(
        request,
        "cases.html",
        {
            "cases": data.get("items", []),
            "total": total,
            "page": page,
            "params": params,
            "next_url": f"/cases?{urlencode(base | {'page': page + 1})}"
            if page * PAGE_SIZE < total
            else None,
            "prev_url": f"/cases?{urlencode(base | {'page': page - 1})}" if page > 1 else None,
            "error": None if api.ok else problem(api)[0],
        },
        user=user,
    )


# ------------------------------------------------------------------------------------ the case page


def _visible_timeline(timeline: list[dict[str, Any]], user: User) -> list[dict[str, Any]]:
    """Dispatch's timeline, without a quote's amount for anyone who may not see prices."""
    if access.sees_prices(user.role):
        return timeline
    out = []
    for entry in timeline:
        if entry.get("event_type") == "quote.issued":
            entry = entry | {"summary": "已向客户发出报价单 / quote issued to the customer"}
        out.append(entry)
    return out


async def _case_context(request: Request, user: User, case_id: str) -> dict[str, Any] | None:
    c = console_of(request)
    s, k = c.services, user.key
    case_api = await s.dispatch.get(f"/v1/cases/{case_id}", key=k)
    if case_api.status == 404:
        return None
    if not case_api.ok:
        return {"case": None, "error": problem(case_api)[0]}
    case = case_api.data
    calls: dict[str, Any] = {}
    if user.role in access.WARRANTY_READERS:
        calls["warranty"] = s.warranty.get(f"/v1/cases/{case_id}", key=k)
    if user.role in access.PARTS_READERS and user.role != "regional_manager":
        calls["parts"] = s.parts.get("/v1/parts-requests", key=k, params={"case_id": case_id})
    if access.sees_prices(user.role):
        calls["quotes"] = s.parts.get("/v1/quotes", key=k, params={"case_id": case_id})
    is_actor = user.role == "manager" or (
        user.role in access.CASE_ACTORS and user.id in (case.get("assignee"), case.get("liaison"))
    )
    # §一.2: only the quality after-sales department answers the customer and closes the case.
    can_answer = user.role == "manager" or (user.role == "specialist" and case.get("answered_by") == user.id)
    if user.role == "manager":
        calls["roster"] = s.dispatch.get("/v1/specialists", key=k)
    if user.role in access.MESSAGE_READERS:
        calls["messages"] = s.notifications.get("/v1/messages", key=k, params={"case_id": case_id})
    if user.role == "specialist" and is_actor:
        calls["prices"] = s.parts.get("/v1/price-lists", key=k)
        calls["stock"] = s.parts.get("/v1/stock", key=k)
    if not user.is_channel:
        calls["remedies"] = s.warranty.get(f"/v1/cases/{case_id}/remedies", key=k)
    calls["attachments"] = s.warranty.get(f"/v1/cases/{case_id}/attachments", key=k)
    results = dict(zip(calls, await asyncio.gather(*calls.values()), strict=True))
    warranty = results["warranty"].json() if "warranty" in results else None
    price_items: dict[str, Any] = {}
    if "prices" in results and (prices := results["prices"].json()):
        current = next(
            (v for v in prices.get("versions", []) if v["version"] == prices.get("in_effect")), None
        )
        price_items = (current or {}).get("items", {})
    stock = {i["item"]: i for i in _items(results["stock"])} if "stock" in results else {}
    roster = [
        sp
        for sp in _items(results.get("roster", Api(204)))
        if sp.get("active") and sp.get("department") == case.get("department")
    ]
    remedies = results["remedies"].json({}) if "remedies" in results else {}
    # Warranty records remedies for the case's specialist (or the manager). A remedy's quote is drawn for
    # the assigned specialist alone, whoever else parts serves it to; its refund also for finance, who pays it.
    remedy_actor = user.role == "manager" or (user.role == "specialist" and case.get("assignee") == user.id)
    remedy_prices = user.role == "specialist" and case.get("assignee") == user.id
    refund_visible = access.sees_refund(user.role, user.id, case.get("assignee"))
    quotes = _items(results["quotes"]) if "quotes" in results else []
    remedy_items = remedies.get("items", []) if isinstance(remedies, dict) else []
    latest_event = ((warranty or {}).get("latest_decision") or {}).get("event_id")
    # The customer chose once for this decision and it was carried out: no second choice is offered.
    remedy_done = any(
        r.get("status") == "completed" and latest_event in (None, r.get("decision_event_id"))
        for r in remedy_items
    )
    return {
        "remedies": remedy_items,
        "remedy_done": remedy_done,
        "remedy_choices": remedies.get("choices", []) if isinstance(remedies, dict) else [],
        "remedies_error": None
        if "remedies" not in results or results["remedies"].ok
        else problem(results["remedies"])[0],
        "remedy_actor": remedy_actor,
        "remedy_prices": remedy_prices,
        "refund_visible": refund_visible,
        "remedy_quotes": {q["remedy_id"]: q for q in quotes if q.get("remedy_id")} if remedy_prices else {},
        "remedy_key": new_key("remedy"),
        "attachments": _items(results["attachments"]),
        "attachments_error": None if results["attachments"].ok else problem(results["attachments"])[0],
        "attach_key": new_key("attach"),
        "case": case,
        "case_id": case_id,
        "timeline": _visible_timeline(case.get("timeline", []), user),
        "warranty": warranty,
        # dispatch keeps the whole decision (each reason in Chinese and English); warranty's own record
        # names the reasons by code only, so it is the fallback until dispatch has the decision.
        "decision": case.get("warranty") or (warranty or {}).get("latest_decision"),
        "parts": _items(results["parts"]) if "parts" in results else None,
        # A remedy's quote is the assigned specialist's alone on this page (other price readers see the rest).
        "quotes": [q for q in quotes if remedy_prices or not q.get("remedy_id")]
        if "quotes" in results
        else None,
        "roster": roster,
        "price_items": price_items,
        "stock": stock,
        "is_actor": is_actor,
        "can_answer": can_answer,
        "can_evidence": user.role == "manager" or (user.role in access.WARRANTY_READERS and is_actor),
        "can_quote": user.role == "specialist" and is_actor,
        "record_reader": user.role in ("specialist", "manager", "finance", "engineering", "regional_manager"),
        "reply_key": new_key("reply"),
        "messages": _items(results["messages"]) if "messages" in results else None,
        "can_reopen": case.get("status") in ("closed", "followed_up")
        and user.role in access.REOPENERS
        and (user.role != "specialist" or case.get("answered_by") == user.id),
    }


@router.get("/cases/{case_id}", response_class=HTMLResponse)
async def case_page(request: Request, case_id: CaseIdPath) -> Response:
    user = require(request, access.CASE_READERS)
    ctx = await _case_context(request, user, case_id)
    if ctx is None:
        return render(request, "not_found.html", {"what": case_id}, status=404, user=user)
    return render(request, "case.html", ctx, user=user)


@router.get("/cases/{case_id}/live-region", response_class=HTMLResponse)
async def case_live_region(request: Request, case_id: CaseIdPath) -> Response:
    """The part of the case page that changes by itself (status, warranty, parts, replies, timeline)."""
    user = require(request, access.CASE_READERS)
    ctx = await _case_context(request, user, case_id)
    if ctx is None:
        return HTMLResponse("", status_code=404)
    return render(request, "_case_live.html", ctx, user=user)


@router.get("/cases/{case_id}/live")
async def case_live(request: Request, case_id: CaseIdPath) -> Response:
    """Server-sent events: each event about this case as the console's Kafka feed sees it."""
    user = require(request, access.CASE_READERS)
    c = console_of(request)
    check = await c.services.dispatch.get(f"/v1/cases/{case_id}", key=user.key)
    if not check.ok:  # only a case this user may read is streamed
        return Response(status_code=404 if check.status in (403, 404) else check.status)
    feed, settings = c.feed, c.settings
    detailed = not user.is_channel  # a dealer is told only that something changed

    async def stream() -> AsyncIterator[str]:
        queue = feed.watch(case_id)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + settings.sse_max_stream_s
        try:
            yield "retry: 3000\n\n"
            yield f"event: ready\ndata: {json.dumps({'live': feed.ready.is_set()})}\n\n"
            while (left := deadline - loop.time()) > 0:
                try:
                    event = await asyncio.wait_for(queue.get(), timeout=min(settings.sse_keepalive_s, left))
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                if event is None:
                    break
                data = event.as_dict() if detailed else {"event_id": event.event_id}
                yield f"id: {event.event_id}\nevent: case\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
        finally:
            feed.unwatch(case_id, queue)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


# ------------------------------------------------------------------------------------ acting on a case


def _case_url(case_id: str) -> str:
    return f"/cases/{case_id}"


@router.post("/cases/{case_id}/assignment")
async def post_assignment(request: Request, case_id: CaseIdPath) -> Response:
    user = require(request, ("manager",))
    form = await form_of(request)
    api = await console_of(request).services.dispatch.post(
        f"/v1/cases/{case_id}/assignment",
        key=user.key,
        json={"specialist_id": form.get("specialist_id", ""), "reason": form.get("reason", "")},
    )
    back = form.get("back") if form.get("back") in ("/triage",) else _case_url(case_id)
    return after(
        api, back, f"已分派给 {form.get('specialist_id')}", f"assigned to {form.get('specialist_id')}"
    )


@router.post("/cases/{case_id}/confirmation")
async def post_confirmation(request: Request, case_id: CaseIdPath) -> Response:
    """The manager forwards a proposed case: to the proposed specialist, or to another with a reason."""
    user = require(request, ("manager",))
    form = await form_of(request)
    body = {k: form[k] for k in ("specialist_id", "reason") if form.get(k)}
    if body.get("specialist_id") == form.get("proposed"):
        body.pop("specialist_id")  # the proposal itself: confirmed as it stands
    api = await console_of(request).services.dispatch.post(
        f"/v1/cases/{case_id}/proposal/confirmation",
        key=user.key,
        json=body,
        headers={"Idempotency-Key": form.get("idempotency_key") or new_key("confirm")},
    )
    who = form.get("specialist_id") or form.get("proposed") or ""
    return after(api, "/triage", f"已确认分派给 {who}", f"forwarded to {who}")


@router.post("/cases/{case_id}/replies")
async def post_reply(request: Request, case_id: CaseIdPath) -> Response:
    user = require(request, access.CASE_ACTORS)
    form = await form_of(request)
    key = form.get("idempotency_key") or new_key("reply")
    api = await console_of(request).services.dispatch.post(
        f"/v1/cases/{case_id}/replies",
        key=user.key,
        json={"message": form.get("message", ""), "via": form.get("via", "phone")},
        headers={"Idempotency-Key": key},
    )
    return after(api, _case_url(case_id), "已答复客户", "reply sent to the customer")


@router.post("/cases/{case_id}/closure")
async def post_closure(request: Request, case_id: CaseIdPath) -> Response:
    user = require(request, access.CASE_ACTORS)
    form = await form_of(request)
    body = {k: form[k] for k in ("resolution", "outcome", "override_reason") if form.get(k)}
    api = await console_of(request).services.dispatch.post(
        f"/v1/cases/{case_id}/closure", key=user.key, json=body
    )
    return after(api, _case_url(case_id), "已结案", "case closed")


@router.post("/cases/{case_id}/reopening")
async def post_reopening(request: Request, case_id: CaseIdPath) -> Response:
    user = require(request, access.REOPENERS)
    form = await form_of(request)
    api = await console_of(request).services.dispatch.post(
        f"/v1/cases/{case_id}/reopening",
        key=user.key,
        json={"reason": form.get("reason", "")},
        headers={"Idempotency-Key": form.get("idempotency_key") or new_key("reopen")},
    )
    return after(api, _case_url(case_id), "案件已重新打开", "case reopened")


@router.post("/cases/{case_id}/follow-ups")
async def post_follow_up(request: Request, case_id: CaseIdPath) -> Response:
    user = require(request, access.CASE_ACTORS)
    form = await form_of(request)
    body = {
        "visited_on": form.get("visited_on", ""),
        "satisfaction": form.get("satisfaction", ""),
        "notes": form.get("notes", ""),
    }
    api = await console_of(request).services.dispatch.post(
        f"/v1/cases/{case_id}/follow-ups", key=user.key, json=body
    )
    return after(api, _case_url(case_id), "已记录回访", "follow-up visit recorded")


@router.post("/cases/{case_id}/evidence")
async def post_evidence(request: Request, case_id: CaseIdPath) -> Response:
    user = require(request, access.WARRANTY_READERS)
    lists = await form_lists(request)
    form = {k: v[-1] for k, v in lists.items()}
    body: dict[str, Any] = {"note": form.get("note", "")}
    # Files cited as evidence: an invoice or a service card proves itself, a photo the cause (R-EV-1).
    if cited := [a for a in lists.get("attachments", []) if a]:
        body["attachments"] = cited
    if form.get("reported_on"):
        body["reported_on"] = form["reported_on"]
    if form.get("confirmation_via"):
        body["confirmation"] = {
            "via": form["confirmation_via"],
            "with_customer": form.get("with_customer") == "on",
            "with_dealer": form.get("with_dealer") == "on",
        }
    documents = {k: form[k] for k in ("invoice_no", "invoice_date", "purchase_date") if form.get(k)}
    if form.get("service_card_stamped") in ("yes", "no"):
        documents["service_card_stamped"] = form["service_card_stamped"] == "yes"
    if documents:
        body["documents"] = documents
    for name in ("cause", "part", "fault_kind"):
        if form.get(name):
            body[name] = form[name]
    api = await console_of(request).services.warranty.post(
        f"/v1/cases/{case_id}/evidence", key=user.key, json=body
    )
    return after(api, _case_url(case_id), "证据已提交，已重新判定", "evidence added; decided again")


@router.post("/cases/{case_id}/quotes")
async def post_quote(request: Request, case_id: CaseIdPath) -> Response:
    user = require(request, ("specialist",))
    form = await form_lists(request)
    items = [
        {"item": i, "quantity": q}
        for i, q in zip(form.get("item", []), form.get("quantity", []), strict=False)
        if i and q
    ]
    api = await console_of(request).services.parts.post(
        "/v1/quotes", key=user.key, json={"case_id": case_id, "items": items}
    )
    if not api.ok:
        return after(api, _case_url(case_id), "", "")
    data = api.data or {}
    quote_ = data.get("quote")
    parts = []
    if quote_:
        parts.append(
            f"报价单 {quote_['quote_id']} 已发出，合计 {quote_['total']} 元 / quote {quote_['quote_id']} "
            f"issued, total CNY {quote_['total']}"
        )
    if data.get("customer_told"):
        parts.append(data["customer_told"])
    return redirect(_case_url(case_id), flash=("ok", "；".join(parts) or "—"))


# ------------------------------------------------------------------------------------ the repair record


@router.get("/v1/parts-requests/{request_id}/repair-record", response_class=HTMLResponse)
async def repair_record(request: Request, request_id: SafeId) -> Response:
    """Parts' printable record, fetched with the user's key (its PDF link resolves here too)."""
    return await _proxy_record(request, request_id, "")


@router.get("/v1/parts-requests/{request_id}/repair-record.pdf")
async def repair_record_pdf(request: Request, request_id: SafeId) -> Response:
    return await _proxy_record(request, request_id, ".pdf")


async def _proxy_record(request: Request, request_id: str, suffix: str) -> Response:
    user = require(request, access.REPAIR_RECORD_READERS)
    api = await console_of(request).services.parts.get(
        f"/v1/parts-requests/{quote(request_id, safe='')}/repair-record{suffix}", key=user.key
    )
    if not api.ok:
        return render(
            request,
            "not_found.html",
            {"what": request_id, "error": problem(api)[0]},
            status=api.status,
            user=user,
        )
    headers = {"Cache-Control": "no-store"}
    if disposition := api.headers.get("content-disposition"):
        headers["Content-Disposition"] = disposition
    return Response(api.raw, media_type=api.content_type or "text/html", headers=headers)


# ------------------------------------------------------------------------------------ the customer


LAST4 = re.compile(r"^\d{4}$")


@router.get("/status", response_class=HTMLResponse)
async def status_form(request: Request) -> Response:
    return render(request, "status.html", public_ctx(request, request.query_params.get("case_id", "")))


@router.post("/status", response_class=HTMLResponse)
async def status_lookup(request: Request) -> Response:
    """The customer's own view: the case number and the phone's last four digits, nothing internal.

    A POST so the digits stay out of addresses and histories.
    """
    form = await form_of(request)
    return await status_answer(request, form.get("case_id", ""), form.get("phone_last4", ""))


def public_ctx(request: Request, case_id: str = "") -> dict[str, Any]:
    settings = console_of(request).settings
    return {"values": {"case_id": case_id}, "intake_url": settings.intake_public_url}


async def public_limit(request: Request) -> bool:
    """The console's own guard on what customers send (per client address): False when over it."""
    c = console_of(request)
    try:
        await c.limiter.hit(
            c.settings.public_status_rate_limit, "status", request.client.host if request.client else "?"
        )
    except HTTPException:
        return False
    return True


async def status_answer(
    request: Request, case_id: str, last4: str, extra: dict[str, Any] | None = None, *, status: int = 200
) -> Response:
    """The status page for this case number and these four digits (also after the customer added a file)."""
    c = console_of(request)
    case_id, last4 = case_id.strip().upper(), last4.strip()
    ctx = public_ctx(request, case_id) | (extra or {})
    if not is_case_id(case_id) or not LAST4.match(last4):
        return render(request, "status.html", ctx | {"error": "format"}, status=422)
    if not await public_limit(request):
        return render(request, "status.html", ctx | {"error": "busy"}, status=429)
    client_ip = request.client.host if request.client else "?"
    api = await c.services.dispatch.call(
        "GET",
        f"/v1/public/cases/{case_id}",
        key=None,
        params={"phone_last4": last4},
        headers={"X-Forwarded-For": client_ip},
    )
    if api.status == 404:
        return render(request, "status.html", ctx | {"error": "not_found"}, status=404)
    if not api.ok:
        return render(
            request,
            "status.html",
            ctx | {"error": "busy" if api.status == 429 else "unavailable"},
            status=api.status,
        )
    # The four digits go back into the page's own upload form (never into an address).
    return render(request, "status.html", ctx | {"result": api.data, "last4": last4}, status=status)
