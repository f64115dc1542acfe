"""Intake's HTTP API: one endpoint per channel, the public complaint page and product QR codes."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

import segno
from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Query, Request, status
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel

from intake import bootstrap
from intake.config import IntakeSettings
from intake.domain.channels import (
    ChannelInput,
    DealerTicket,
    HotlineCall,
    OnlineSubmission,
    RegionalManagerReport,
)
from intake.handlers import IdempotencyConflict, StoreUnavailable, accept_complaint
from shared.http.app import JsonRoute
from shared.http.auth import Principal, api_key_header, authorize
from shared.kafka.publisher import PublishFailed
from shared.reference import normalise_serial
from shared.service import service_app

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=128,
        pattern=r"^[\x21-\x7e]+$",
        description="Client-chosen key: the same key and body always return the same case id.",
    ),
]


class ComplaintAccepted(BaseModel):
    case_id: str
    status: Literal["received"] = "received"


def _intake(request: Request) -> bootstrap.Intake:
    return request.app.state.runtime.components["intake"]


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def _online_guard(request: Request) -> None:
    """The public form has no key: only the per-address limits protect it."""
    intake = _intake(request)
    ip = _client_ip(request)
    await intake.limiter.hit(intake.settings.rate_limit_per_ip, "ip", ip)
    await intake.limiter.hit(intake.settings.rate_limit_online_per_ip, "online", ip)


def _channel_principal(*roles: str) -> Any:
    """Per-address limit, then the key (401/403), then the per-key limit: one dependency, one pass."""

    async def dependency(
        request: Request, api_key: Annotated[str | None, Depends(api_key_header)]
    ) -> Principal:
        intake = _intake(request)
        await intake.limiter.hit(intake.settings.rate_limit_per_ip, "ip", _client_ip(request))
        principal = authorize(request, api_key, roles)
        await intake.limiter.hit(intake.settings.rate_limit_per_key, "key", principal.role, principal.id)
        return principal

    return Depends(dependency)


async def _accept(request: Request, submission: ChannelInput, idempotency_key: str | None) -> JSONResponse:
    intake = _intake(request)
    original = await request.json()  # the one parse FastAPI already made (JsonRoute), not a second one
    try:
        accepted = await accept_complaint(
            submission,
            original=original,
            idempotency_key=idempotency_key,
            submissions=intake.submissions,
            publisher=intake.publisher,
        )
    except IdempotencyConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from exc
    except (PublishFailed, StoreUnavailable) as exc:
        what = "Kafka" if isinstance(exc, PublishFailed) else "the submission store"
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail=f"complaint not accepted: {what} is unavailable; retry with the same Idempotency-Key",
            headers={"Retry-After": "5"},
        ) from exc
    headers = {"Idempotent-Replayed": "true"} if accepted.replayed else {}
    return JSONResponse(
        ComplaintAccepted(case_id=accepted.case_id).model_dump(),
        status_code=status.HTTP_202_ACCEPTED,
        headers=headers,
    )


ACCEPTED_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {"model": ComplaintAccepted, "description": "Durably in Kafka; the case id to quote from now on."},
    401: {"description": "No or unknown X-API-Key."},
    403: {"description": "The key may not post for this dealer, manager or channel."},
    409: {"description": "Idempotency key (or dealer ticket id) already used with a different body."},
    413: {"description": "Body too large."},
    422: {"description": "A field is missing, unknown, too long or malformed; `errors` names it."},
    429: {"description": "Rate limit exceeded; see Retry-After."},
    503: {"description": "Kafka or the store is unavailable; nothing was accepted. Retry with the same key."},
}

complaints = APIRouter(prefix="/v1/complaints", tags=["complaints"], route_class=JsonRoute)


@complaints.post(
    "/hotline", status_code=202, responses=ACCEPTED_RESPONSES, summary="Front desk: a call to 400-832-0089"
)
async def post_hotline(
    request: Request,
    body: HotlineCall,
    principal: Annotated[Principal, _channel_principal("hotline", "front_desk")],
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    return await _accept(request, body, idempotency_key)


@complaints.post(
    "/regional-manager", status_code=202, responses=ACCEPTED_RESPONSES, summary="A regional manager's report"
)
async def post_regional_manager(
    request: Request,
    body: RegionalManagerReport,
    principal: Annotated[Principal, _channel_principal("regional_manager")],
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    if body.manager_id != principal.manager_id:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"this key belongs to manager {principal.manager_id}, not {body.manager_id}",
        )
    return await _accept(request, body, idempotency_key)


@complaints.post(
    "/dealer", status_code=202, responses=ACCEPTED_RESPONSES, summary="A dealer's after-sales ticket"
)
async def post_dealer(
    request: Request,
    body: DealerTicket,
    principal: Annotated[Principal, _channel_principal("dealer")],
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    if body.dealer_code != principal.dealer_code:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"this key belongs to dealer {principal.dealer_code}, not {body.dealer_code}",
        )
    # The ticket id is the dealer's natural key; a header key would only duplicate it.
    return await _accept(request, body, None)


@complaints.post(
    "/online",
    status_code=202,
    responses=ACCEPTED_RESPONSES,
    summary="The public complaint form (no key)",
    dependencies=[Depends(_online_guard)],
)
async def post_online(
    request: Request, body: OnlineSubmission, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    return await _accept(request, body, idempotency_key)


pages = APIRouter(tags=["public page"], route_class=JsonRoute)


@pages.get("/", response_class=HTMLResponse, summary="The public complaint page (Chinese first)")
async def complaint_page(
    request: Request,
    serial_no: Annotated[str | None, Query(max_length=40)] = None,
    lang: Annotated[Literal["zh", "en"], Query()] = "zh",
) -> HTMLResponse:
    try:
        serial = normalise_serial(serial_no) if serial_no else ""
    except ValueError:
        serial = ""  # a mangled QR link still opens the form, just without the serial
    activation = _intake(request).settings.activation_url
    if serial:
        activation = f"{activation}?{urlencode({'serial_no': serial})}"
    return TEMPLATES.TemplateResponse(
        request, "complaint_form.html", {"serial_no": serial, "lang": lang, "activation_url": activation}
    )


@pages.get(
    "/v1/qr/{serial_no}",
    summary="QR code that opens the complaint page with this serial number filled in",
    responses={200: {"content": {"image/png": {}, "image/svg+xml": {}}}},
)
async def product_qr(
    request: Request,
    serial_no: Annotated[str, PathParam(max_length=40)],
    format: Annotated[Literal["png", "svg"] | None, Query(description="png (default) or svg")] = None,
    scale: Annotated[int, Query(ge=1, le=40)] = 8,
) -> Response:
    try:
        serial = normalise_serial(serial_no)
    except ValueError as exc:
        raise HTTPException(422, detail=f"serial_no: {exc}") from exc
    if format is None:
        format = "svg" if "image/svg+xml" in request.headers.get("accept", "") else "png"
    url = f"{_intake(request).settings.public_url.rstrip('/')}/?{urlencode({'serial_no': serial})}"
    qr = segno.make(url, error="m")
    out = io.BytesIO()
    if format == "svg":
        qr.save(out, kind="svg", scale=scale, title=f"英德售后投诉 {serial}")
        media = "image/svg+xml"
    else:
        qr.save(out, kind="png", scale=scale)
        media = "image/png"
    return Response(
        out.getvalue(),
        media_type=media,
        headers={"Cache-Control": "public, max-age=86400", "X-QR-Target": url},
    )


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or IntakeSettings()
    return service_app(
        settings,
        title="英德售后 · Intake",
        description=(
            "Complaints from the four channels (400-832-0089 hotline, regional managers, dealers, the online "
            "form), normalised into `complaint.received`. A 202 means the complaint is durably in Kafka."
        ),
        routers=[complaints, pages],
        wire=bootstrap.wire,
        max_body_bytes=settings.max_body_bytes,
    )
