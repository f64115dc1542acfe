"""Parts (with dispatch, for the case view) in process on the real broker and store; shared by the integration and browser tests."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from dispatch.config import DispatchSettings
from dispatch.entrypoints.http import create_app as dispatch_app
from parts.config import PartsSettings
from parts.entrypoints.http import create_app as parts_app
from shared.contracts.cases import CaseAssigned
from shared.contracts.complaints import ComplaintReceived
from shared.contracts.envelope import Envelope, make_envelope
from shared.contracts.registry import load_registry
from shared.contracts.warranty import WarrantyDecided
from shared.testing.fixtures import Bus, Isolation, eventually, running
from shared.testing.identities import key_headers, new_case_id
from shared.testing.kafka import Record

KEYS = key_headers()  # deploy/local/dev-credentials.json, by role
REG = load_registry()
COMPLAINT = REG.get("intake.complaints.v1").events[0].examples[0]["payload"]
ASSIGNED = REG.get("dispatch.cases.v1").events[0].examples[0]["payload"]
DECIDED = REG.get("warranty.decisions.v1").events[0].examples[0]["payload"]


@pytest.fixture
def keys() -> dict[str, dict[str, str]]:
    return KEYS


class Scenario(Bus):
    """Publishes what dispatch and warranty would, so parts can be driven alone."""

    async def complaint(self, case_id: str) -> Envelope:
        payload = ComplaintReceived.model_validate(
            COMPLAINT | {"case_id": case_id, "received_at": datetime.now(UTC)}
        )
        return await self.publish(
            "intake",
            make_envelope(
                payload,
                event_type="complaint.received",
                schema_version=1,
                correlation_id=case_id,
                producer="intake",
            ),
        )

    async def assigned(self, case_id: str, specialist: str = "sp-liu") -> Envelope:
        payload = CaseAssigned.model_validate(ASSIGNED | {"case_id": case_id, "specialist_id": specialist})
        return await self.publish(
            "dispatch",
            make_envelope(
                payload,
                event_type="case.assigned",
                schema_version=1,
                correlation_id=case_id,
                producer="dispatch",
            ),
        )

    async def remedy(self, case_id: str, remedy_id: str, remedy: str) -> Envelope:
        from shared.contracts.warranty import RemedyChosen

        payload = RemedyChosen(
            case_id=case_id,
            remedy_id=remedy_id,
            remedy=remedy,
            chosen_by="sp-liu",
            chosen_at=datetime.now(UTC),
        )
        return await self.publish(
            "warranty",
            make_envelope(
                payload,
                event_type="remedy.chosen",
                schema_version=1,
                correlation_id=case_id,
                producer="warranty",
            ),
        )

    async def decided(self, case_id: str, **changes: Any) -> Envelope:
        payload = WarrantyDecided.model_validate(
            DECIDED | {"case_id": case_id, "decided_at": datetime.now(UTC)} | changes
        )
        return await self.publish(
            "warranty",
            make_envelope(
                payload,
                event_type="warranty.decided",
                schema_version=1,
                correlation_id=case_id,
                producer="warranty",
            ),
        )

    async def parts_events(self, case_id: str, until) -> list[Record]:
        records = await self.read(
            "parts.requests.v1", lambda rs: until([r for r in rs if r.key == case_id.encode()]), settle_s=0.3
        )
        return [r for r in records if r.key == case_id.encode()]


@pytest.fixture
async def scenario(isolation: Isolation) -> AsyncIterator[Scenario]:
    s = Scenario(isolation)
    yield s
    await s.close()


@pytest.fixture
def parts_settings(isolation: Isolation):
    return lambda **o: isolation.settings(
        PartsSettings, **({"scan_interval_s": 0.3, "outbox_relay_interval_s": 0.5} | o)
    )


@pytest.fixture
async def parts(parts_settings) -> AsyncIterator[httpx.AsyncClient]:
    async with running(parts_app(parts_settings())) as client:
        yield client


@pytest.fixture
async def dispatch(isolation: Isolation) -> AsyncIterator[httpx.AsyncClient]:
    async with running(dispatch_app(isolation.settings(DispatchSettings))) as client:
        yield client


@pytest.fixture
def open_request(parts, scenario, keys):
    """A case assigned to sp-liu with a covered motor repair: returns (case_id, request)."""

    async def make(**decision: Any) -> tuple[str, dict[str, Any]]:
        case_id = new_case_id()
        await scenario.assigned(case_id)
        await scenario.decided(case_id, **decision)

        async def opened():
            res = await parts.get(
                "/v1/parts-requests", params={"case_id": case_id}, headers=keys["specialist"]
            )
            return res.json()["items"][0] if res.json()["items"] else None

        return case_id, await eventually(opened)

    return make


def price_list(version: str = f"v-{uuid.uuid4().hex[:6]}") -> dict[str, Any]:
    return {
        "version": version,
        "effective_from": "2026-01-01",
        "items": {
            "YD-LX-H13-250": {"cost": "150.00", "list_price": "268.00", "name": "H13 高效滤芯（250 机型）"},
            "YD-LX-C-600": {"cost": "90.00", "list_price": "158.00", "name": "活性炭复合滤网"},
            "motor": {"cost": "320.00", "list_price": "520.00", "name": "电机"},
            "freight": {"cost": "18.00", "list_price": "25.00", "name": "运费"},
            "fan": {"cost": "120.00", "list_price": "210.00", "name": "风机"},
            "labour_hour": {"cost": "40.00", "list_price": "80.00", "name": "维修人工（每小时）"},
            "installation_labour_hour": {
                "cost": "60.00",
                "list_price": "120.00",
                "name": "工程维护人工（每小时）",
            },
            "YD-XF250": {"cost": "2000.00", "list_price": "3980.00", "name": "全热交换新风机 250"},
        },
    }


@pytest.fixture
def prices():
    return price_list
