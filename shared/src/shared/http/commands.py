"""What every command endpoint shares: the Idempotency-Key header and the answers to the unit of
work's refusals (shared.unit_of_work), the same in every service."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from shared.http.app import problem
from shared.http.auth import Principal
from shared.mongo import ConcurrentChange
from shared.unit_of_work import ChangeKey, IdempotencyConflict, NotFound

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="Any unique string per intended change (a UUID): a retry with the same key and body "
        "changes nothing twice and answers as the first time; the same key with another body is a 409.",
    ),
]


def change_key(principal: Principal, key: str | None, *, action: str, body: Any = None) -> ChangeKey | None:
    """The unit-of-work key of a request: the caller's Idempotency-Key, scoped to the caller, and the
    request (action and body) it was first used with."""
    if key is None:
        return None
    content = body.model_dump(mode="json") if isinstance(body, BaseModel) else body
    return ChangeKey.of_request(caller=principal.id, key=key, request={"action": action, "body": content})


def install_change_errors(app: FastAPI) -> None:
    """404, 409 and 503 for what the unit of work refuses, with a message a caller can act on."""

    async def not_found(_request: Request, exc: Exception) -> JSONResponse:
        return problem(404, str(exc))

    async def conflict(_request: Request, exc: Exception) -> JSONResponse:
        return problem(409, str(exc))

    async def busy(_request: Request, exc: Exception) -> JSONResponse:
        return problem(503, f"{exc}; nothing was changed, retry", headers={"Retry-After": "1"})

    app.add_exception_handler(NotFound, not_found)
    app.add_exception_handler(IdempotencyConflict, conflict)
    app.add_exception_handler(ConcurrentChange, busy)
