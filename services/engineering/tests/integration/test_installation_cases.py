"""Installation complaints on the real stack: linked once to their project, maintained, bogus input dead-lettered."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaProducer

from shared.periods import china_today
from shared.testing.fixtures import eventually
from shared.testing.identities import new_case_id
from shared.testing.kafka import read_topic

pytestmark = pytest.mark.integration

# Case numbers as intake issues them (each test has its own topics and database).
INSTALL_1, INSTALL_2, INSTALL_3, TWICE, QUALITY = (new_case_id() for _ in range(5))


async def linked(engineering, case_id: str, keys) -> dict:
    async def check():
        res = await engineering.get(f"/v1/installation-cases/{case_id}", headers=keys["specialist"])
        return res.json() if res.status_code == 200 else None

    return await eventually(check)


async def test_an_installation_complaint_is_linked_and_its_maintenance_recorded(
    engineering, drive, bus, keys
) -> None:
    pid = await drive.open("P-2026-017")
    await drive.to_accepted(pid)
    env = await bus.assigned(
        INSTALL_1, product={"serial_no": "XF1K2501000008", "model": None}, project_ref="P-2099-001"
    )
    case = await linked(engineering, INSTALL_1, keys)
    assert (case["project_id"], case["linked_via"], case["model"]) == (pid, "serial_no", "YD-XF1000")
    assert case["project"]["accepted_on"] == china_today().isoformat()
    [link] = await bus.keyed("engineering.case-work.v1", INSTALL_1, lambda rs: len(rs) >= 1)
    assert (
        link.envelope().event_type == "installation.case_linked"
        and link.envelope().causation_id == env.event_id
    )
    assert link.envelope().payload == {
        "case_id": INSTALL_1,
        "project_id": pid,
        "serial_no": "XF1K2501000008",
        "linked_by": "engineering",
    }

    # Staff record the work; a retried request (same Idempotency-Key) records it once.
    today = china_today().isoformat()
    work = {"work_done": "重新密封风管接口", "done_on": today, "note": "接口胶条老化"}
    url = f"/v1/installation-cases/{INSTALL_1}/maintenance"
    headers = keys["engineering"] | {"Idempotency-Key": "visit-1"}
    first = await engineering.post(url, json=work, headers=headers)
    second = await engineering.post(url, json=work, headers=headers)
    assert first.status_code == second.status_code == 201, first.text
    assert len(second.json()["case"]["maintenance"]) == 1
    assert first.json()["case"]["maintenance"][0]["within_maintenance_year"] is True
    assert (await engineering.post(url, json=work, headers=keys["specialist"])).status_code == 403
    assert (
        await engineering.post(url, json=work | {"done_on": "2999-01-01"}, headers=keys["engineering"])
    ).status_code == 422
    assert (
        await engineering.post(
            f"/v1/installation-cases/{new_case_id()}/maintenance", json=work, headers=keys["engineering"]
        )
    ).status_code == 404

    records = await bus.keyed(
        "engineering.case-work.v1",
        INSTALL_1,
        lambda rs: any(r.headers.get("event_type") == b"installation.maintenance_recorded" for r in rs),
    )
    [recorded] = [
        r.envelope() for r in records if r.envelope().event_type == "installation.maintenance_recorded"
    ]
    assert recorded.payload == {
        "case_id": INSTALL_1,
        "project_id": pid,
        "work_done": "重新密封风管接口",
        "within_maintenance_year": True,
        "by": "eng-wu",
        "done_on": today,
    }

    # No serial on any equipment list: the project named by the channel; nothing at all: no project.
    await bus.assigned(INSTALL_2, product={"serial_no": "XF2502405009999"}, project_ref=" p-2026-017 ")
    await bus.assigned(INSTALL_3, product={"serial_no": "XF2502405008888"})
    assert (await linked(engineering, INSTALL_2, keys))["linked_via"] == "project_ref"
    orphan = await linked(engineering, INSTALL_3, keys)
    assert orphan["project_id"] is None and orphan["project"] is None
    [none] = await bus.keyed("engineering.case-work.v1", INSTALL_3, lambda rs: len(rs) >= 1)
    assert none.envelope().payload["project_id"] is None
    await engineering.post(
        f"/v1/installation-cases/{INSTALL_3}/maintenance", json=work, headers=keys["engineering"]
    )
    orphan = await linked(engineering, INSTALL_3, keys)
    assert orphan["maintenance"][0]["within_maintenance_year"] is None

    project = (await engineering.get(f"/v1/projects/{pid}", headers=keys["specialist"])).json()
    assert sorted(c["case_id"] for c in project["installation_cases"]) == sorted([INSTALL_1, INSTALL_2])
    listing = (
        await engineering.get("/v1/installation-cases?unlinked=true", headers=keys["specialist"])
    ).json()
    assert [c["case_id"] for c in listing["items"]] == [INSTALL_3]


async def test_the_same_assignment_delivered_twice_links_once(engineering, bus, keys) -> None:
    env = await bus.assigned(TWICE)
    await bus.publish("dispatch", env)  # the very same event again (a producer retry, a replay)
    # Both deliveries share a partition; give the second time to be handled before counting.
    records = await bus.keyed("engineering.case-work.v1", TWICE, lambda rs: len(rs) >= 1, settle_s=3.0)
    assert len({r.envelope().event_id for r in records}) == 1
    case = await linked(engineering, TWICE, keys)
    assert case["source_event_id"] == str(env.event_id)
    listing = (await engineering.get("/v1/installation-cases", headers=keys["engineering"])).json()
    assert listing["total"] == 1


async def test_a_quality_case_is_not_engineering_s(engineering, bus, keys) -> None:
    await bus.assigned(QUALITY, department="quality", category="product_fault")
    # Same key, same partition, so the installation complaint behind it is handled after it.
    await bus.assigned(QUALITY, department="engineering_installation")
    records = await bus.keyed("engineering.case-work.v1", QUALITY, lambda rs: len(rs) >= 1, settle_s=1.0)
    assert len(records) == 1  # linked once, from the second (installation) assignment only
    assert (await linked(engineering, QUALITY, keys))["description"] == "风管接口漏水"


async def test_a_bogus_payload_lands_in_engineering_dead_letters(engineering, isolation) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=isolation.backends.kafka_bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(
            isolation.topic("dispatch.cases.v1"),
            b'{"event_type": "case.assigned", "payload": {}}',
            key=b"YD-BOGUS00001",
        )
    finally:
        await producer.stop()
    [dead] = await read_topic(
        isolation.backends.kafka_bootstrap_servers,
        isolation.topic("engineering.dead-letters.v1"),
        until=lambda r: len(r) >= 1,
    )
    assert dead.key == b"YD-BOGUS00001" and dead.headers["service"] == b"engineering"
    assert dead.headers["exc_class"] == b"InvalidMessage"
    assert dead.headers["original_topic"] == b"dispatch.cases.v1"
