"""Kafka down: a project opened (and an installer's quote recorded) is kept and answered once, under its
Idempotency-Key; project.opened goes out once Kafka is back."""

from __future__ import annotations

import pytest

from engineering.config import EngineeringSettings
from engineering.entrypoints.http import create_app as engineering_app
from shared.testing.fixtures import running, unreachable_kafka

from .conftest import KEYS, QUOTE, ago

pytestmark = pytest.mark.integration

PROJECT = {
    "client": "深圳市南山区某实验学校",
    "site": "深圳市南山区学府路 88 号",
    "supervisor": "深圳某工程监理有限公司",
    "units": [{"serial_no": "XF1K2501000107", "model": "YD-XF1000"}],
    "contract_value": "1286000.00",
}


async def test_a_project_opened_while_kafka_is_down_is_kept_once_and_published_once_later(
    isolation, bus
) -> None:
    down = isolation.settings(
        EngineeringSettings,
        kafka_bootstrap_servers=unreachable_kafka(),
        kafka_ack_timeout_s=1.0,
        run_consumers=False,
    )
    opened, quotes = [], []
    quote = QUOTE | {
        "installer": "深圳某安装公司",
        "schedule": {"starts_on": ago(80), "finishes_on": ago(40)},
    }
    async with running(engineering_app(down)) as engineering:
        for _ in range(2):  # the first answer was lost: the caller retries with the same key
            opened.append(
                await engineering.post(
                    "/v1/projects",
                    json=PROJECT,
                    headers=KEYS["engineering"] | {"Idempotency-Key": "open-xf107"},
                )
            )
        pid = opened[0].json()["project_id"]
        for _ in range(2):
            quotes.append(
                await engineering.post(
                    f"/v1/projects/{pid}/quotes",
                    json=quote,
                    headers=KEYS["engineering"] | {"Idempotency-Key": "quote-1"},
                )
            )
        listed = await engineering.get("/v1/projects", headers=KEYS["engineering"])
    assert [r.status_code for r in opened + quotes] == [201] * 4, [r.text for r in opened + quotes]
    assert opened[1].json()["project_id"] == pid and listed.json()["total"] == 1
    assert quotes[0].json()["quote_id"] == quotes[1].json()["quote_id"]
    assert len(quotes[1].json()["project"]["quotes"]) == 1

    settings = isolation.settings(EngineeringSettings, outbox_relay_interval_s=0.5)
    async with running(engineering_app(settings)):
        records = await bus.keyed(
            "engineering.projects.v1",
            pid,
            lambda rs: any(r.headers.get("event_type") == b"project.opened" for r in rs),
            settle_s=1.5,
        )
    assert [r.headers["event_type"] for r in records].count(b"project.opened") == 1
