"""Kafka down: evidence is kept and answered; its new decision goes out once Kafka is back."""

from __future__ import annotations

import pytest

from shared.contracts.cases import CaseAssigned
from shared.contracts.envelope import make_envelope
from shared.contracts.registry import load_registry
from shared.testing.fixtures import running, unreachable_kafka
from shared.testing.identities import new_case_id
from warranty.config import WarrantySettings
from warranty.entrypoints.http import create_app as warranty_app

pytestmark = pytest.mark.integration

ASSIGNED = load_registry().get("dispatch.cases.v1").events[0].examples[0]["payload"]


async def test_evidence_while_kafka_is_down_is_kept_answered_and_decided_once_later(
    isolation, bus, keys
) -> None:
    case_id = new_case_id()
    settings = isolation.settings(WarrantySettings, outbox_relay_interval_s=0.5)
    async with running(warranty_app(settings)):
        payload = CaseAssigned.model_validate(ASSIGNED | {"case_id": case_id, "specialist_id": "sp-liu"})
        await bus.publish(
            "dispatch",
            make_envelope(
                payload,
                event_type="case.assigned",
                schema_version=1,
                correlation_id=case_id,
                producer="dispatch",
            ),
        )
        [first] = await bus.decisions(case_id, 1)

    down = isolation.settings(
        WarrantySettings,
        kafka_bootstrap_servers=unreachable_kafka(),
        kafka_ack_timeout_s=1.0,
        run_consumers=False,
    )
    evidence = {"confirmation": {"via": "phone"}, "note": "电话确认电机异响"}
    headers = keys["specialist"] | {"Idempotency-Key": f"evidence-{case_id}"}
    async with running(warranty_app(down)) as warranty:
        answered = await warranty.post(f"/v1/cases/{case_id}/evidence", json=evidence, headers=headers)
        retried = await warranty.post(f"/v1/cases/{case_id}/evidence", json=evidence, headers=headers)
    assert answered.status_code == retried.status_code == 201, answered.text
    assert len(retried.json()["evidence"]) == 1 and len(retried.json()["decisions"]) == 2

    async with running(warranty_app(settings)):
        records = await bus.decisions(case_id, 2, settle_s=1.5)
    assert len(records) == 2  # the first decision, and the one the evidence made: published once
    second = records[1].envelope()
    assert second.payload["supersedes"] == str(first.envelope().event_id)
    assert str(second.event_id) == answered.json()["latest_decision"]["event_id"]
