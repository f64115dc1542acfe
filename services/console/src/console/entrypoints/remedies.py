"""Remedies on the case page (R-WA-8): the customer's choice among what the decision offers, then each
step the warranty service defines, to its end; a quoted remedy's quote through parts. Warranty decides
what may happen and when (the 7/15-day windows, the order of the steps, the invoice price of a refund);
the console forwards the form with the user's key and shows the answer, a refusal in the service's words.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from console.entrypoints.web import after, console_of, form_lists, form_of, new_key, redirect, require
from shared.contracts.ids import CaseId

router = APIRouter(include_in_schema=False)
CaseIdPath = Annotated[CaseId, Path()]
RemedyIdPath = Annotated[str, Path(pattern=r"^RM-[0-9A-Z]{10}$")]
REMEDY_ACTORS = ("specialist", "manager")
# What a step form may carry on to warranty (each step uses the few it needs).
STEP_FIELDS = ("on", "new_serial", "amount", "via", "carrier", "tracking_no", "note")


def _case_url(case_id: str) -> str:
    return f"/cases/{case_id}#remedies"


@router.post("/cases/{case_id}/remedies")
async def post_choice(request: Request, case_id: CaseIdPath) -> Response:
    """The customer's choice, recorded by the case's specialist (warranty refuses anyone else)."""
    user = require(request, REMEDY_ACTORS)
    form = await form_of(request)
    body: dict[str, Any] = {"remedy": form.get("remedy", ""), "note": form.get("note", "")}
    if form.get("via"):
        body["via"] = form["via"]
    api = await console_of(request).services.warranty.post(
        f"/v1/cases/{case_id}/remedies",
        key=user.key,
        json=body,
        headers={"Idempotency-Key": form.get("idempotency_key") or new_key("remedy")},
    )
    return after(api, _case_url(case_id), "已记录客户的选择", "the customer's choice is recorded")


@router.post("/cases/{case_id}/remedies/{remedy_id}/steps")
async def post_step(request: Request, case_id: CaseIdPath, remedy_id: RemedyIdPath) -> Response:
    user = require(request, REMEDY_ACTORS)
    form = await form_of(request)
    step = form.get("step", "")
    body: dict[str, Any] = {"step": step} | {k: form[k] for k in STEP_FIELDS if form.get(k)}
    api = await console_of(request).services.warranty.post(
        f"/v1/remedies/{remedy_id}/steps",
        key=user.key,
        json=body,
        headers={"Idempotency-Key": form.get("idempotency_key") or new_key("step")},
    )
    if api.ok and (api.data or {}).get("status") == "completed":
        return redirect(
            _case_url(case_id), flash=("ok", "已记录，补救措施已全部完成 / recorded; the remedy is complete")
        )
    return after(api, _case_url(case_id), "已记录此步骤", "step recorded")


@router.post("/cases/{case_id}/remedies/{remedy_id}/cancellation")
async def post_cancellation(request: Request, case_id: CaseIdPath, remedy_id: RemedyIdPath) -> Response:
    user = require(request, REMEDY_ACTORS)
    form = await form_of(request)
    api = await console_of(request).services.warranty.post(
        f"/v1/remedies/{remedy_id}/cancellation",
        key=user.key,
        json={"reason": form.get("reason", "")},
        headers={"Idempotency-Key": form.get("idempotency_key") or new_key("cancel")},
    )
    return after(api, _case_url(case_id), "已取消此补救措施", "remedy cancelled")


@router.post("/cases/{case_id}/remedies/{remedy_id}/quote")
async def post_remedy_quote(request: Request, case_id: CaseIdPath, remedy_id: RemedyIdPath) -> Response:
    """A quoted remedy's quote (paid repair, replacement with depreciation, paid installation maintenance),
    issued by the assigned specialist through parts; warranty marks it issued when it reads quote.issued."""
    user = require(request, ("specialist",))
    form = await form_lists(request)

    def one(name: str) -> str:
        values = form.get(name) or [""]
        return values[-1]

    body: dict[str, Any] = {"case_id": case_id, "remedy_id": remedy_id}
    if one("replacement_item"):
        body["replacement_item"] = one("replacement_item")
    if parts := [p for p in form.get("part", []) if p]:
        body["parts"] = parts
    if one("labour_hours"):
        body["labour_hours"] = one("labour_hours")
    items = [
        {"item": i, "quantity": q}
        for i, q in zip(form.get("item", []), form.get("quantity", []), strict=False)
        if i and q
    ]
    if items:
        body["items"] = items
    api = await console_of(request).services.parts.post(
        "/v1/quotes",
        key=user.key,
        json=body,
        headers={"Idempotency-Key": one("idempotency_key") or new_key("rquote")},
    )
    if not api.ok:
        return after(api, _case_url(case_id), "", "")
    quote = (api.data or {}).get("quote") or {}
    return redirect(
        _case_url(case_id),
        flash=(
            "ok",
            f"报价单 {quote.get('quote_id', '')} 已出具，合计 {quote.get('total', '')} 元 / "
            f"quote {quote.get('quote_id', '')} issued, total CNY "
            f"{quote.get('total', '')}",
        ),
    )
