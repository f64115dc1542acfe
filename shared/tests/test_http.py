"""The shared HTTP layer answers every input clearly: one JSON parse, limits on headers and bodies,
one error shape in the answers and in the OpenAPI document, the request id carried into events."""

from __future__ import annotations

import asyncio
import codecs
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from shared.config import ServiceSettings
from shared.contracts.complaints import CategoryGuess
from shared.contracts.envelope import Envelope, envelopes_for, headers_for, make_envelope
from shared.http.app import JsonRoute, create_service_app
from shared.http.server import MAX_HEAD_BYTES
from shared.logging import configure_logging
from shared.runner import server_for
from shared.testing.fixtures import eventually, serving

COMPLAINT = {"name": "王", "phone": "13900005555", "description": "电机异响"}


class ComplaintIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    phone: str
    description: str = Field(max_length=100)


def _app(max_body_bytes: int = 1024, stalls: list[str] | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield

    app = create_service_app(
        service="test",
        title="test",
        description="test",
        lifespan=lifespan,
        readiness=lambda _a: [],
        stalls=lambda _a: stalls or [],
        max_body_bytes=max_body_bytes,
    )
    router = APIRouter(route_class=JsonRoute)
    published: list[Envelope] = []
    app.state.published = published

    @router.post("/complaints", status_code=202)
    async def post(request: Request, body: ComplaintIn) -> dict[str, Any]:
        original = await request.json()
        published.append(
            make_envelope(
                CategoryGuess(category="software", confidence=0.5, evidence=[]),
                event_type="complaint.received",
                schema_version=1,
                correlation_id="YD-0000000001",
                producer="test",
            )
        )
        published.extend(
            envelopes_for(
                [("case.assigned", CategoryGuess(category="software", confidence=1, evidence=[]))],
                correlation_id="YD-0000000001",
                producer="test",
                now=published[0].occurred_at,
            )
        )
        return {"original": original}

    @router.post("/conflict")
    async def conflict() -> None:
        raise HTTPException(409, detail={"message": "case is closed", "current_status": "closed"})

    @router.get("/client")
    async def client(request: Request) -> dict[str, Any]:
        return {"host": request.client.host if request.client else None}

    app.include_router(router)
    return app


@pytest.fixture
async def api() -> AsyncIterator[httpx.AsyncClient]:
    app = _app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        client.app = app  # type: ignore[attr-defined]
        yield client


def _json(text: str, encoding: str) -> bytes:
    return text.encode(encoding)


async def test_a_utf8_body_with_a_byte_order_mark_is_accepted_and_read_once(api) -> None:
    body = codecs.BOM_UTF8 + json.dumps(COMPLAINT, ensure_ascii=False).encode()
    res = await api.post("/complaints", content=body, headers={"Content-Type": "application/json"})
    assert res.status_code == 202, res.text
    assert res.json()["original"] == COMPLAINT


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
async def test_utf16_and_utf32_bodies_are_415_naming_the_encoding(api, encoding) -> None:
    body = json.dumps(COMPLAINT, ensure_ascii=False).encode(encoding)
    res = await api.post("/complaints", content=body, headers={"Content-Type": "application/json"})
    assert res.status_code == 415, res.text
    assert encoding.split("-")[0].upper().replace("UTF", "UTF-") in res.json()["detail"]
    assert "UTF-8" in res.json()["detail"]


async def test_a_declared_charset_other_than_utf8_is_415(api) -> None:
    res = await api.post(
        "/complaints",
        content=json.dumps(COMPLAINT).encode(),
        headers={"Content-Type": "application/json; charset=gbk"},
    )
    assert res.status_code == 415 and "gbk" in res.json()["detail"]


@pytest.mark.parametrize(
    ("body", "cause"),
    [
        (
            b'{"name": "\xff\xfe", "phone": "1", "description": "x"}',
            "not valid UTF-8: byte 0xff at position 10",
        ),
        (b"[" * 500 + b"]" * 500, "nested deeper than"),
        (b'{"name": ' + b'{"a": ' * 40 + b"1" + b"}" * 40 + b"}", "nested deeper than 32"),
        (b'{"name": "x", ', "not valid JSON"),
        (b'{"name": NaN}', "not valid JSON"),
    ],
)
async def test_unreadable_json_is_400_naming_the_cause(api, body, cause) -> None:
    res = await api.post("/complaints", content=body, headers={"Content-Type": "application/json"})
    assert res.status_code == 400, res.text
    assert cause in res.json()["detail"]


async def test_a_streamed_body_over_the_limit_is_413(api) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"name": "'
        for _ in range(10):
            yield b"x" * 512
        yield b'"}'

    res = await api.post("/complaints", content=chunks(), headers={"Content-Type": "application/json"})
    assert res.status_code == 413
    assert res.json() == {"detail": "request body larger than 1024 bytes", "errors": []}


@pytest.mark.parametrize(
    ("headers", "cause"),
    [
        ({"User-Agent": "x" * (1024 * 1024)}, "header user-agent is"),
        ({f"X-H-{i}": "1" for i in range(5000)}, "at most 100 are accepted"),
        ({f"X-H-{i}": "y" * 4000 for i in range(10)}, "headers total"),
    ],
)
async def test_header_limits_are_431(api, headers, cause) -> None:
    res = await api.post("/complaints", json=COMPLAINT, headers=headers)
    assert res.status_code == 431, res.text
    assert cause in res.json()["detail"]


async def test_the_server_stops_reading_a_head_over_the_limit() -> None:
    """A 32 MB header is refused while it arrives, not buffered whole first."""
    async with serving(_app()) as url:
        host, port = url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"GET /client HTTP/1.1\r\nHost: t\r\nX-Big: ")
        answered = asyncio.create_task(reader.read())  # the answer may come while we still send
        sent = 0
        while sent < 32 * 1024 * 1024 and not answered.done():
            writer.write(b"z" * 65536)
            await writer.drain()
            sent += 65536
        answer = await answered
        writer.close()
    assert answer.startswith(b"HTTP/1.1 431 ")
    assert b"request line and headers larger than" in answer
    assert sent < 32 * 1024 * 1024  # the server closed before the header was through
    assert MAX_HEAD_BYTES < 64 * 1024


async def test_every_refusal_has_the_one_shape(api) -> None:
    invalid = await api.post("/complaints", json=COMPLAINT | {"surprise": 1, "description": "长" * 101})
    assert invalid.status_code == 422
    body = invalid.json()
    assert isinstance(body["detail"], str) and "surprise" in body["detail"]
    assert {e["field"] for e in body["errors"]} == {"surprise", "description"}
    conflict = await api.post("/conflict")
    assert conflict.status_code == 409
    assert conflict.json() == {"detail": "case is closed", "errors": [], "current_status": "closed"}
    missing = await api.get("/nowhere")
    assert missing.status_code == 404 and missing.json() == {"detail": "Not Found", "errors": []}


async def test_the_openapi_document_declares_the_one_shape(api) -> None:
    schema = (await api.get("/openapi.json")).json()
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    problem = schema["components"]["schemas"]["Problem"]
    assert problem["properties"]["detail"]["type"] == "string"
    assert problem["properties"]["errors"]["type"] == "array"
    responses = schema["paths"]["/complaints"]["post"]["responses"]
    ref = {"$ref": "#/components/schemas/Problem"}
    assert responses["422"]["content"]["application/json"]["schema"] == ref
    assert responses["4XX"]["content"]["application/json"]["schema"] == ref


async def test_the_request_id_is_answered_logged_and_the_cause_of_the_events(api, capsys) -> None:
    configure_logging("test", level="INFO", json=True)
    given = uuid.uuid4()
    res = await api.post("/complaints", json=COMPLAINT, headers={"X-Request-ID": str(given)})
    assert res.headers["X-Request-ID"] == str(given)
    published = api.app.state.published  # type: ignore[attr-defined]
    assert [e.causation_id for e in published] == [given, given]
    assert ("causation_id", str(given).encode()) in headers_for(published[0])

    # A proxy's own token maps to one UUID, the same each time; without one a new id is made.
    first = await api.post("/complaints", json=COMPLAINT, headers={"X-Request-ID": "nginx-7f3a"})
    again = await api.post("/complaints", json=COMPLAINT, headers={"X-Request-ID": "nginx-7f3a"})
    assert first.headers["X-Request-ID"] == again.headers["X-Request-ID"]
    assert published[-1].causation_id == uuid.UUID(again.headers["X-Request-ID"])
    fresh = await api.get("/client")
    assert uuid.UUID(fresh.headers["X-Request-ID"]) not in {given, published[-1].causation_id}

    from shared.logging import get_logger

    app = _app()

    @app.get("/log")
    async def log_something() -> dict[str, str]:
        get_logger("t").info("handled")
        return {}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        res = await client.get("/log", headers={"X-Request-ID": str(given)})
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"handled"' in line]
    assert lines and lines[-1]["request_id"] == str(given)


def test_events_outside_a_request_have_no_request_cause() -> None:
    env = make_envelope(
        CategoryGuess(category="software", confidence=0.5, evidence=[]),
        event_type="complaint.received",
        schema_version=1,
        correlation_id="YD-1",
        producer="t",
    )
    assert env.causation_id is None


async def test_no_proxy_is_trusted_by_default() -> None:
    """A caller on the host cannot choose its address (and with it its rate limit) with X-Forwarded-For."""
    import socket

    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = ServiceSettings(service_name="test", http_host="127.0.0.1", http_port=port)
    assert settings.forwarded_allow_ips == ""
    server = uvicorn.Server(server_for(_app(), settings))
    task = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: server.started, timeout_s=30, interval_s=0.05)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            res = await client.get("/client", headers={"X-Forwarded-For": "203.0.113.9"})
    finally:
        server.should_exit = True
        await task
    assert res.json()["host"] == "127.0.0.1"
    trusted = server_for(_app(), ServiceSettings(service_name="test", forwarded_allow_ips="10.0.0.5"))
    assert trusted.proxy_headers and trusted.forwarded_allow_ips == ["10.0.0.5"]


async def test_healthz_fails_while_the_process_is_alive_but_stuck() -> None:
    """The orchestrator restarts on /healthz: a consumer that stopped moving must fail it."""
    stalls: list[str] = []
    app = _app(stalls=stalls)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        assert (await client.get("/healthz")).json() == {"status": "ok", "service": "test"}
        stalls.append("consumer: the fetch loop has ended")
        stuck = await client.get("/healthz")
    assert stuck.status_code == 503
    assert stuck.json() == {
        "status": "stalled",
        "service": "test",
        "stalls": ["consumer: the fetch loop has ended"],
    }
