"""Replicas change no result: two instances each of dispatch, warranty and parts, commands sent to
both while events about the same cases flow, end exactly where one instance of each ends.

The guarantee comes from the store (version-checked writes, atomic stock moves), not from locks in
one process: an HTTP command on one replica and an event on the other both change the same case.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from dispatch.config import DispatchSettings
from dispatch.entrypoints.http import create_app as dispatch_app
from intake.domain.normalise import new_case_id
from parts.config import PartsSettings
from parts.entrypoints.http import create_app as parts_app
from shared.config import ServiceSettings
from shared.contracts.complaints import ComplaintReceived
from shared.contracts.envelope import make_envelope
from shared.contracts.registry import load_registry
from shared.kafka.publisher import EventPublisher
from shared.testing.fixtures import Isolation, eventually, running
from shared.testing.identities import key_headers
from shared.testing.kafka import group_lag, read_topic
from warranty.config import WarrantySettings
from warranty.entrypoints.http import create_app as warranty_app

from .test_scale_out import _members

pytestmark = pytest.mark.integration

EXAMPLE = load_registry().get("intake.complaints.v1").events[0].examples[0]["payload"]
MANAGER = key_headers()["manager"]
PURCHASING = key_headers()["purchasing"]
CASES, ROUNDS, STOCK = 4, 6, 8
REASSIGN_TO = ("sp-huang", "sp-ma", "sp-huang")  # each case, in this order: the last one holds


def _key(name: str) -> dict[str, str]:
    return {"Idempotency-Key": f"{name}-{uuid.uuid4().hex[:8]}"}


async def _groups_of_two(bootstrap: str, prefix: str) -> bool:
    counts = await asyncio.gather(
        *(_members(bootstrap, f"{prefix}{s}") for s in ("dispatch", "warranty", "parts"))
    )
    return all(n == 2 for n in counts)


async def run(iso: Isolation, instances: int) -> dict[str, Any]:
    """The scenario on `instances` replicas of each service; returns what it ended with."""
    bootstrap = iso.backends.kafka_bootstrap_servers
    intake = EventPublisher(iso.settings(ServiceSettings, service_name="intake"))
    await intake.start()
    async with AsyncExitStack() as stack:
        d = [
            await stack.enter_async_context(running(dispatch_app(iso.settings(DispatchSettings))))
            for _ in range(instances)
        ]
        w = [
            await stack.enter_async_context(running(warranty_app(iso.settings(WarrantySettings))))
            for _ in range(instances)
        ]
        p = [
            await stack.enter_async_context(running(parts_app(iso.settings(PartsSettings))))
            for _ in range(instances)
        ]
        if instances == 2:
            await eventually(lambda: _groups_of_two(bootstrap, iso.prefix), timeout_s=40)

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

        async def decided() -> bool:
            answers = await asyncio.gather(*(w[0].get(f"/v1/cases/{c}", headers=MANAGER) for c in case_ids))
            return all(a.status_code == 200 for a in answers)

        await eventually(decided, timeout_s=60)
        stocked = await p[0].post(
            "/v1/stock/YD-LX-H13-250/adjustments",
            json={"delta": STOCK, "reason": "入库"},
            headers=PURCHASING | _key("in"),
        )
        assert stocked.status_code == 200, stocked.text

        async def commands_on(case_id: str) -> None:
            """Replies and evidence sent to either replica at once, while reassignments (one after another)
            send case.reassigned through Kafka to whichever replica consumes that partition."""

            async def reply(i: int) -> httpx.Response:
                return await d[i % instances].post(
                    f"/v1/cases/{case_id}/replies",
                    headers=MANAGER | _key("reply"),
                    json={"message": f"第{i}次答复", "via": "phone"},
                )

            async def evidence(i: int) -> httpx.Response:
                return await w[(i + 1) % instances].post(
                    f"/v1/cases/{case_id}/evidence",
                    headers=MANAGER | _key("evidence"),
                    json={"part": "motor", "note": f"第{i}次证据"},
                )

            async def reassign() -> list[httpx.Response]:
                return [
                    await d[i % instances].post(
                        f"/v1/cases/{case_id}/assignment",
                        headers=MANAGER,
                        json={"specialist_id": to, "reason": f"轮换 {i}"},
                    )
                    for i, to in enumerate(REASSIGN_TO)
                ]

            answers = await asyncio.gather(
                *(reply(i) for i in range(ROUNDS)), *(evidence(i) for i in range(ROUNDS)), reassign()
            )
            *single, moves = answers
            assert all(r.status_code in (200, 201) for r in [*single, *moves]), [
                r.text for r in [*single, *moves]
            ]

        async def take_one(i: int) -> int:
            res = await p[i % instances].post(
                "/v1/stock/YD-LX-H13-250/adjustments",
                headers=PURCHASING | _key("out"),
                json={"delta": -1, "reason": f"领用 {i}"},
            )
            return res.status_code

        outcomes = await asyncio.gather(
            *(commands_on(c) for c in case_ids), *(take_one(i) for i in range(STOCK + 4))
        )
        stock_answers = Counter(outcomes[CASES:])

        async def settled() -> bool:
            # Warranty has handled every reassignment: comparing who it names with dispatch's assignee
            # alone is not enough, since the first reassignment names the same specialist as the last.
            if await group_lag(bootstrap, f"{iso.prefix}warranty", iso.topic("dispatch.cases.v1")):
                return False
            for case_id in case_ids:
                case = (await d[-1].get(f"/v1/cases/{case_id}", headers=MANAGER)).json()
                facts = (await w[-1].get(f"/v1/cases/{case_id}", headers=MANAGER)).json()
                if facts["specialist_id"] != case["assignee"] or len(facts["decisions"]) != 1 + ROUNDS:
                    return False
            return True

        try:
            await eventually(settled, timeout_s=60)
        except AssertionError:
            pass  # it never settled: what it ended with is compared below, and says what was lost
        ended: dict[str, Any] = {"stock_answers": dict(stock_answers)}
        stock = (await p[-1].get("/v1/stock", headers=PURCHASING)).json()["items"]
        ended["on_hand"] = {s["item"]: s["on_hand"] for s in stock}
        events = Counter()
        reassigned: dict[str, list[str]] = {case_id: [] for case_id in case_ids}
        for topic in ("dispatch.cases.v1", "warranty.decisions.v1"):
            records = await read_topic(
                bootstrap, iso.topic(topic), settle_s=1.0, until=lambda rs: len(rs) > 0
            )
            seen: set[Any] = set()
            for r in records:  # a case's events are on one partition, in offset order
                env = r.envelope()
                if env.event_id in seen:
                    continue  # a republished duplicate is harmless, a second event is not
                seen.add(env.event_id)
                events[env.event_type] += 1
                if env.event_type == "case.reassigned":
                    reassigned[env.correlation_id].append(env.payload["to_specialist_id"])
        for n, case_id in enumerate(case_ids):
            case = (await d[0].get(f"/v1/cases/{case_id}", headers=MANAGER)).json()
            facts = (await w[0].get(f"/v1/cases/{case_id}", headers=MANAGER)).json()
            ended[f"case {n}"] = {
                "assignee": case["assignee"],
                "replies": sorted(r["message"] for r in case["replies"]),
                "assignments": len(case["assignments"]),
                "warranty specialist": facts["specialist_id"],
                "evidence": sorted(e["note"] for e in facts["evidence"]),
                "decisions": len(facts["decisions"]),
                # The order the manager made them in is the order every consumer must see them in.
                "reassignments on the topic": reassigned[case_id],
            }
        ended["events"] = dict(events)
    await intake.stop()
    return ended


async def test_two_replicas_of_each_service_end_where_one_does(
    isolation, backends, dev_credentials_file
) -> None:
    single = Isolation(backends, uuid.uuid4().hex[:10], dev_credentials_file)
    try:
        alone = await run(single, instances=1)
    finally:
        await single.cleanup()
    replicated = await run(isolation, instances=2)

    # What one instance of each makes of it, as the regulation's rules say it must be ...
    assert alone["stock_answers"] == {200: STOCK, 409: 4} and alone["on_hand"] == {"YD-LX-H13-250": 0}
    for n in range(CASES):
        case = alone[f"case {n}"]
        assert case["replies"] == sorted(f"第{i}次答复" for i in range(ROUNDS))
        assert case["evidence"] == sorted(f"第{i}次证据" for i in range(ROUNDS))
        assert case["reassignments on the topic"] == list(REASSIGN_TO), case
        assert case["assignee"] == case["warranty specialist"] == REASSIGN_TO[-1], case
    assert alone["events"]["case.replied"] == CASES * ROUNDS
    assert alone["events"]["warranty.decided"] == CASES * (1 + ROUNDS)
    # ... and two of each end in exactly the same place: no change lost, nothing done twice.
    differences = {
        what: {"one instance": alone[what], "two": replicated.get(what)}
        for what in alone
        if replicated.get(what) != alone[what]
    }
    assert not differences, f"replicas changed the result: {differences}"
