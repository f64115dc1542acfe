"""Kafka down: a command whose change is committed answers success; its event goes out once Kafka is back."""

from __future__ import annotations

import pytest

from dispatch.entrypoints.http import create_app as dispatch_app
from shared.testing.fixtures import running, unreachable_kafka
from shared.testing.identities import new_case_id

pytestmark = pytest.mark.integration


async def test_a_reply_while_kafka_is_down_is_kept_answered_and_published_once_later(
    dispatch_settings, events, keys, case_status
) -> None:
    case_id = new_case_id()
    async with running(dispatch_app(dispatch_settings())) as dispatch:
        await events.complaint(case_id)
        await case_status(dispatch, case_id, "assigned", keys["manager"])  # sp-liu's case

    down = dispatch_settings(
        kafka_bootstrap_servers=unreachable_kafka(), kafka_ack_timeout_s=1.0, run_consumers=False
    )
    reply = {"message": "已安排明早上门检修", "via": "phone"}
    headers = keys["specialist"] | {"Idempotency-Key": f"reply-{case_id}"}
    async with running(dispatch_app(down)) as dispatch:
        first = await dispatch.post(f"/v1/cases/{case_id}/replies", json=reply, headers=headers)
        retried = await dispatch.post(f"/v1/cases/{case_id}/replies", json=reply, headers=headers)
        other = await dispatch.post(
            f"/v1/cases/{case_id}/replies", json=reply | {"message": "改期"}, headers=headers
        )
    assert first.status_code == retried.status_code == 201, first.text
    assert first.json()["reply_id"] == retried.json()["reply_id"]
    assert len(retried.json()["case"]["replies"]) == 1
    assert other.status_code == 409  # the same key with another reply

    # Kafka is back: the relay of the next instance publishes the reply, once.
    async with running(dispatch_app(dispatch_settings())) as dispatch:
        replied = await events.dispatched(case_id, "case.replied")
        case = await case_status(dispatch, case_id, "in_progress", keys["manager"])
    assert len(replied) == 1 and replied[0].envelope().payload["reply_id"] == first.json()["reply_id"]
    assert [r["message"] for r in case["replies"]] == [reply["message"]]
