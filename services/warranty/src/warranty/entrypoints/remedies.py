"""Remedies on a case (R-WA-8): the specialist records the customer's choice, then each step to its end.
The refund is shown to finance and the specialist only; everyone who may read the case sees the rest."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Request, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.contracts.ids import CaseId as CaseNumber
from shared.http.app import JsonRoute, invalid
from shared.http.auth import Principal, require_roles
from shared.http.commands import IdempotencyKey, change_key
from shared.periods import china_date
from shared.reference import normalise_serial
from warranty.domain.access import can_act, can_read, sees_prices
from warranty.domain.facts import CaseFacts
from warranty.domain.remedy import Remedy, RemedyKind, RemedyRefused, StepName
from warranty.domain.unit import UnitRefused
from warranty.handlers import RemedyInvalid, Warranty, cancel_remedy, choose_remedy, progress_remedy

CaseId = Annotated[CaseNumber, Path(description="The case number, YD-…")]
RemedyId = Annotated[str, Path(pattern=r"^RM-[0-9A-Z]{10}$")]
Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]

router = APIRouter(tags=["remedies (R-WA-8)"], route_class=JsonRoute)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChoiceIn(Body):
    remedy: RemedyKind = Field(description="One of the options the decision offers (or its one remedy).")
    via: Literal["phone", "wechat", "on_site", "sms"] | None = Field(
        default=None, description="How the customer chose."
    )
    note: Annotated[str, StringConstraints(max_length=1000)] = ""


class StepIn(Body):
    step: StepName
    on: date | None = Field(default=None, description="The day it happened; today when absent.")
    new_serial: Annotated[str, StringConstraints(max_length=40)] | None = Field(
        default=None, description="new_unit_issued: the exchange's unit (same model, an unused serial)."
    )
    amount: Decimal | None = Field(
        default=None, ge=0, description="refunded: the invoice price (confidential)."
    )
    via: Literal["phone", "wechat", "on_site", "sms", "signed_form"] | None = Field(
        default=None, description="customer_agreed: how the customer agreed to the quote."
    )
    carrier: Short | None = None
    tracking_no: Short | None = None
    note: Annotated[str, StringConstraints(max_length=1000)] | None = None


class CancelIn(Body):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=1000)]


def _w(request: Request) -> Warranty:
    return request.app.state.runtime.components["warranty"]


def remedy_view(r: Remedy, principal: Principal, facts: CaseFacts) -> dict[str, Any]:
    data = r.model_dump(mode="json") | {"pending": r.pending}
    if not sees_prices(principal, facts):
        data.pop("refund_amount")
        for s in data["steps"]:
            s["detail"].pop("amount", None)
    return data


async def _case(request: Request, case_id: str, principal: Principal) -> CaseFacts:
    facts = await _w(request).cases.get(case_id)
    if facts is None or not can_read(principal, facts):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"case {case_id} not found")
    return facts


def _actor(principal: Principal, facts: CaseFacts) -> None:
    if not can_act(principal, facts):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"only the case's specialist ({facts.specialist_id}) or the manager records remedies",
        )


@router.get(
    "/v1/cases/{case_id}/remedies",
    summary="A case's remedies, each with its steps (anyone who may read the case)",
)
async def list_remedies(
    request: Request, case_id: CaseId, principal: Annotated[Principal, require_roles()]
) -> dict[str, Any]:
    facts = await _case(request, case_id, principal)
    remedies = await _w(request).remedies.find({"case_id": case_id}, sort=[("chosen_at", 1)])
    decision = facts.decisions[-1] if facts.decisions else None
    from warranty.domain.remedy import remedy_choices

    return {
        "items": [remedy_view(r, principal, facts) for r in remedies],
        "choices": remedy_choices(decision) if decision and decision["decision"] != "needs_evidence" else [],
    }


@router.post(
    "/v1/cases/{case_id}/remedies",
    status_code=201,
    summary="Record the customer's choice among the decision's options: the remedy starts",
)
async def post_remedy(
    request: Request,
    case_id: CaseId,
    body: ChoiceIn,
    principal: Annotated[Principal, require_roles("specialist", "manager")],
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    facts = await _case(request, case_id, principal)
    _actor(principal, facts)
    try:
        remedy = await choose_remedy(
            _w(request),
            facts,
            body.remedy,
            by=principal.id,
            via=body.via,
            note=body.note,
            key=change_key(principal, idempotency_key, action=f"remedy {case_id}", body=body),
        )
    except RemedyInvalid as exc:
        raise invalid(exc.field, exc.message) from exc
    except RemedyRefused as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from exc
    return remedy_view(remedy, principal, facts)


async def _remedy(request: Request, remedy_id: str, principal: Principal) -> tuple[Remedy, CaseFacts]:
    remedy = await _w(request).remedies.get(remedy_id)
    if remedy is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"remedy {remedy_id} not found")
    facts = await _case(request, remedy.case_id, principal)
    _actor(principal, facts)
    return remedy, facts


@router.post(
    "/v1/remedies/{remedy_id}/steps",
    summary="One step of a remedy (goods received, refunded, new unit "
    "issued, customer agreed, shipped, repaired…); the last completes it",
)
async def post_step(
    request: Request,
    remedy_id: RemedyId,
    body: StepIn,
    principal: Annotated[Principal, require_roles("specialist", "manager")],
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    w = _w(request)
    remedy, facts = await _remedy(request, remedy_id, principal)
    today = china_date(w.clock())
    on = body.on or today
    if on > today:
        raise invalid("on", "the day is in the future")
    detail: dict[str, Any] = {
        k: v for k, v in body.model_dump(exclude={"step", "on"}).items() if v is not None
    }
    if body.new_serial:
        try:
            detail["new_serial"] = normalise_serial(body.new_serial)
        except ValueError as exc:
            raise invalid("new_serial", str(exc)) from exc
    if body.step == "customer_agreed":
        if not body.via:
            raise invalid("via", "the customer's agreement names how it was given")
        detail["quote_id"] = remedy.quote_id
    if body.step == "quote_issued":
        raise invalid(
            "step", "a quote is issued in parts (POST /v1/quotes with the remedy_id); it shows here itself"
        )
    try:
        changed = await progress_remedy(
            w,
            remedy,
            body.step,
            by=principal.id,
            on=on,
            detail=detail,
            key=change_key(principal, idempotency_key, action=f"step {remedy_id}", body=body),
        )
    except RemedyInvalid as exc:
        raise invalid(exc.field, exc.message) from exc
    except (RemedyRefused, UnitRefused) as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from exc
    return remedy_view(changed, principal, facts)


@router.post(
    "/v1/remedies/{remedy_id}/cancellation", summary="Cancel a remedy not yet begun, with the reason"
)
async def post_cancel(
    request: Request,
    remedy_id: RemedyId,
    body: CancelIn,
    principal: Annotated[Principal, require_roles("specialist", "manager")],
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    _, facts = await _remedy(request, remedy_id, principal)
    try:
        changed = await cancel_remedy(
            _w(request),
            remedy_id,
            reason=body.reason,
            by=principal.id,
            key=change_key(principal, idempotency_key, action=f"cancel {remedy_id}", body=body),
        )
    except RemedyRefused as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from exc
    return remedy_view(changed, principal, facts)
