"""Notifications in process on the real broker and store, fed as intake, dispatch, parts and warranty
would feed it; a stand-in for Alibaba Cloud's SMS endpoint that checks each request's signature."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from notifications.adapters.channels import aliyun_signature
from notifications.config import NotificationsSettings
from notifications.entrypoints.http import create_app
from shared.contracts.envelope import Envelope, make_envelope
from shared.contracts.registry import load_registry
from shared.testing.fixtures import Bus, Isolation, eventually, running, serving
from shared.testing.identities import key_headers
from shared.testing.kafka import Record

REG = load_registry()
COMPLAINT = REG.get("intake.complaints.v1").events[0].examples[0]["payload"]  # phone +8613812345678
KEYS = key_headers()


@pytest.fixture
def keys() -> dict[str, dict[str, str]]:
    return KEYS


class Feed(Bus):
    async def event(self, owner: str, event_type: str, case_id: str, payload: dict[str, Any]) -> Envelope:
        spec = REG.event_spec(event_type, 1)
        env = make_envelope(
            spec.payload_model.model_validate(payload),
            event_type=event_type,
            schema_version=1,
            correlation_id=case_id,
            producer=owner,
        )
        return await self.publish(owner, env)

    async def complaint(self, case_id: str, **changes: Any) -> Envelope:
        return await self.event(
            "intake",
            "complaint.received",
            case_id,
            COMPLAINT | {"case_id": case_id, "received_at": datetime.now(UTC).isoformat()} | changes,
        )

    async def reply(
        self, case_id: str, reply_id: str = "R-1", via: str = "sms", message: str = "已安排明早上门检修"
    ) -> Envelope:
        return await self.event(
            "dispatch",
            "case.replied",
            case_id,
            {
                "case_id": case_id,
                "reply_id": reply_id,
                "message": message,
                "via": via,
                "by": "sp-liu",
                "channel": "dealer",
                "submitted_by": "D-GZ-001",
                "replied_at": datetime.now(UTC).isoformat(),
            },
        )

    async def told(self, case_id: str, until: Callable[[list[Record]], bool]) -> list[Record]:
        records = await self.read(
            "notifications.messages.v1",
            lambda rs: until([r for r in rs if r.key == case_id.encode()]),
            settle_s=0.5,
        )
        return [r for r in records if r.key == case_id.encode()]


@pytest.fixture
async def feed(isolation: Isolation) -> AsyncIterator[Feed]:
    f = Feed(isolation)
    yield f
    await f.close()


@pytest.fixture
def notifications_settings(isolation: Isolation) -> Callable[..., NotificationsSettings]:
    def make(**overrides: Any) -> NotificationsSettings:
        values = {"delivery_interval_s": 0.2, "outbox_relay_interval_s": 0.5, "quiet_hours": ""} | overrides
        return isolation.settings(NotificationsSettings, **values)

    return make


@pytest.fixture
async def notifications(notifications_settings) -> AsyncIterator[httpx.AsyncClient]:
    async with running(create_app(notifications_settings())) as client:
        yield client


@pytest.fixture
def delivered(keys) -> Callable[..., Any]:
    """The local adapter's records for a case, once there are `count` of them."""

    async def wait(client: httpx.AsyncClient, case_id: str, count: int = 1) -> list[dict[str, Any]]:
        async def look():
            res = await client.get(
                "/v1/local-deliveries", params={"case_id": case_id}, headers=keys["manager"]
            )
            items = res.json()["items"]
            return items if len(items) >= count else None

        return await eventually(look, timeout_s=20)

    return wait


class FakeAliyun:
    """Answers SendSms as Alibaba Cloud does, after checking the signature; scripted answers per phone."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.requests: list[dict[str, str]] = []
        self.script: dict[str, list[str]] = {}  # phone -> codes to answer in turn (then OK)
        self.app = FastAPI()

        @self.app.get("/")
        async def send(request: Request) -> dict[str, Any]:
            params = dict(request.query_params)
            signature = params.pop("Signature", "")
            if signature != aliyun_signature(params, self.secret):
                return {"Code": "SignatureDoesNotMatch", "Message": "Specified signature is not matched"}
            self.requests.append(params)
            answers = self.script.get(params["PhoneNumbers"], [])
            code = answers.pop(0) if answers else "OK"
            if code != "OK":
                return {"Code": code, "Message": "scripted", "RequestId": "r"}
            return {"Code": "OK", "Message": "OK", "BizId": f"biz-{len(self.requests)}", "RequestId": "r"}


@pytest.fixture
async def aliyun() -> AsyncIterator[tuple[FakeAliyun, str]]:
    fake = FakeAliyun("fake-secret-for-tests")
    async with serving(fake.app) as url:
        yield fake, url + "/"
