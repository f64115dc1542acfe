"""Kafka down: a parts request and a quote are kept and answered once each; their events go out once
Kafka is back. A retried request never makes a second request or quote."""

from __future__ import annotations

import pytest
from pymongo import AsyncMongoClient

from parts.entrypoints.http import create_app as parts_app
from shared.testing.fixtures import eventually, running, unreachable_kafka
from shared.testing.identities import new_case_id

pytestmark = pytest.mark.integration


async def test_requests_and_quotes_while_kafka_is_down_are_kept_and_published_once_later(
    parts_settings, scenario, keys, prices
) -> None:
    case_id = new_case_id()
    async with running(parts_app(parts_settings())) as parts:
        assert (
            await parts.post("/v1/price-lists", json=prices(), headers=keys["finance"])
        ).status_code == 201
        stocked = await parts.post(
            "/v1/stock/YD-LX-H13-250/adjustments",
            json={"delta": 5, "reason": "入库"},
            headers=keys["purchasing"],
        )
        assert stocked.status_code == 200, stocked.text
        await scenario.assigned(case_id)
        mongo: AsyncMongoClient = AsyncMongoClient(parts_settings().mongodb_url)
        try:
            await eventually(
                lambda: mongo[parts_settings().database_name]["cases"].find_one({"_id": case_id})
            )
        finally:
            await mongo.close()

    down = parts_settings(
        kafka_bootstrap_servers=unreachable_kafka(), kafka_ack_timeout_s=1.0, run_consumers=False
    )
    opened, quoted = [], []
    request_body = {"case_id": case_id, "part": "control_board"}
    quote_body = {
        "case_id": case_id,
        "items": [{"item": "YD-LX-H13-250", "quantity": 2}, {"item": "YD-LX-C-600", "quantity": 1}],
    }
    async with running(parts_app(down)) as parts:
        for _ in range(2):  # the caller did not hear the first answer and retries with the same key
            opened.append(
                await parts.post(
                    "/v1/parts-requests",
                    json=request_body,
                    headers=keys["specialist"] | {"Idempotency-Key": f"open-{case_id}"},
                )
            )
            quoted.append(
                await parts.post(
                    "/v1/quotes",
                    json=quote_body,
                    headers=keys["specialist"] | {"Idempotency-Key": f"quote-{case_id}"},
                )
            )
    assert [r.status_code for r in opened + quoted] == [201] * 4, [r.text for r in opened + quoted]
    assert opened[0].json()["request_id"] == opened[1].json()["request_id"]
    assert opened[0].json()["state"] == "sourcing_locally"
    assert quoted[0].json()["quote"]["quote_id"] == quoted[1].json()["quote"]["quote_id"]
    assert quoted[0].json()["quote"]["total"] == "536.00"
    [purchase] = quoted[0].json()["purchase_requests"]  # the carbon filter is out of stock
    assert quoted[1].json()["purchase_requests"][0]["request_id"] == purchase["request_id"]

    async with running(parts_app(parts_settings())) as parts:
        events = await scenario.parts_events(
            case_id,
            lambda rs: (
                {r.headers.get("event_type") for r in rs}
                >= {b"parts.request_opened", b"quote.issued", b"purchase.requested"}
            ),
        )
        listed = await parts.get(
            "/v1/parts-requests", params={"case_id": case_id}, headers=keys["specialist"]
        )
    kinds = sorted(r.headers["event_type"].decode() for r in events)
    assert kinds == ["parts.request_opened", "purchase.requested", "quote.issued"]
    assert len(listed.json()["items"]) == 1
