"""Every repair has its record (R-PA-2, 附件 1), with or without a key part; repair.recorded tells the rest."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from shared.testing.fixtures import eventually
from shared.testing.identities import new_case_id

pytestmark = pytest.mark.integration


async def test_a_repair_without_a_key_part_has_its_record_with_every_field(parts, scenario, keys) -> None:
    case_id = new_case_id()
    await scenario.assigned(case_id)
    await scenario.decided(
        case_id, decision="covered", remedy="free_repair", key_part="motor", earlier_repairs=1
    )

    async def decided():  # the decision reached parts (it opened a motor request on the case)
        res = await parts.get("/v1/parts-requests", params={"case_id": case_id}, headers=keys["specialist"])
        return res.json()["items"]

    await eventually(decided)
    body = {
        "case_id": case_id,
        "technician": "李师傅",
        "repaired_on": "2026-11-26",
        "fault_found": "风机叶轮积尘异响",
        "cause": "长期未清洁",
        "parts": [{"part": "fan", "old_serial": "F-1", "new_serial": "F-2"}],
        "labour": "清洁风道并更换风机",
        "labour_hours": "1.5",
        "customer_signature": {"name": "王女士", "signed_on": "2026-11-26"},
        "technician_signature": {"name": "李师傅", "signed_on": "2026-11-26"},
    }

    async def recorded():
        res = await parts.post(
            "/v1/repair-records", json=body, headers=keys["regional_manager"] | {"Idempotency-Key": "rr-1"}
        )
        return res if res.status_code == 201 else None

    res = await eventually(recorded)
    record = res.json()
    assert "customer_phone" not in record  # the regional manager's copy
    again = await parts.post(
        "/v1/repair-records", json=body, headers=keys["regional_manager"] | {"Idempotency-Key": "rr-1"}
    )
    assert again.json()["record_id"] == record["record_id"]
    staff = (await parts.get(f"/v1/repair-records/{record['record_id']}", headers=keys["specialist"])).json()
    assert staff["customer_phone"] == "+8613812345678" and staff["earlier_repairs"] == 1
    assert staff["dealer_code"] == "D-GZ-001" and staff["labour_hours"] == "1.5"

    html = (
        await parts.get(f"/v1/repair-records/{record['record_id']}/form", headers=keys["specialist"])
    ).text
    for expected in (
        "+8613812345678",
        "D-GZ-001",
        "风机叶轮积尘异响",
        "fan ×1",
        "1.5 h",
        "本机此前维修次数",
        "王女士",
    ):
        assert expected in html, expected
    field_copy = (
        await parts.get(f"/v1/repair-records/{record['record_id']}/form", headers=keys["regional_manager"])
    ).text
    assert "+8613812345678" not in field_copy
    pdf = await parts.get(f"/v1/repair-records/{record['record_id']}/form.pdf", headers=keys["specialist"])
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "+8613812345678" in text and "风机叶轮积尘异响" in text

    events = await scenario.parts_events(
        case_id, lambda rs: any(r.headers["event_type"] == b"repair.recorded" for r in rs)
    )
    found = [r.envelope() for r in events if r.envelope().event_type == "repair.recorded"]
    [env] = found
    assert env.payload == {
        "case_id": case_id,
        "record_id": record["record_id"],
        "request_id": None,
        "serial_no": "XF2502405001234",
        "parts": ["fan"],
        "repaired_on": "2026-11-26",
    }
    unknown = await parts.post(
        "/v1/repair-records", json=body | {"case_id": "YD-0000000000"}, headers=keys["specialist"]
    )
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "case_id"
    assert (await parts.post("/v1/repair-records", json=body, headers=keys["dealer"])).status_code == 403
