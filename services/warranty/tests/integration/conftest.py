"""Warranty with intake and dispatch in process on the real broker and store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from dispatch.config import DispatchSettings
from dispatch.entrypoints.http import create_app as dispatch_app
from intake.config import IntakeSettings
from intake.entrypoints.http import create_app as intake_app
from shared.testing.fixtures import Bus, Isolation, running
from shared.testing.identities import key_headers
from shared.testing.kafka import Record
from warranty.config import WarrantySettings
from warranty.entrypoints.http import create_app as warranty_app

KEYS = key_headers()  # deploy/local/dev-credentials.json, by role


@pytest.fixture
def keys() -> dict[str, dict[str, str]]:
    return KEYS


@pytest.fixture
async def suite(isolation: Isolation) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """intake -> dispatch -> warranty, wired through this test's topics."""
    async with (
        running(intake_app(isolation.settings(IntakeSettings))) as intake,
        running(dispatch_app(isolation.settings(DispatchSettings, scan_interval_s=1.0))) as dispatch,
        running(warranty_app(isolation.settings(WarrantySettings))) as warranty,
    ):
        yield {"intake": intake, "dispatch": dispatch, "warranty": warranty}


@pytest.fixture
async def warranty(isolation: Isolation) -> AsyncIterator[httpx.AsyncClient]:
    async with running(warranty_app(isolation.settings(WarrantySettings))) as client:
        yield client


class WarrantyBus(Bus):
    async def decisions(self, case_id: str, count: int = 1, settle_s: float = 0.5) -> list[Record]:
        def mine(rs: list[Record]) -> list[Record]:
            return [r for r in rs if r.key == case_id.encode()]

        records = await self.read("warranty.decisions.v1", lambda rs: len(mine(rs)) >= count, settle_s)
        return mine(records)


@pytest.fixture
async def bus(isolation: Isolation) -> AsyncIterator[WarrantyBus]:
    b = WarrantyBus(isolation)
    yield b
    await b.close()


def dealer_ticket(**changes: Any) -> dict[str, Any]:
    body = {
        "dealer_code": "D-GZ-001",
        "ticket_id": "T-W1",
        "customer": {"name": "王女士", "phone": "13812345678", "address": "广东省广州市天河区"},
        "product": {
            "model": "YD-XF250",
            "serial_no": "XF2502405001234",
            "purchase_date": "2026-03-18",
            "invoice_no": "44001234",
            "service_card_stamped": True,
        },
        "description": "新风机开机后电机异响，风量明显变小",
    }
    return body | changes


@pytest.fixture
def ticket():
    return dealer_ticket
