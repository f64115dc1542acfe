"""A project over HTTP on the real stack: gates refuse early moves, events reach Kafka, acceptance reaches warranty."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from shared.periods import china_today
from shared.testing.fixtures import eventually
from shared.testing.identities import new_case_id

pytestmark = pytest.mark.integration

PRICES = ("1286000", "9600.70", "880.00", "860.00", "65.40", "98765.40")


def ago(days: int) -> str:
    return (china_today() - timedelta(days=days)).isoformat()


def missing(res) -> list[str]:
    assert res.status_code == 409, res.text
    return [m["item"] for m in res.json()["missing"]]


async def test_the_lifecycle_over_http_publishes_its_events(engineering, drive, bus, keys) -> None:
    # A won bid: the number is drawn, the serials normalised, the models taken from the catalogue.
    res = await engineering.post(
        "/v1/projects",
        headers=keys["engineering"],
        json={
            "client": "深圳市南山区某实验学校",
            "site": "深圳市南山区学府路 88 号",
            "supervisor": "深圳某工程监理有限公司",
            "design_unit": "某建筑设计院",
            "contract_value": "1286000.00",
            "bid_won_on": ago(120),
            "units": [
                {"serial_no": "xf1k 2501000007", "model": "yd xf1000"},
                {"serial_no": "XF1K2501000008", "model": "YD-XF1000"},
            ],
        },
    )
    assert res.status_code == 201, res.text
    pid = res.json()["project_id"]
    assert re.fullmatch(rf"P-{china_today().year}-001", pid)
    assert res.json()["units"][0] == {"serial_no": "XF1K2501000007", "model": "YD-XF1000"}
    # The same unit cannot be on a second project's equipment list.
    again = await engineering.post(
        "/v1/projects",
        headers=keys["engineering"],
        json={
            "client": "x",
            "site": "y",
            "supervisor": "z",
            "contract_value": "1",
            "units": [{"serial_no": "XF1K2501000008", "model": "YD-XF1000"}],
        },
    )
    assert again.status_code == 409 and pid in again.text

    # R-EN-1: three quotes from three different installers before management sees it.
    await drive.quote(pid, "广州甲安装工程有限公司", "900.00")
    await drive.quote(pid, "佛山乙机电安装公司", "860.00")
    await drive.quote(pid, " 广州甲安装工程有限公司", "850.00")  # the same installer, revised
    early = await engineering.post(f"/v1/projects/{pid}/submission", headers=keys["engineering"])
    assert missing(early) == ["quotes"] and "(2 so far)" in early.text
    fourth = await drive.quote(pid, "深圳丙净化工程公司", "920.00")
    assert fourth["quote_id"] == "Q-4" and fourth["project"]["installers"] == [
        "广州甲安装工程有限公司",
        "佛山乙机电安装公司",
        "深圳丙净化工程公司",
    ]
    assert (
        await engineering.post(
            f"/v1/projects/{pid}/decision",
            headers=keys["management"],
            json={"quote_id": "Q-2", "reason": "最低价"},
        )
    ).json()["gate"] == "quotes_complete"
    await drive.call("POST", f"/v1/projects/{pid}/submission")

    compared = await drive.call("GET", f"/v1/projects/{pid}/comparison", role="management")
    assert compared["lowest_total"] == "Q-3" and compared["quotes"][1]["total"] == "9600.70"
    hidden = await drive.call("GET", f"/v1/projects/{pid}/comparison", role="specialist")
    assert hidden["prices_shown"] is False and "lowest_total" not in hidden
    assert not [p for p in PRICES if p in json.dumps(hidden, ensure_ascii=False)]

    assert (
        await engineering.post(
            f"/v1/projects/{pid}/decision",
            headers=keys["engineering"],
            json={"quote_id": "Q-2", "reason": "最低价"},
        )
    ).status_code == 403
    unknown = await engineering.post(
        f"/v1/projects/{pid}/decision",
        headers=keys["management"],
        json={"quote_id": "Q-9", "reason": "最低价"},
    )
    assert unknown.status_code == 422 and "quote_id" in unknown.text
    await drive.call(
        "POST",
        f"/v1/projects/{pid}/decision",
        {"quote_id": "Q-2", "reason": "价格合理，维保条款完整"},
        role="management",
    )
    await drive.call(
        "POST", f"/v1/projects/{pid}/contract", {"contract_no": "HT-2026-031", "signed_on": ago(90)}
    )

    # R-EN-2: works wait for the site lead, both contacts and every item of the entry paperwork.
    await drive.call("PUT", f"/v1/projects/{pid}/site-lead", {"name": "陈工"})
    await drive.call(
        "PUT", f"/v1/projects/{pid}/paperwork/crew_ids", {"document": "证件.pdf", "submitted_on": ago(85)}
    )
    early = await engineering.post(
        f"/v1/projects/{pid}/works-start", headers=keys["engineering"], json={"started_on": ago(80)}
    )
    assert missing(early) == [
        "contact.client",
        "contact.supervisor",
        "paperwork.equipment_certificates",
        "paperwork.material_certificates",
        "paperwork.commencement_report",
    ]
    checklist = await drive.call("GET", f"/v1/projects/{pid}/checklist", role="specialist")
    assert checklist["next_gate"] == "contacts_recorded"
    await drive.prepare(pid)
    await drive.works(pid)

    # R-EN-3: material only once the supervisor accepted it; the client's instructions kept.
    declared = await drive.call(
        "POST",
        f"/v1/projects/{pid}/materials",
        {"name": "镀锌风管", "spec": "δ0.8", "quantity": 130, "unit": "米", "certificate": "HG-2026-1101"},
        expect=201,
    )
    use = {"quantity": 20, "used_on": ago(70), "location": "三楼走廊"}
    refused = await engineering.post(
        f"/v1/projects/{pid}/materials/M-1/uses", headers=keys["engineering"], json=use
    )
    assert declared["material_id"] == "M-1" and missing(refused) == ["material.M-1.acceptance"]
    await drive.call(
        "POST",
        f"/v1/projects/{pid}/materials/M-1/inspection",
        {"inspected_by": "王总监", "inspected_on": ago(75), "document": "材料报验单 BY-01"},
    )
    used = await drive.call("POST", f"/v1/projects/{pid}/materials/M-1/uses", use, expect=201)
    assert used["materials"][0]["left"] == "110"
    await drive.call(
        "POST",
        f"/v1/projects/{pid}/instructions",
        {"received_on": ago(55), "given_by": "李主任", "instruction": "教学区施工避开上课时间"},
        expect=201,
    )

    # R-EN-4: acceptance waits for the four preconditions, then its steps in order.
    early = await engineering.post(
        f"/v1/projects/{pid}/acceptance/self_check",
        headers=keys["engineering"],
        json={"document": "自检.pdf"},
    )
    assert missing(early) == [
        "precondition.scope_complete",
        "precondition.self_inspection",
        "precondition.rectifications_closed",
        "precondition.archives_complete",
    ]
    await drive.preconditions(pid)
    early = await engineering.post(
        f"/v1/projects/{pid}/acceptance/supervisor_signed",
        headers=keys["engineering"],
        json={"document": "监理签章.pdf"},
    )
    assert missing(early) == ["step.self_check", "step.application"]
    assert "the foreman's application" in early.json()["detail"]
    accepted = await drive.accept(pid)
    assert accepted["status"] == "accepted" and accepted["accepted_on"] == china_today().isoformat()
    await drive.call(
        "POST",
        f"/v1/projects/{pid}/settlement",
        {"statement": "结算书 JS-031", "payment_request": "付款申请 FK-031", "amount": "98765.40"},
    )
    archived = await drive.call("POST", f"/v1/projects/{pid}/archive", {"document": "档案 DA-2026-031"})
    assert archived["status"] == "archived" and archived["steps"][4]["amount"] == "98765.40"
    assert [h["action"] for h in archived["history"]][-3:] == [
        "acceptance_client_signed",
        "acceptance_settlement",
        "archived",
    ]

    # Other staff read everything but the prices; channels read nothing.
    seen = await drive.call("GET", f"/v1/projects/{pid}", role="specialist")
    assert seen["status"] == "archived" and "contract_value" not in seen and "amount" not in seen["contract"]
    assert not [p for p in PRICES if p in json.dumps(seen, ensure_ascii=False)]
    assert (await drive.call("GET", f"/v1/projects/{pid}", role="management"))[
        "contract_value"
    ] == "1286000.00"
    for channel in ("dealer", "regional_manager"):
        assert (await engineering.get(f"/v1/projects/{pid}", headers=keys[channel])).status_code == 403
        assert (await engineering.get("/v1/projects", headers=keys[channel])).status_code == 403
    listing = await drive.call("GET", "/v1/projects", role="specialist")
    assert [p["project_id"] for p in listing["items"]] == [pid] and "contract_value" not in listing["items"][
        0
    ]
    by_serial = await drive.call("GET", "/v1/projects?serial_no=xf1k2501000008&status=archived")
    assert by_serial["total"] == 1
    checklist = await drive.call("GET", f"/v1/projects/{pid}/checklist")
    assert checklist["next_gate"] is None and all(g["passed"] for g in checklist["gates"])

    # Every gate reached Kafka, keyed by the project, in order; acceptance too; no price anywhere.
    def done(rs):
        return any(
            r.headers.get("event_type") == b"project.milestone" and b'"archived"' in r.value for r in rs
        )

    records = await bus.keyed("engineering.projects.v1", pid, done)
    events = [r.envelope() for r in records]
    assert [e.event_type for e in events][:2] == ["project.opened", "project.milestone"]
    assert [e.payload["milestone"] for e in events if e.event_type == "project.milestone"] == [
        "quotes_complete",
        "installer_chosen",
        "contract_signed",
        "site_lead_named",
        "survey_done",
        "contacts_recorded",
        "paperwork_complete",
        "works_started",
        "material_accepted",
        "preconditions_met",
        "acceptance_self_check",
        "acceptance_application",
        "acceptance_supervisor_signed",
        "acceptance_client_signed",
        "acceptance_settlement",
        "archived",
    ]
    [acceptance] = [e for e in events if e.event_type == "installation.accepted"]
    assert acceptance.payload["accepted_on"] == china_today().isoformat() and acceptance.correlation_id == pid
    assert [u["serial_no"] for u in acceptance.payload["units"]] == ["XF1K2501000007", "XF1K2501000008"]
    assert not [p for p in PRICES if any(p.encode() in r.value for r in records)]


async def test_bad_input_names_the_field_and_roles_are_enforced(engineering, drive, keys) -> None:
    res = await engineering.post(
        "/v1/projects",
        headers=keys["engineering"],
        json={
            "client": "x",
            "site": "y",
            "supervisor": "z",
            "contract_value": "1.005",
            "units": [{"serial_no": "??", "model": "YD-XF1000"}],
        },
    )
    assert res.status_code == 422
    assert {e["field"] for e in res.json()["errors"]} == {"contract_value", "units.0.serial_no"}
    res = await engineering.post(
        "/v1/projects",
        headers=keys["engineering"],
        json={"client": "x", "site": "y", "supervisor": "z", "contract_value": "1", "units": []},
    )
    assert res.status_code == 422 and res.json()["errors"][0]["field"] == "units"
    assert (await engineering.post("/v1/projects", headers=keys["management"], json={})).status_code == 403
    assert (await engineering.post("/v1/projects", headers=keys["dealer"], json={})).status_code == 403
    assert (await engineering.get("/v1/projects")).status_code == 401

    pid = await drive.open("P-2026-201")
    assert (
        await engineering.post(
            "/v1/projects",
            headers=keys["engineering"],
            json={
                "project_id": "p-2026-201",
                "client": "x",
                "site": "y",
                "supervisor": "z",
                "contract_value": "1",
                "units": [{"serial_no": "XF1K2509999999", "model": "YD-XF1000"}],
            },
        )
    ).status_code == 409
    quote = await engineering.post(
        f"/v1/projects/{pid}/quotes",
        headers=keys["engineering"],
        json={
            "installer": "甲",
            "contracting_mode": "turnkey",
            "items": [],
            "scope": "s",
            "drawings_signed_off": True,
            "schedule": {"starts_on": ago(5), "finishes_on": ago(9)},
            "requirements": "r",
            "payment_terms": "p",
            "maintenance_terms": "m",
        },
    )
    assert quote.status_code == 422
    assert {e["field"] for e in quote.json()["errors"]} == {
        "contracting_mode",
        "items",
        "schedule.finishes_on",
    }
    future = await engineering.post(
        f"/v1/projects/{pid}/quotes",
        headers=keys["engineering"],
        json={
            "installer": "甲",
            "contracting_mode": "labour_only",
            "scope": "s",
            "drawings_signed_off": True,
            "items": [{"item": "吊装", "unit": "台", "quantity": 1, "unit_price": "1"}],
            "quoted_on": ago(-3),
            "schedule": {"starts_on": ago(5), "finishes_on": ago(1)},
            "requirements": "r",
            "payment_terms": "p",
            "maintenance_terms": "m",
        },
    )
    assert future.status_code == 422 and future.json()["detail"].startswith("quoted_on")
    assert (
        await engineering.put(
            f"/v1/projects/{pid}/contacts/designer", headers=keys["engineering"], json={"name": "x"}
        )
    ).status_code == 422
    assert (await engineering.get("/v1/projects/P-2026-999", headers=keys["engineering"])).status_code == 404
    assert (
        await engineering.post(f"/v1/projects/{pid}/quotes", headers=keys["specialist"], json={})
    ).status_code == 403


async def test_acceptance_registers_the_units_in_warranty(engineering, warranty, drive, bus, keys) -> None:
    pid = await drive.open("P-2026-017")
    await drive.to_accepted(pid)
    today = china_today().isoformat()

    async def registered():
        res = await warranty.get("/v1/warranty/units/XF1K2501000007", headers=keys["manager"])
        return res.json() if res.status_code == 200 and res.json()["registrations"] else None

    unit = await eventually(registered)
    assert [(r["project_id"], r["accepted_on"]) for r in unit["registrations"]] == [(pid, today)]
    clocks = {c["kind"]: c for c in unit["clocks"]}
    assert clocks["installed_equipment"]["start"] == today and clocks["installed_equipment"]["covers_today"]
    assert clocks["installation_workmanship"]["basis"] == "acceptance"

    # A complaint about that unit, without invoice or service card: decided on the acceptance, no documents asked.
    case_id = new_case_id()
    await bus.assigned(
        case_id,
        department="quality",
        category="product_fault",
        specialist_id="sp-liu",
        description="机组主板报错停机",
        product={
            "serial_no": "XF1K2501000007",
            "model": "YD-XF1000",
            "purchase_date": None,
            "invoice_no": None,
            "service_card_stamped": None,
        },
    )
    [decision] = await bus.keyed("warranty.decisions.v1", case_id, lambda rs: len(rs) >= 1)
    payload = decision.envelope().payload
    assert {c["basis"] for c in payload["warranty"]} == {"acceptance"}
    codes = [r["code"] for r in payload["reasons"]]
    assert "within_installed_equipment_warranty" in codes and "missing_documents" not in codes


@pytest.mark.parametrize("path", ["/v1/projects", "/v1/installation-cases"])
@pytest.mark.parametrize("params", [{"page": 2**63}, {"page": 10**30}, {"page_size": 101}])
async def test_paging_out_of_bounds_is_422_naming_it(engineering, keys, path, params) -> None:
    res = await engineering.get(path, params=params, headers=keys["engineering"])
    assert res.status_code == 422
    assert [e["field"] for e in res.json()["errors"]] == list(params)
