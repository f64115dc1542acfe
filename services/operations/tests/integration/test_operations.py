"""Operations on the real broker: topics, lag, dead letters, replay once each, a case across topics."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.partitioner import DefaultPartitioner

from dispatch.config import DispatchSettings
from dispatch.entrypoints.http import create_app as dispatch_app
from operations.adapters.kafka_view import KafkaView
from operations.config import OperationsSettings
from operations.entrypoints.http import create_app as ops_app
from shared.config import ServiceSettings
from shared.contracts.complaints import ComplaintReceived
from shared.contracts.envelope import Envelope, encode, headers_for, make_envelope
from shared.contracts.registry import load_registry
from shared.contracts.warranty import WarrantyDecided
from shared.kafka.publisher import EventPublisher
from shared.testing.backends import repo_root
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
    publishers = {
        o: EventPublisher(isolation.settings(ServiceSettings, service_name=o)) for o in ("intake", "warranty")
    }
    async with (
        running(dispatch_app(isolation.settings(DispatchSettings, unknown_case_grace_s=1))) as dispatch,
        running(ops_app(isolation.settings(OperationsSettings, sample_interval_s=0.5))) as ops,
    ):
        yield dispatch, ops, publishers
    for p in publishers.values():
        await p.stop()


def complaint(case_id: str):
    payload = ComplaintReceived.model_validate(
        COMPLAINT | {"case_id": case_id, "received_at": datetime.now(UTC)}
    )
    return make_envelope(
        payload, event_type="complaint.received", schema_version=1, correlation_id=case_id, producer="intake"
    )


async def test_topics_lag_and_a_case_across_topics(stack) -> None:
    dispatch, ops, publishers = stack
    case_ids = [new_case_id() for _ in range(3)]
    for case_id in case_ids:
        await publishers["intake"].publish(complaint(case_id))

    async def drained():
        rows = (await ops.get("/v1/lag", headers=OPS)).json()["items"]
        mine = [r for r in rows if r["group"] == "dispatch" and r["topic"] == "intake.complaints.v1"]
        return (
            rows if mine and sum(r["end"] for r in mine) == 3 and all(r["lag"] == 0 for r in mine) else None
        )

    rows = await eventually(drained, timeout_s=30)
    assert {r["trend"] for r in rows} <= {"falling", "steady", "unknown", "rising"}
    topics = {t["topic"]: t for t in (await ops.get("/v1/topics", headers=OPS)).json()["items"]}
    assert (
        topics["intake.complaints.v1"]["messages"] == 3 and topics["intake.complaints.v1"]["partitions"] == 6
    )
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
    await publishers["warranty"].publish(
        make_envelope(
            decision,
            event_type="warranty.decided",
            schema_version=1,
            correlation_id=case_id,
            producer="warranty",
            occurred_at=old,
        )
    )

    async def dead():
        items = (await ops.get("/v1/dead-letters", params={"service": "dispatch"}, headers=OPS)).json()[
            "items"
        ]
        return items or None

    [letter] = await eventually(dead, timeout_s=30)
    assert (letter["exc_class"], letter["original_topic"], letter["key"]) == (
        "InvalidMessage",
        "warranty.decisions.v1",
        case_id,
    )
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
    records = await read_topic(
        isolation.backends.kafka_bootstrap_servers,
        isolation.topic("warranty.decisions.v1"),
        until=lambda rs: len(rs) >= 2,
        settle_s=1.0,
    )
    assert len(records) == 2  # the original and exactly one replay
    assert (
        records[1].headers["replayed_from"].decode()
        == f"dispatch.dead-letters.v1:{letter['partition']}:{letter['offset']}"
    )
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
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "operations.cli",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode(), err.decode()


def _example(event_type: str, case_id: str, seconds_later: int = 0) -> Envelope:
    """The registry's example of `event_type`, about `case_id`."""
    topic = REG.topic_of(event_type)
    spec = next(e for e in topic.events if e.type == event_type)
    payload = spec.payload_model.model_validate(spec.examples[0]["payload"] | {"case_id": case_id})
    return make_envelope(
        payload,
        event_type=event_type,
        schema_version=spec.schema_version,
        correlation_id=case_id,
        producer=topic.owner,
        occurred_at=datetime.now(UTC) + timedelta(seconds=seconds_later),
    )


def _same_partition_keys(case_id: str, partitions: int, n: int) -> list[str]:
    """Other case ids that Kafka's partitioner puts on the partition of `case_id`."""
    partitioner, parts = DefaultPartitioner(), list(range(partitions))
    target = partitioner(case_id.encode(), parts, parts)
    keys: list[str] = []
    while len(keys) < n:
        other = new_case_id()
        if partitioner(other.encode(), parts, parts) == target:
            keys.append(other)
    return keys


async def test_a_case_shows_its_events_on_every_topic_however_many_came_after(isolation) -> None:
    """The case's events on intake, dispatch, warranty and engineering topics, though each topic had
    hundreds of other cases' events on the same partition after them."""
    case_id = new_case_id()
    publishers = {
        o: EventPublisher(isolation.settings(ServiceSettings, service_name=o))
        for o in ("intake", "dispatch", "warranty", "engineering")
    }
    try:
        mine = [
            complaint(case_id),
            _example("case.assigned", case_id, 1),
            _example("warranty.decided", case_id, 2),
            _example("installation.case_linked", case_id, 3),
        ]
        for env in mine:
            await publishers[env.producer].publish(env)
        for env in mine[1:]:  # then many events of other cases, on the same partitions
            topic = REG.topic_of(env.event_type)
            for other in _same_partition_keys(case_id, topic.partitions, 250):
                filler = _example(env.event_type, other)
                await publishers[env.producer].send(
                    isolation.topic(topic.name), other.encode(), encode(filler), headers_for(filler)
                )
    finally:
        for p in publishers.values():
            await p.stop()
    view = KafkaView(isolation.backends.kafka_bootstrap_servers, isolation.prefix)
    events = await view.case_events(case_id)
    await view.close()
    assert [(e["topic"], e["event_id"]) for e in events] == [
        (REG.topic_of(env.event_type).name, str(env.event_id)) for env in mine
    ]


async def test_lag_shows_every_partition_a_group_holds_as_kafkas_own_tool_does(isolation) -> None:
    """A group holding partitions it never committed on (stuck on the first message) lags on each,
    row for row with kafka-consumer-groups --describe."""
    libs = repo_root() / ".local" / "cache" / "kafka" / "libs"
    if not list(libs.glob("kafka-tools-*.jar")):
        pytest.fail(f"Kafka's tools are not in {libs}: run deploy/local/stack.sh up infra (it fetches them)")
    bootstrap = isolation.backends.kafka_bootstrap_servers
    publisher = EventPublisher(isolation.settings(ServiceSettings, service_name="intake"))
    for _ in range(8):
        await publisher.publish(complaint(new_case_id()))
    await publisher.stop()
    group, topic = isolation.topic("dispatch"), isolation.topic("intake.complaints.v1")
    consumer = AIOKafkaConsumer(
        topic,
        group_id=group,
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    # A second group on the same topic: the view describes every group (aiokafka misread Kafka 4.1's
    # answer for several groups in one request, and the lag lost its "assigned" column).
    other = AIOKafkaConsumer(
        topic,
        group_id=isolation.topic("notifications"),
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    await other.start()
    try:
        await eventually(
            lambda: len(consumer.assignment()) == 6 and len(other.assignment()) == 6, timeout_s=30
        )
        ends = await consumer.end_offsets(sorted(consumer.assignment()))
        done = next(tp for tp, end in sorted(ends.items()) if end > 0)
        await consumer.commit({done: ends[done]})  # one partition read to its end, the others never
        view = KafkaView(bootstrap, isolation.prefix)
        rows = await view.lag()
        await view.close()
        kafka = await _kafka_describe(libs, bootstrap, group)
    finally:
        await consumer.stop()
        await other.stop()
    theirs = [r for r in rows if r["group"] == "notifications"]
    assert len(theirs) == 6 and all(r["assigned"] and r["committed"] is None for r in theirs)
    ours = {(r["topic"], r["partition"]): r for r in rows if r["group"] == "dispatch"}
    assert set(ours) == {(t.removeprefix(isolation.prefix), p) for t, p in kafka}
    assert len(ours) == 6
    for (t, p), (current, end, lag) in kafka.items():
        row = ours[(t.removeprefix(isolation.prefix), p)]
        assert row["end"] == end and row["assigned"]
        assert row["committed"] == current  # None where Kafka shows "-"
        assert row["lag"] == (lag if lag is not None else end)  # never committed: all of it waits
    assert sum(r["lag"] for r in ours.values()) == 8 - ends[done]


async def _kafka_describe(
    libs: Path, bootstrap: str, group: str
) -> dict[tuple[str, int], tuple[Any, int, Any]]:
    """kafka-consumer-groups --describe: (topic, partition) -> (current offset, log end, lag); "-" is None."""
    proc = await asyncio.create_subprocess_exec(
        "java",
        "-cp",
        f"{libs}/*",
        "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
        "--bootstrap-server",
        bootstrap,
        "--describe",
        "--group",
        group,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()
    rows: dict[tuple[str, int], tuple[Any, int, Any]] = {}
    for line in out.decode().splitlines():
        cells = line.split()
        if len(cells) >= 6 and cells[0] == group:
            current, end, lag = cells[3], int(cells[4]), cells[5]
            rows[(cells[1], int(cells[2]))] = (
                None if current == "-" else int(current),
                end,
                None if lag == "-" else int(lag),
            )
    return rows


async def test_a_replay_of_what_does_not_exist_is_refused_before_anything_is_read(stack) -> None:
    dispatch, ops, publishers = stack
    chosen = {
        "dead_letters": [
            {"dead_letter_topic": "nosuch.dead-letters.v1", "partition": 0, "offset": 0},
            {"dead_letter_topic": "dispatch.dead-letters.v1", "partition": 99, "offset": 0},
            {"dead_letter_topic": "dispatch.dead-letters.v1", "partition": 0, "offset": 2**63 - 1},
        ]
    }
    res = await ops.post("/v1/dead-letters/replay", json=chosen, headers=OPS)
    assert res.status_code == 422
    assert [e["field"] for e in res.json()["errors"]] == [
        "dead_letters.0.dead_letter_topic",
        "dead_letters.1.partition",
        "dead_letters.2.offset",
    ]
    assert "nosuch.dead-letters.v1" in res.json()["errors"][0]["message"]
    assert (await ops.get("/v1/replays", headers=OPS)).json()["items"] == []
    too_far = {
        "dead_letters": [{"dead_letter_topic": "dispatch.dead-letters.v1", "partition": 0, "offset": 2**63}]
    }
    assert (await ops.post("/v1/dead-letters/replay", json=too_far, headers=OPS)).status_code == 422


async def test_dead_letters_of_every_service_are_listed(isolation) -> None:
    publishers = {
        s: EventPublisher(isolation.settings(ServiceSettings, service_name=s))
        for s in ("dispatch", "warranty", "parts", "engineering")
    }
    try:
        for service, publisher in publishers.items():
            await publisher.start()  # creates its dead-letter topic
            await publisher.send(
                isolation.topic(f"{service}.dead-letters.v1"),
                b"YD-0000000001",
                b"{}",
                [
                    ("original_topic", b"dispatch.cases.v1"),
                    ("exc_class", b"InvalidMessage"),
                    ("exc_msg", service.encode()),
                    ("service", service.encode()),
                ],
            )
    finally:
        for p in publishers.values():
            await p.stop()
    letters = await KafkaView(isolation.backends.kafka_bootstrap_servers, isolation.prefix).dead_letters()
    assert sorted((d["service"], d["exc_msg"]) for d in letters) == sorted((s, s) for s in publishers)


async def test_dead_letters_stay_listed_once_the_broker_lost_a_leader(isolation) -> None:
    """After a broker restart aiokafka tracks only the topics whose leader it missed on its long-lived
    consumer; the dead letters were then absent from every listing (a chaos run counted 0 of 45)."""
    publisher = EventPublisher(isolation.settings(ServiceSettings, service_name="dispatch"))
    await publisher.start()
    try:
        await publisher.send(
            isolation.topic("dispatch.dead-letters.v1"),
            b"POISON-1",
            b"not json",
            [("original_topic", b"intake.complaints.v1"), ("exc_class", b"InvalidMessage")],
        )
    finally:
        await publisher.stop()
    view = KafkaView(isolation.backends.kafka_bootstrap_servers, isolation.prefix)
    try:
        assert [d["key"] for d in await view.dead_letters()] == ["POISON-1"]
        consumer, _ = view._probe  # the long-lived pair the listing used
        # What aiokafka's fetcher does for a partition whose leader it does not know.
        await consumer._client.add_topic(isolation.topic("intake.complaints.v1"))
        assert [d["key"] for d in await view.dead_letters()] == ["POISON-1"]
        assert "dispatch.dead-letters.v1" in await view.end_offsets()
    finally:
        await view.close()
