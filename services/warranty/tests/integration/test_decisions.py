"""Warranty on the real stack: decisions reach dispatch, evidence re-decides, installations register units."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaProducer

from shared.contracts.engineering import InstallationAccepted
from shared.contracts.envelope import make_envelope
from shared.testing.fixtures import eventually
from shared.testing.identities import new_case_id
from shared.testing.kafka import read_topic

pytestmark = pytest.mark.integration


async def _dispatch_warranty(suite, case_id, keys, predicate):
    async def check():
        res = await suite["dispatch"].get(f"/v1/cases/{case_id}", headers=keys["manager"])
        w = res.json().get("warranty") if res.status_code == 200 else None
        return w if w and predicate(w) else None

    return await eventually(check, timeout_s=30)


async def test_an_assigned_case_is_decided_and_dispatch_shows_it(suite, bus, keys, ticket) -> None:
    posted = await suite["intake"].post("/v1/complaints/dealer", json=ticket(), headers=keys["dealer"])
    case_id = posted.json()["case_id"]

    first = await _dispatch_warranty(suite, case_id, keys, lambda w: True)
    # Not yet confirmed with customer and dealer (§三.2.1): evidence needed, the likely outcome named.
    assert (first["decision"], first["remedy"]) == ("needs_evidence", "none")
    assert first["reasons"][0]["code"] == "fault_not_confirmed"
    assert "covered/free_repair" in first["reasons"][0]["message_en"]
    assert first["warranty"] == [
        {"basis": "purchase", "kind": "product", "start": "2026-03-18", "end": "2027-03-18"}
    ]

    # The specialist calls the customer and the dealer: confirmed. The case is decided again.
    res = await suite["warranty"].post(
        f"/v1/cases/{case_id}/evidence",
        json={"confirmation": {"via": "phone"}, "note": "电话确认电机异响"},
        headers=keys["specialist"],
    )
    assert res.status_code == 201, res.text
    assert res.json()["latest_decision"]["decision"] == "covered"

    second = await _dispatch_warranty(suite, case_id, keys, lambda w: w["decision"] == "covered")
    assert (second["remedy"], second["key_part"]) == ("free_repair", "motor")
    assert [r["code"] for r in second["reasons"]] == ["within_product_warranty", "free_repair_in_warranty"]
    records = await bus.decisions(case_id, 2)
    assert records[1].envelope().payload["supersedes"] == str(records[0].envelope().event_id)
    assert records[1].envelope().payload["rule_set"] == "2026-11-01"

    # A cause found on inspection changes it again: voltage damage is not covered.
    res = await suite["warranty"].post(
        f"/v1/cases/{case_id}/evidence",
        json={"cause": "voltage_damage", "note": "现场检测：缺相烧毁控制板"},
        headers=keys["specialist"],
    )
    third = await _dispatch_warranty(suite, case_id, keys, lambda w: w["decision"] == "chargeable")
    assert [r["code"] for r in third["reasons"]] == ["voltage_damage"]

    case = (await suite["dispatch"].get(f"/v1/cases/{case_id}", headers=keys["manager"])).json()
    assert [e["event_type"] for e in case["timeline"]].count("warranty.decided") == 3


async def test_missing_documents_ask_for_evidence(suite, keys, ticket) -> None:
    body = ticket(ticket_id="T-W2")
    body["product"] = body["product"] | {"service_card_stamped": False}
    case_id = (await suite["intake"].post("/v1/complaints/dealer", json=body, headers=keys["dealer"])).json()[
        "case_id"
    ]
    await _dispatch_warranty(suite, case_id, keys, lambda w: True)
    res = await suite["warranty"].post(
        f"/v1/cases/{case_id}/evidence", json={"confirmation": {"via": "wechat"}}, headers=keys["specialist"]
    )
    decision = res.json()["latest_decision"]
    assert decision["decision"] == "needs_evidence" and decision["reasons"] == ["missing_documents"]
    res = await suite["warranty"].post(
        f"/v1/cases/{case_id}/evidence",
        json={"documents": {"service_card_stamped": True}},
        headers=keys["specialist"],
    )
    assert res.json()["latest_decision"]["decision"] == "covered"


async def test_accepted_installation_registers_units_and_decides_on_acceptance(suite, bus, keys) -> None:
    accepted_on = (datetime.now(UTC) - timedelta(days=90)).date()
    accepted = InstallationAccepted(
        project_id="P-2026-017",
        client="深圳某实验学校",
        site="深圳市南山区学府路88号",
        accepted_on=accepted_on,
        units=[
            {"serial_no": "XF1K2501000007", "model": "YD-XF1000"},
            {"serial_no": "XF1K2501000008", "model": "YD-XF1000"},
        ],
    )
    env = make_envelope(
        accepted,
        event_type="installation.accepted",
        schema_version=1,
        correlation_id="P-2026-017",
        producer="engineering",
    )
    await bus.publish("engineering", env)
    await bus.publish("engineering", env)  # delivered twice: registered once

    async def registered():
        res = await suite["warranty"].get("/v1/warranty/units/XF1K2501000007", headers=keys["manager"])
        return res.json() if res.status_code == 200 else None

    unit = await eventually(registered)
    assert [(r["project_id"], r["accepted_on"]) for r in unit["registrations"]] == [
        ("P-2026-017", str(accepted_on))
    ]
    kinds = {c["kind"]: c for c in unit["clocks"]}
    assert (
        kinds["installed_equipment"]["start"] == str(accepted_on)
        and kinds["installed_equipment"]["covers_today"]
    )
    assert kinds["installation_workmanship"]["basis"] == "acceptance"

    report = {
        "manager_id": "RM-SOUTH-01",
        "region": "华南",
        "customer": {"name": "深圳某实验学校", "phone": "0755-87654321"},
        "product": {"model": "YD-XF1000", "serial_no": "XF1K2501000007"},
        "description": "机组主板报错停机",
        "project_ref": "P-2026-017",
    }
    case_id = (
        await suite["intake"].post(
            "/v1/complaints/regional-manager", json=report, headers=keys["regional_manager"]
        )
    ).json()["case_id"]
    decision = await _dispatch_warranty(suite, case_id, keys, lambda w: True)
    assert {c["basis"] for c in decision["warranty"]} == {"acceptance"}
    # No invoice and no service card, yet no documents are asked for: the acceptance proves the period.
    assert "missing_documents" not in [r["code"] for r in decision["reasons"]]
    assert "within_installed_equipment_warranty" in [r["code"] for r in decision["reasons"]]


async def test_dry_run_decides_without_a_trace(warranty, keys, isolation) -> None:
    body = {
        "product": {
            "serial_no": "XF2502405001234",
            "purchase_date": "2026-11-20",
            "invoice_no": "1",
            "service_card_stamped": True,
        },
        "fault": {"kind": "hardware", "part": "motor", "reported_on": "2026-11-25"},
    }
    res = await warranty.post("/v1/warranty/assess", json=body, headers=keys["specialist"])
    assert res.status_code == 200
    assert (res.json()["decision"], res.json()["remedy"], res.json()["options"]) == (
        "covered",
        "return",
        ["return", "exchange", "free_repair"],
    )
    assert (
        await warranty.get("/v1/warranty/units/XF2502405001234", headers=keys["manager"])
    ).status_code == 404
    bad = await warranty.post(
        "/v1/warranty/assess",
        json=body | {"fault": body["fault"] | {"cause": "aliens"}},
        headers=keys["specialist"],
    )
    assert bad.status_code == 422 and "fault.cause" in bad.text
    assert (await warranty.post("/v1/warranty/assess", json=body, headers=keys["dealer"])).status_code == 403
    sets = (await warranty.get("/v1/warranty/rule-sets", headers=keys["manager"])).json()
    assert sets["in_effect"] == "2026-11-01" and sets["rule_sets"][0]["return_within_days"] == 7


async def test_evidence_is_for_the_assigned_specialist_or_the_manager(suite, keys, ticket) -> None:
    case_id = (
        await suite["intake"].post(
            "/v1/complaints/dealer", json=ticket(ticket_id="T-W3"), headers=keys["dealer"]
        )
    ).json()["case_id"]
    await _dispatch_warranty(suite, case_id, keys, lambda w: True)
    url = f"/v1/cases/{case_id}/evidence"
    ok = {"confirmation": {"via": "on_site"}}
    assert (await suite["warranty"].post(url, json=ok, headers=keys["engineering"])).status_code == 403
    assert (await suite["warranty"].post(url, json=ok, headers=keys["dealer"])).status_code == 403
    assert (await suite["warranty"].post(url, json={}, headers=keys["manager"])).status_code == 422
    assert (
        await suite["warranty"].post("/v1/cases/YD-0000000000/evidence", json=ok, headers=keys["manager"])
    ).status_code == 404
    assert (await suite["warranty"].post(url, json=ok, headers=keys["manager"])).status_code == 201


async def test_a_bogus_payload_lands_in_warranty_dead_letters(warranty, isolation) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=isolation.backends.kafka_bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(
            isolation.topic("dispatch.cases.v1"), b"\xff\xfe not an event", key=b"YD-X"
        )
    finally:
        await producer.stop()
    [dead] = await read_topic(
        isolation.backends.kafka_bootstrap_servers,
        isolation.topic("warranty.dead-letters.v1"),
        until=lambda r: len(r) >= 1,
    )
    assert dead.headers["service"] == b"warranty" and dead.headers["exc_class"] == b"InvalidMessage"
    assert dead.headers["original_topic"] == b"dispatch.cases.v1"


async def test_the_same_assignment_delivered_twice_decides_once(warranty, bus, keys) -> None:
    from shared.contracts.cases import CaseAssigned
    from shared.contracts.registry import load_registry

    example = load_registry().get("dispatch.cases.v1").events[0].examples[0]["payload"]
    case_id = new_case_id()
    assigned = CaseAssigned.model_validate(example | {"case_id": case_id})
    env = make_envelope(
        assigned, event_type="case.assigned", schema_version=1, correlation_id=case_id, producer="dispatch"
    )
    await bus.publish("dispatch", env)
    await bus.publish("dispatch", env)
    # Both deliveries share a partition; give the second time to be handled before counting.
    records = await bus.decisions(case_id, 1, settle_s=3.0)
    assert len({r.envelope().event_id for r in records}) == 1
    assert records[0].envelope().causation_id == env.event_id
    facts = (await warranty.get(f"/v1/cases/{case_id}", headers=keys["manager"])).json()
    assert len(facts["decisions"]) == 1


async def test_sale_dates_before_the_model_was_launched_are_422(warranty, bus, keys) -> None:
    """No warranty is decided on a year-1 purchase: a sale date before the catalogue's launch of the
    model is refused, naming the field, in the dry run and in a case's evidence."""
    body = {
        "product": {"model": "YD-XF250", "purchase_date": "0001-01-01", "invoice_no": "1"},
        "fault": {"kind": "hardware", "part": "motor", "reported_on": "2026-11-25"},
    }
    res = await warranty.post("/v1/warranty/assess", json=body, headers=keys["specialist"])
    assert res.status_code == 422
    assert [(e["field"], "2019-03-01" in e["message"]) for e in res.json()["errors"]] == [
        ("product.purchase_date", True)
    ]

    from shared.contracts.cases import CaseAssigned
    from shared.contracts.registry import load_registry

    example = load_registry().get("dispatch.cases.v1").events[0].examples[0]["payload"]
    unit = example["product"] | {"model": "YD-XF1000", "serial_no": "XF1K2501000007", "purchase_date": None}
    assigned = CaseAssigned.model_validate(example | {"case_id": "YD-2AWNCH0001", "product": unit})
    await bus.publish(
        "dispatch",
        make_envelope(
            assigned,
            event_type="case.assigned",
            schema_version=1,
            correlation_id="YD-2AWNCH0001",
            producer="dispatch",
        ),
    )

    async def known():
        return (await warranty.get("/v1/cases/YD-2AWNCH0001", headers=keys["manager"])).status_code == 200

    await eventually(known, timeout_s=30)
    early = {"documents": {"invoice_no": "44001234", "invoice_date": "2021-01-01"}}
    res = await warranty.post("/v1/cases/YD-2AWNCH0001/evidence", json=early, headers=keys["manager"])
    assert res.status_code == 422
    [error] = res.json()["errors"]
    assert error["field"] == "documents.invoice_date" and "YD-XF1000" in error["message"]
    fine = {"documents": {"invoice_no": "44001234", "invoice_date": "2025-02-01"}}
    assert (
        await warranty.post("/v1/cases/YD-2AWNCH0001/evidence", json=fine, headers=keys["manager"])
    ).status_code == 201
