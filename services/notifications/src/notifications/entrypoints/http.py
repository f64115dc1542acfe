"""Notifications' HTTP API: the messages of a case and their delivery state, a failed message tried
again, and what the local adapter recorded (development, tests and the console's sent box)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, HTTPException, Path, Query, Request, status

from notifications import bootstrap
from notifications.config import NotificationsSettings
from notifications.domain.message import Message
from notifications.handlers import NotFailed, Notifications, retry_message
from shared.contracts.ids import CaseId
from shared.http.app import JsonRoute
from shared.http.auth import Principal, require_roles
from shared.http.commands import IdempotencyKey, change_key
from shared.logging import mask_phone
from shared.roles import MESSAGE_READERS, MESSAGE_RETRIERS
from shared.service import service_app

Reader = Annotated[Principal, require_roles(*MESSAGE_READERS)]
Operator = Annotated[Principal, require_roles(*MESSAGE_RETRIERS)]
MessageId = Annotated[str, Path(pattern=r"^MSG-[0-9A-F]{16}$")]


def _n(request: Request) -> Notifications:
    return request.app.state.runtime.components["notifications"]


def _masked(to: str, channel: str) -> str:
    return mask_phone(to) if channel == "sms" else f"{to[:4]}…" if to else ""


def message_view(m: Message) -> dict[str, Any]:
    """A message as staff read it: the phone masked, the source event left out."""
    data = m.model_dump(mode="json", exclude={"source_event", "to"})
    data["to"] = _masked(m.to, m.channel)
    return data


router = APIRouter(tags=["messages to the customer"], route_class=JsonRoute)


@router.get("/v1/messages", summary="Messages to customers with their delivery state (newest first)")
async def list_messages(
    request: Request,
    principal: Reader,
    case_id: Annotated[CaseId | None, Query(description="The case number, YD-…")] = None,
    state: Literal["pending", "sending", "sent", "failed"] | None = None,
) -> dict[str, Any]:
    query: dict[str, Any] = {}
    if case_id:
        query["case_id"] = case_id
    if state:
        query["state"] = state
    return {"items": [message_view(m) for m in await _n(request).repo.list(query)]}


@router.get("/v1/messages/{message_id}", summary="One message and every attempt")
async def get_message(request: Request, message_id: MessageId, principal: Reader) -> dict[str, Any]:
    m = await _n(request).messages.get(message_id)
    if m is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"message {message_id} not found")
    return message_view(m)


@router.post("/v1/messages/{message_id}/retry", summary="Operations: try a failed message again")
async def retry(
    request: Request, message_id: MessageId, principal: Operator, idempotency_key: IdempotencyKey = None
) -> dict[str, Any]:
    try:
        return message_view(
            await retry_message(
                _n(request),
                message_id,
                key=change_key(principal, idempotency_key, action=f"retry {message_id}"),
            )
        )
    except NotFailed as exc:
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail={"message": str(exc), "current_status": exc.current}
        ) from exc


@router.get(
    "/v1/local-deliveries", summary="What the local adapter recorded instead of sending (phones masked)"
)
async def local_deliveries(
    request: Request,
    principal: Reader,
    case_id: Annotated[CaseId | None, Query(description="The case number, YD-…")] = None,
) -> dict[str, Any]:
    rows = await _n(request).repo.deliveries({"case_id": case_id} if case_id else {})
    return {
        "items": [
            {
                "message_id": r["_id"],
                "case_id": r["case_id"],
                "kind": r["kind"],
                "channel": r["channel"],
                "to": _masked(r["to"], r["channel"]),
                "text": r["text"],
                "delivered_at": r["delivered_at"],
            }
            for r in rows
        ]
    }


def create_app(settings: NotificationsSettings | None = None) -> FastAPI:
    settings = settings or NotificationsSettings()
    return service_app(
        settings,
        title="英德售后 · Notifications",
        description=(
            "What is told to the customer reaches the customer (R-DS-6): replies, quotes, remedies and follow-up "
            "requests go out as SMS or WeChat template messages, once per message (the provider gets the message id "
            "as its idempotency key), retried with backoff, never as SMS at night (China time), failures "
            "dead-lettered to operations. The customer's phone is never logged."
        ),
        routers=[router],
        wire=bootstrap.wire,
    )
