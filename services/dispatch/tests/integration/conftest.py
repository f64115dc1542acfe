"""Dispatch (and intake, to feed it) running in process on the real broker and store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from dispatch.config import DispatchSettings
from dispatch.domain.case import Case
from dispatch.entrypoints.http import create_app as dispatch_app
from intake.config import IntakeSettings
from intake.entrypoints.http import create_app as intake_app
from shared.contracts.envelope import Envelope, make_envelope
from shared.contracts.registry import load_registry
from shared.testing.fixtures import Bus, Isolation, eventually, running
from shared.testing.identities import key_headers
from shared.testing.kafka import Record
from shared.unit_of_work import Aggregates

KEYS = key_headers()  # deploy/local/dev-credentials.json, by role
EXAMPLE = load_registry().get("intake.complaints.v1").events[0].examples[0]["payload"]


@pytest.fixture
def keys() -> dict[str, dict[str, str]]:
    return KEYS


@pytest.fixture
def dispatch_settings(isolation: Isolation) -> Callable[..., DispatchSettings]:
    def make(**overrides: Any) -> DispatchSettings:
        values = {"scan_interval_s": 0.3, "outbox_relay_interval_s": 0.5} | overrides
        return isolation.settings(DispatchSettings, **values)

    return make


@dataclass(frozen=True)
class CaseStore:
    db: AsyncDatabase[Any]
    cases: Aggregates[Case]


@pytest.fixture
async def case_store(isolation: Isolation) -> AsyncIterator[CaseStore]:
    """A database of the test's own with dispatch's cases, written to directly (nothing published)."""
    client: AsyncMongoClient[Any] = AsyncMongoClient(isolation.backends.mongodb_url, tz_aware=True)
    db = client[f"t{isolation.unique}_cases"]
    isolation.databases.add(db.name)
    try:
        yield CaseStore(
            db,
            Aggregates(db["cases"], Case, id_field="case_id", producer="dispatch", publisher=None),  # type: ignore[arg-type]
        )
    finally:
        await client.close()


@pytest.fixture
async def dispatch(dispatch_settings) -> AsyncIterator[httpx.AsyncClient]:
    async with running(dispatch_app(dispatch_settings())) as client:
        yield client


@pytest.fixture
async def intake(isolation: Isolation) -> AsyncIterator[httpx.AsyncClient]:
    async with running(intake_app(isolation.settings(IntakeSettings))) as client:
        yield client


class Events(Bus):
    """Publish as another service would, and read what dispatch published."""

    async def complaint(self, case_id: str, **changes: Any) -> Envelope:
        from shared.contracts.complaints import ComplaintReceived

        # Received now unless a test says otherwise: an old example would breach every time target at once.
        fresh = {"received_at": datetime.now(UTC).isoformat()}
        payload = ComplaintReceived.model_validate({**EXAMPLE, "case_id": case_id, **fresh, **changes})
        env = make_envelope(
            payload,
            event_type="complaint.received",
            schema_version=1,
            correlation_id=case_id,
            producer="intake",
            occurred_at=payload.received_at,
        )
        await self.publish("intake", env)
        return env

    async def other(
        self, owner: str, event_type: str, case_id: str, payload: Any, *, at: datetime | None = None
    ) -> Envelope:
        """An event of another service about the case (warranty, parts...), as that service would publish it."""
        spec = load_registry().event_spec(event_type, 1)
        env = make_envelope(
            spec.payload_model.model_validate(payload),
            event_type=event_type,
            schema_version=1,
            correlation_id=case_id,
            producer=owner,
            occurred_at=at or datetime.now(UTC),
        )
        await self.publish(owner, env)
        return env

    async def decided(self, case_id: str, decision: str = "covered", remedy: str = "free_repair") -> Envelope:
        return await self.other(
            "warranty",
            "warranty.decided",
            case_id,
            {
                "case_id": case_id,
                "decision": decision,
                "remedy": remedy,
                "key_part": "motor",
                "reasons": [
                    {
                        "code": "within_product_warranty",
                        "message_zh": "整机保修期内",
                        "message_en": "In warranty",
                    }
                ],
                "rule_set": "2026-11-01",
                "decided_at": datetime.now(UTC).isoformat(),
            },
        )

    async def dispatched(self, case_id: str, event_type: str, count: int = 1) -> list[Record]:
        def matching(records: list[Record]) -> list[Record]:
            return [
                r
                for r in records
                if r.key == case_id.encode() and r.headers.get("event_type") == event_type.encode()
            ]

        records = await self.read("dispatch.cases.v1", lambda rs: len(matching(rs)) >= count)
        return matching(records)


@pytest.fixture
async def events(isolation: Isolation) -> AsyncIterator[Events]:
    e = Events(isolation)
    yield e
    await e.close()


@pytest.fixture
def case_status() -> Callable[..., Any]:
    async def wait(
        client: httpx.AsyncClient, case_id: str, status: str, headers: dict[str, str]
    ) -> dict[str, Any]:
        async def check() -> dict[str, Any] | None:
            res = await client.get(f"/v1/cases/{case_id}", headers=headers)
            return res.json() if res.status_code == 200 and res.json()["status"] == status else None

        return await eventually(check, timeout_s=20)

    return wait


def targets_file(tmp_path: Path, first_reply_hours: float) -> Path:
    path = tmp_path / "targets.yaml"
    path.write_text(
        "targets:\n"
        '  "*":\n'
        f'    "*": {{assign: 4, first_reply: {first_reply_hours}, close: 168}}\n'
        "follow_up_after_days: 0\n"
    )
    return path


@pytest.fixture
def short_targets(tmp_path: Path) -> Path:
    """first reply due one second after receipt; follow-up due on the day of closure."""
    return targets_file(tmp_path, 1 / 3600)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
def case_where() -> Callable[..., Any]:
    """Wait until the case (as the manager reads it) satisfies `check`."""

    async def wait(
        client: httpx.AsyncClient,
        case_id: str,
        check: Callable[[dict[str, Any]], bool],
        headers: dict[str, str] = KEYS["manager"],
    ) -> dict[str, Any]:
        async def look() -> dict[str, Any] | None:
            res = await client.get(f"/v1/cases/{case_id}", headers=headers)
            return res.json() if res.status_code == 200 and check(res.json()) else None

        return await eventually(look, timeout_s=20)

    return wait
