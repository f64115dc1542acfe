"""Operations on the real broker: topics, lag, dead letters, replay once each, a case across topics."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime, timedelta

import pytest

from dispatch.config import DispatchSettings
from dispatch.entrypoints.http import create_app as dispatch_app
from operations.config import OperationsSettings
from operations.entrypoints.http import create_app as ops_app
from shared.config import ServiceSettings
from shared.contracts.complaints import ComplaintReceived
from shared.contracts.envelope import make_envelope
from shared.contracts.registry import load_registry
from shared.contracts.warranty import WarrantyDecided
from shared.kafka.publisher import EventPublisher
from shared.testing.fixtures import eventually, running
from shared.testing.identities import key_headers, new_case_id
from shared.testing.kafka import read_topic

pytestmark = pytest.mark.integration

OPS, MANAGER, DEALER = (key_headers()[role] for role in ("operations", "manager", "dealer"))
REG = load_registry()
COMPLAINT = REG.get("intake.complaints.v1").events[0].examples[0]["payload"]
DECIDED = REG.get("warranty.decisions.v1").events[0].examples[0]["payload"]


@pytest.fixture
async def stack(isolation):
    publishers = {o: EventPublisher(isolation.settings(ServiceSettings, service_name=o)) for o in ("intake", "warranty")}
    async with (
        running(dispatch_app(isolation.settings(DispatchSettings, unknown_case_grace_s=1))) as dispatch,
        running(ops_app(isolation.settings(OperationsSettings, sample_interval_s=0.5))) as ops,
    ):
        yield dispatch, ops, publishers
    for p in publishers.values():
        await p.stop()


def complaint(case_id: str):
    payload = ComplaintReceived.model_validate(COMPLAINT | {"case_id": case_id, "received_at": datetime.now(UTC)})
    return make_envelope(payload, event_type="complaint.received", schema_version=1, correlation_id=case_id,
                         producer="intake")


async def test_topics_lag_and_a_case_across_topics(stack) -> None:
    dispatch, ops, publishers = stack
    case_ids = [new_case_id() for _ in range(3)]
    for case_id in case_ids:
        await publishers["intake"].publish(complaint(case_id))

    async def drained():
        rows = (await ops.get("/v1/lag", headers=OPS)).json()["items"]
        mine = [r for r in rows if r["group"] == "dispatch" and r["topic"] == "intake.complaints.v1"]
        return rows if mine and sum(r["end"] for r in mine) == 3 and all(r["lag"] == 0 for r in mine) else None

    rows = await eventually(drained, timeout_s=30)
    assert {r["trend"] for r in rows} <= {"falling", "steady", "unknown", "rising"}
    topics = {t["topic"]: t for t in (await ops.get("/v1/topics", headers=OPS)).json()["items"]}
    assert topics["intake.complaints.v1"]["messages"] == 3 and topics["intake.complaints.v1"]["partitions"] == 6
    assert topics["intake.complaints.v1"]["avg_size_bytes"] > 500

    async def both():
        items = (await ops.get(f"/v1/cases/{case_ids[0]}/events", headers=OPS)).json()["items"]
        return items if {"complaint.received", "case.assigned"} <= {e["event_type"] for e in items} else None

    events = await eventually(both)
    assert events[0]["event_type"] == "complaint.received" and events[0]["topic"] == "intake.complaints.v1"
    page = await ops.get("/", headers=MANAGER)
    assert page.status_code == 200 and "intake.complaints.v1" in page.text and "Consumer lag" in page.text
    assert (await ops.get("/v1/topics", headers=DEALER)).status_code == 403


async def test_a_dead_letter_is_replayed_after_the_fix_once(stack, isolation) -> None:
    dispatch, ops, publishers = stack
    case_id = new_case_id()
    old = datetime.now(UTC) - timedelta(minutes=5)
    decision = WarrantyDecided.model_validate(DECIDED | {"case_id": case_id, "decided_at": old})
    await publishers["warranty"].publish(make_envelope(decision, event_type="warranty.decided", schema_version=1,
                                                       correlation_id=case_id, producer="warranty", occurred_at=old))

    async def dead():
        items = (await ops.get("/v1/dead-letters", params={"service": "dispatch"}, headers=OPS)).json()["items"]
        return items or None

    [letter] = await eventually(dead, timeout_s=30)
    assert (letter["exc_class"], letter["original_topic"], letter["key"]) == (
        "InvalidMessage", "warranty.decisions.v1", case_id)
    assert "unknown" in letter["exc_msg"]

    # The fix: the case now exists. Replay the decision.
    await publishers["intake"].publish(complaint(case_id))
    await eventually(lambda: _status(dispatch, case_id), timeout_s=20)
    chosen = {"dead_letters": [{k: letter[k] for k in ("dead_letter_topic", "partition", "offset")}]}
    assert (await ops.post("/v1/dead-letters/replay", json=chosen, headers=MANAGER)).status_code == 403
    first = (await ops.post("/v1/dead-letters/replay", json=chosen, headers=OPS)).json()["results"]
    again = (await ops.post("/v1/dead-letters/replay", json=chosen, headers=OPS)).json()["results"]
    assert first[0]["result"] == "replayed" and again[0]["result"] == "already_replayed"

    async def decided():
        case = (await dispatch.get(f"/v1/cases/{case_id}", headers=MANAGER)).json()
        return case["warranty"]

    assert (await eventually(decided, timeout_s=20))["decision"] == "covered"
    records = await read_topic(isolation.backends.kafka_bootstrap_servers, isolation.topic("warranty.decisions.v1"),
                               until=lambda rs: len(rs) >= 2, settle_s=1.0)
    assert len(records) == 2  # the original and exactly one replay
    assert records[1].headers["replayed_from"].decode() == f"dispatch.dead-letters.v1:{letter['partition']}:{letter['offset']}"
    log = (await ops.get("/v1/replays", headers=OPS)).json()["items"]
    assert [(r["state"], r["by"]) for r in log] == [("done", "ops-qian")]


async def _status(dispatch, case_id):
    res = await dispatch.get(f"/v1/cases/{case_id}", headers=MANAGER)
    return res.status_code == 200


async def test_the_command_line_reads_the_same_broker(stack, isolation) -> None:
    dispatch, ops, publishers = stack
    await publishers["intake"].publish(complaint(new_case_id()))
    env = os.environ | {
        "KAFKA_BOOTSTRAP_SERVERS": isolation.backends.kafka_bootstrap_servers,
        "MONGODB_URL": isolation.backends.mongodb_url,
        "TOPIC_PREFIX": isolation.prefix,
    }
    code, out, err = await _cli(env, "topics", "--interval", "0.5")
    assert code == 0, err
    line = next(ln for ln in out.splitlines() if ln.startswith("intake.complaints.v1"))
    assert line.split()[1:3] == ["6", "1"]
    code, out, err = await _cli(env, "dlq")
    assert code == 0 and "(none)" in out


async def _cli(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    """Run yingde-ops without blocking the loop the in-process services run on."""
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "operations.cli", *args, env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode(), err.decode()
