"""Intake running in process against the real broker and store, isolated per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from intake.config import IntakeSettings
from intake.entrypoints.http import create_app
from shared.testing.fixtures import Isolation, running
from shared.testing.identities import key_headers
from shared.testing.kafka import Record, read_topic

KEYS = key_headers()  # deploy/local/dev-credentials.json, by role


@pytest.fixture
def keys() -> dict[str, dict[str, str]]:
    """X-API-Key headers of deploy/local/dev-credentials.json, by principal."""
    return KEYS


@pytest.fixture
def dealer_body() -> Callable[..., dict[str, Any]]:
    return _dealer_body


@pytest.fixture
def hotline_body() -> Callable[..., dict[str, Any]]:
    return _hotline_body


def _dealer_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "dealer_code": "D-GZ-001",
        "ticket_id": "T-2026-0456",
        "customer": {"name": "王女士", "phone": "138 1234 5678", "address": "广东省广州市天河区体育西路1号"},
        "product": {
            "model": "yd xf-250",
            "serial_no": "XF2502405001234",
            "purchase_date": "2026-03-18",
            "invoice_no": "44001234",
            "service_card_stamped": True,
        },
        "description": "新风机开机后电机异响，风量明显变小",
    }
    body.update(overrides)
    return body


def _hotline_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "caller_name": "张先生",
        "phone": "139-0000-1111",
        "called_at": "2026-11-26T09:30:00+08:00",
        "transcript": "新风安装后风管接口漏水",
        "agent_id": "fd-he",
    }
    body.update(overrides)
    return body


@pytest.fixture
def intake_settings(isolation: Isolation) -> Callable[..., IntakeSettings]:
    return lambda **overrides: isolation.settings(IntakeSettings, **overrides)


@pytest.fixture
async def intake(intake_settings: Callable[..., IntakeSettings]) -> AsyncIterator[httpx.AsyncClient]:
    async with running(create_app(intake_settings())) as client:
        yield client


@pytest.fixture
def complaints(isolation: Isolation) -> Callable[..., Any]:
    """Read complaint.received records from this test's topic."""

    async def read(expected: int, *, settle_s: float = 1.0) -> list[Record]:
        return await read_topic(
            isolation.backends.kafka_bootstrap_servers,
            isolation.topic("intake.complaints.v1"),
            until=lambda records: len(records) >= expected,
            settle_s=settle_s,
        )

    return read
