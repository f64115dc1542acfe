"""The FastAPI app every service starts from: /healthz, /readyz, /metrics, limits and error shapes.

Every request is answered clearly whatever it carries: headers over their limits are a 431, a body
over its limit a 413 (announced or streamed), a JSON body is parsed once, by one parser, and what it
cannot read is a 400 or 415 naming the cause. Every 4xx and 5xx has one shape, `Problem`, declared
in the OpenAPI document of every service.
"""

from __future__ import annotations

import codecs
import email.message
import re
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared import requestid
from shared.metrics import HTTP_SECONDS

# Header limits (431): generous for browsers and API clients, far below what a server should buffer.
MAX_HEADER_COUNT = 100
MAX_HEADER_BYTES = 8 * 1024  # one header, name and value
MAX_HEADERS_TOTAL_BYTES = 32 * 1024
# Deeper than any body the services accept; the store refuses documents nested past 100 levels.
MAX_JSON_DEPTH = 32


class FieldError(BaseModel):
    field: str = Field(
        description="The field as the caller sent it: `customer.phone`, `page`, `Idempotency-Key`."
    )
    message: str
    type: str = Field(description="A machine-readable reason: missing, extra_forbidden, string_too_long, …")


class Problem(BaseModel):
    """Every refusal and failure: one line saying what is wrong, the fields at fault (422), and
    whatever else the refusal names (the current status of a case, what a gate still misses)."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"additionalProperties": True})

    detail: str = Field(description="What is wrong, in one line a person can act on.")
    errors: list[FieldError] = Field(
        default_factory=list, description="The fields at fault, when fields are."
    )


@dataclass(frozen=True)
class ReadinessCheck:
    """One dependency /readyz reports on (kafka, store)."""

    name: str
    check: Callable[[], Awaitable[bool]]


class ServiceApi(FastAPI):
    """FastAPI with the services' one error shape in its OpenAPI document."""

    def openapi(self) -> dict[str, Any]:
        return with_problem_responses(super().openapi())


def create_service_app(
    *,
    service: str,
    title: str,
    description: str,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]],
    readiness: Callable[[FastAPI], Sequence[ReadinessCheck]],
    stalls: Callable[[FastAPI], Sequence[str]] = lambda app: (),
    max_body_bytes: int = 64 * 1024,
    version: str = "0.1.0",
    uploads: tuple[str, int] | None = None,
) -> FastAPI:
    """`uploads`: (a regular expression of paths, their body limit) for routes that take files;
    `stalls`: why the process is alive but stuck (a consumer that stopped moving), which fails /healthz
    so the orchestrator restarts it."""
    app = ServiceApi(title=title, description=description, version=version, lifespan=lifespan)
    app.router.route_class = JsonRoute
    # Added innermost first: the request id is outermost, so even a 431 or 413 carries it.
    app.add_middleware(
        BodySizeLimit,
        max_bytes=max_body_bytes,
        uploads=(re.compile(uploads[0]), uploads[1]) if uploads else None,
    )
    app.add_middleware(HttpMetrics, service=service)
    app.add_middleware(HeaderLimits)
    app.add_middleware(RequestIds)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)

    @app.get("/healthz", tags=["operations"], summary="The process is alive and not stuck")
    async def healthz(request: Request) -> JSONResponse:
        stuck = list(stalls(request.app))
        if stuck:
            return JSONResponse({"status": "stalled", "service": service, "stalls": stuck}, status_code=503)
        return JSONResponse({"status": "ok", "service": service})

    @app.get("/readyz", tags=["operations"], summary="Kafka and the store are reachable")
    async def readyz(request: Request) -> JSONResponse:
        results = {c.name: await c.check() for c in readiness(request.app)}
        ok = all(results.values())
        return JSONResponse(
            {"status": "ready" if ok else "not_ready", "service": service, "checks": results},
            status_code=200 if ok else 503,
        )

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app


# ----------------------------------------------------------------------------------- error shapes


def field_path(loc: Sequence[Any]) -> str:
    """`("body", "customer", "phone")` -> `customer.phone`: the name a caller recognises."""
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or ".".join(str(p) for p in loc)


def problem(
    status_code: int,
    detail: str,
    *,
    errors: Sequence[dict[str, Any]] = (),
    headers: dict[str, str] | None = None,
    **context: Any,
) -> JSONResponse:
    body = {"detail": detail, "errors": list(errors)} | context
    return JSONResponse(status_code=status_code, content=body, headers=headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = []
    for e in exc.errors():
        field = field_path(e.get("loc", ()))
        message = "unknown field" if e.get("type") == "extra_forbidden" else e.get("msg", "invalid")
        message = message.removeprefix("Value error, ")
        errors.append({"field": field, "message": message, "type": e.get("type") or "invalid"})
    summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    return problem(422, f"invalid request: {summary}", errors=errors)


async def _http_error(_request: Request, exc: Exception) -> Response:
    """HTTPException in the one shape: a structured detail's `message` is the detail, the rest context."""
    assert isinstance(exc, HTTPException)
    if exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=exc.headers)
    detail: Any = exc.detail
    context: dict[str, Any] = {}
    errors: list[dict[str, Any]] = []
    if isinstance(detail, dict):
        context = {k: v for k, v in detail.items() if k not in ("message", "detail", "errors")}
        errors = list(detail.get("errors") or [])
        detail = detail.get("message") or detail.get("detail") or ""
    elif not isinstance(detail, str):
        detail = str(detail)
    return problem(exc.status_code, detail, errors=errors, headers=dict(exc.headers or {}) or None, **context)


def invalid(field: str, message: str, type_: str = "value_error") -> HTTPException:
    """A 422 naming one field, as a request validation error would name it."""
    detail: Any = {
        "message": f"invalid request: {field}: {message}",
        "errors": [{"field": field, "message": message, "type": type_}],
    }
    return HTTPException(422, detail=detail)


def with_problem_responses(schema: dict[str, Any]) -> dict[str, Any]:
    """Declare `Problem` for every 4xx and 5xx of every operation (FastAPI declares its own 422 shape,
    which these services never answer), and a 4XX for the refusals every operation may give."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    problem_schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(problem_schema.pop("$defs", {}))
    components["Problem"] = problem_schema
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for code, response in responses.items():
                if code[:1] in ("4", "5"):
                    response["content"] = content
                    if code == "422":
                        response["description"] = (
                            "A field is missing, unknown or malformed; `errors` names it."
                        )
            responses.setdefault(
                "4XX",
                {
                    "description": "Refused: headers too large (431), body too large (413), not JSON or not UTF-8 "
                    "(400, 415), no or unknown key (401), not allowed (403), not found (404), rate limited (429).",
                    "content": content,
                },
            )
    return schema


# -------------------------------------------------------------------------------- one JSON parse


class JsonRequest(Request):
    """A request whose JSON body is parsed once, by `parse_json_body`, and kept for every reader."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = parse_json_body(await self.body(), self.headers.get("content-type"))
        return self._json


class JsonRoute(APIRoute):
    """A route that reads its JSON body through `JsonRequest` (FastAPI's own parser would accept what
    the services' codec refuses, and answer what it cannot read with a 400 that names no cause)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def parse_once(request: Request) -> Response:
            return await handler(JsonRequest(request.scope, request.receive))

        return parse_once


def parse_json_body(body: bytes, content_type: str | None = None) -> Any:
    """The JSON value of a request body: UTF-8 (a byte-order mark is ignored, RFC 8259 §8.1), at most
    MAX_JSON_DEPTH deep. 415 for another encoding, 400 for anything unreadable, each naming why."""
    charset = _declared_charset(content_type)
    if charset and codecs.lookup(charset).name != "utf-8":
        raise HTTPException(415, detail=f"request body declared as {charset}; JSON must be sent as UTF-8")
    encoding = _sniff_encoding(body)
    if encoding:
        raise HTTPException(415, detail=f"request body is {encoding}; JSON must be sent as UTF-8")
    if body.startswith(codecs.BOM_UTF8):
        body = body[len(codecs.BOM_UTF8) :]
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HTTPException(
            400,
            detail=f"request body is not valid UTF-8: byte 0x{body[exc.start]:02x} at position {exc.start}",
        ) from exc
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise HTTPException(400, detail=f"request body is not valid JSON: {exc}") from exc
    if _depth(value) > MAX_JSON_DEPTH:
        raise HTTPException(400, detail=f"request body is nested deeper than {MAX_JSON_DEPTH} levels")
    return value


def _declared_charset(content_type: str | None) -> str | None:
    if not content_type:
        return None
    message = email.message.Message()
    message["content-type"] = content_type
    charset = message.get_param("charset")
    if not isinstance(charset, str):
        return None
    try:
        codecs.lookup(charset)
    except LookupError:
        raise HTTPException(415, detail=f"unknown charset {charset!r}; JSON must be sent as UTF-8") from None
    return charset


def _sniff_encoding(body: bytes) -> str | None:
    """UTF-16 or UTF-32, by byte-order mark or by the zero bytes around the first ASCII character."""
    head = body[:4]
    for bom, name in (
        (codecs.BOM_UTF32_BE, "UTF-32BE"),
        (codecs.BOM_UTF32_LE, "UTF-32LE"),
        (codecs.BOM_UTF16_BE, "UTF-16BE"),
        (codecs.BOM_UTF16_LE, "UTF-16LE"),
    ):
        if head.startswith(bom):
            return f"{name} (byte-order mark)"
    if len(head) >= 4 and head[:3] == b"\0\0\0":
        return "UTF-32BE"
    if len(head) >= 4 and head[1:4] == b"\0\0\0":
        return "UTF-32LE"
    if len(head) >= 2 and head[0] == 0:
        return "UTF-16BE"
    if len(head) >= 2 and head[1] == 0:
        return "UTF-16LE"
    return None


def _depth(value: Any) -> int:
    """Nesting depth of a parsed JSON value, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_JSON_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


# ---------------------------------------------------------------------------------- middlewares


async def _refuse(send: Send, status_code: int, detail: str) -> None:
    """A Problem answer sent straight from a middleware (no app behind it has run)."""
    body = orjson.dumps({"detail": detail, "errors": []})
    await send(
        {
            "type": "http.response.start",
            "status": status_code,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequestIds:
    """Each request gets an id (the caller's X-Request-ID, or a new one): answered in X-Request-ID,
    bound into the log context and taken as causation_id by every event the request publishes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope.get("headers", ()) if k == b"x-request-id"), None)
        request_id = requestid.request_id_from(given.decode("latin-1") if given is not None else None)
        answered = str(request_id).encode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", answered)]
            await send(message)

        token = requestid.serving(request_id)
        try:
            with structlog.contextvars.bound_contextvars(request_id=str(request_id)):
                await self.app(scope, receive, send_with_id)
        finally:
            requestid.done(token)


class HeaderLimits:
    """431 for too many headers, one too large, or too many bytes of them all (the server in front,
    see shared.http.server, stops reading them at the same limits)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = header_refusal(scope.get("headers", ()))
            if refusal:
                await _refuse(send, 431, refusal)
                return
        await self.app(scope, receive, send)


def header_refusal(headers: Sequence[tuple[bytes, bytes]]) -> str | None:
    """Why these request headers are refused, or None when they are within the limits."""
    if len(headers) > MAX_HEADER_COUNT:
        return f"request has {len(headers)} headers; at most {MAX_HEADER_COUNT} are accepted"
    total = 0
    for name, value in headers:
        size = len(name) + len(value)
        if size > MAX_HEADER_BYTES:
            return f"header {name.decode('latin-1')[:40]} is {size} bytes; at most {MAX_HEADER_BYTES} are accepted"
        total += size
    if total > MAX_HEADERS_TOTAL_BYTES:
        return f"request headers total {total} bytes; at most {MAX_HEADERS_TOTAL_BYTES} are accepted"
    return None


class BodySizeLimit:
    """413 for bodies over the limit, whether announced by Content-Length or streamed.

    The body is read here, before the app, so the refusal is always a 413: raised from inside the
    app's own read, FastAPI would turn it into a 400 that names no cause.
    """

    def __init__(
        self, app: ASGIApp, max_bytes: int, uploads: tuple[re.Pattern[str], int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.uploads = uploads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        if self.uploads is not None and self.uploads[0].search(scope.get("path", "")):
            limit = self.uploads[1]  # a route that takes files (it checks each file's own limit)
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    too_big = int(value) > limit
                except ValueError:
                    too_big = False
                if too_big:
                    await _refuse(send, 413, f"request body larger than {limit} bytes")
                    return
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                # The client went away before its body arrived: let the app see that as it would.
                chunks = []
                pending: list[Message] = [message]
                break
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > limit:
                await _refuse(send, 413, f"request body larger than {limit} bytes")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                pending = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]
                break

        async def replay() -> Message:
            if pending:
                return pending.pop(0)
            return await receive()  # after the body: the disconnect a streaming response waits for

        await self.app(scope, replay, send)


class HttpMetrics:
    """Latency histogram by route template (not raw path, so ids do not explode the label set)."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status_code = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            HTTP_SECONDS.labels(self.service, scope["method"], template, str(status_code)).observe(
                time.perf_counter() - started
            )
