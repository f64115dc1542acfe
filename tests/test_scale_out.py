"""Two instances of a consumer service share the partitions and change no result (R-SU-1)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from dispatch.config import DispatchSettings
from dispatch.entrypoints.http import create_app as dispatch_app
from shared.config import ServiceSettings
from shared.contracts.complaints import ComplaintReceived
from shared.contracts.envelope import make_envelope
from shared.contracts.registry import load_registry
from shared.kafka.publisher import EventPublisher
from shared.testing.fixtures import eventually, running
from shared.testing.identities import key_headers, new_case_id
from shared.testing.kafka import read_topic
from warranty.config import WarrantySettings
from warranty.entrypoints.http import create_app as warranty_app

pytestmark = pytest.mark.integration

EXAMPLE = load_registry().get("intake.complaints.v1").events[0].examples[0]["payload"]
MANAGER = key_headers()["manager"]
CASES = 24


async def _members(bootstrap: str, group: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [response] = await admin.describe_consumer_groups([group])
        [described] = response.groups
        return len(described[5])  # (error_code, group, state, protocol_type, protocol, members)
    finally:
        await admin.close()


async def test_two_dispatch_and_two_warranty_workers_handle_every_case_once(isolation) -> None:
    bootstrap = isolation.backends.kafka_bootstrap_servers
    intake = EventPublisher(isolation.settings(ServiceSettings, service_name="intake"))
    await intake.start()  # creates the intake topic before the workers subscribe
    async with (
        running(dispatch_app(isolation.settings(DispatchSettings))) as dispatch_a,
        running(dispatch_app(isolation.settings(DispatchSettings))) as dispatch_b,
        running(warranty_app(isolation.settings(WarrantySettings))) as warranty_a,
        running(warranty_app(isolation.settings(WarrantySettings))) as warranty_b,
    ):
        # Both instances of each service joined the same consumer group.
        await eventually(lambda: _both(bootstrap, isolation.prefix), timeout_s=30)

        case_ids = [new_case_id() for _ in range(CASES)]
        for case_id in case_ids:
            payload = ComplaintReceived.model_validate(
                EXAMPLE | {"case_id": case_id, "received_at": datetime.now(UTC)}
            )
            await intake.publish(
                make_envelope(
                    payload,
                    event_type="complaint.received",
                    schema_version=1,
                    correlation_id=case_id,
                    producer="intake",
                )
            )

        async def all_decided():
            decisions = await read_topic(
                bootstrap,
                isolation.topic("warranty.decisions.v1"),
                until=lambda rs: len({r.key for r in rs}) >= CASES,
                settle_s=2.0,
            )
            return decisions if len({r.key for r in decisions}) == CASES else None

        decisions = await eventually(all_decided, timeout_s=60)
        assigned = await read_topic(
            bootstrap, isolation.topic("dispatch.cases.v1"), settle_s=0.5, until=lambda rs: len(rs) >= CASES
        )
        # Exactly once in effect: one assignment event id and one decision event id per case ...
        assigned_ids = {
            (r.key, r.envelope().event_id) for r in assigned if r.headers["event_type"] == b"case.assigned"
        }
        assert Counter(key for key, _ in assigned_ids) == {c.encode(): 1 for c in case_ids}
        assert len({(r.key, r.envelope().event_id) for r in decisions}) == CASES
        # ... and one case with one assignment, whichever instance is asked (they share the store).
        for case_id in case_ids[:6]:
            case = (await dispatch_b.get(f"/v1/cases/{case_id}", headers=MANAGER)).json()
            assert len(case["assignments"]) == 1
            assert (await dispatch_a.get(f"/v1/cases/{case_id}", headers=MANAGER)).json()["assignee"] == case[
                "assignee"
            ]
        facts = (await warranty_a.get(f"/v1/cases/{case_ids[0]}", headers=MANAGER)).json()
        assert len(facts["decisions"]) == 1
        assert (await warranty_b.get(f"/v1/cases/{case_ids[-1]}", headers=MANAGER)).status_code == 200
    await intake.stop()


async def _both(bootstrap: str, prefix: str) -> bool:
    counts = await asyncio.gather(
        _members(bootstrap, f"{prefix}dispatch"), _members(bootstrap, f"{prefix}warranty")
    )
    return all(n == 2 for n in counts)
