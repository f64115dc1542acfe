"""The manager's hand (§一.1.1-1.4): proposals the manager confirms, the watch list, and assignment that
weighs region and skill against load (a burst is spread, the reason for each choice kept)."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest
import yaml

from dispatch.entrypoints.http import create_app as dispatch_app
from shared.testing.fixtures import eventually, running
from shared.testing.identities import new_case_id

pytestmark = pytest.mark.integration

ONLINE = {
    "channel": "online",
    "submitted_by": {"channel": "online", "principal_id": "public"},
    "dealer_code": None,
}


def policy_file(tmp_path: Path, **assignment) -> Path:
    base = yaml.safe_load(
        (Path(__import__("dispatch").__file__).parent / "policy.yaml").read_text(encoding="utf-8")
    )
    base["assignment"] |= assignment
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(base, allow_unicode=True), encoding="utf-8")
    return path


async def test_the_manager_confirms_a_proposal_and_online_complaints_stay_watched(
    dispatch_settings, events, keys, tmp_path
) -> None:
    policy = policy_file(tmp_path, modes={"*": {"*": "auto"}, "online": {"*": "confirm"}})
    async with running(dispatch_app(dispatch_settings(policy_file=policy))) as client:
        online, dealer = new_case_id(), new_case_id()
        await events.complaint(online, **ONLINE)
        await events.complaint(dealer)

        async def proposed():
            res = await client.get("/v1/cases", params={"proposed": "true"}, headers=keys["manager"])
            return res.json()["items"] or None

        [waiting] = await eventually(proposed)
        assert (
            waiting["case_id"] == online and waiting["status"] == "received" and waiting["assignee"] is None
        )
        assert (
            waiting["proposal"]["specialist_id"] == "sp-liu"
            and "region south_china" in waiting["proposal"]["reason"]
        )
        [record] = await events.dispatched(online, "case.assignment_proposed")
        assert record.envelope().payload["specialist_id"] == "sp-liu"
        # The dealer's complaint is assigned at once, as before.
        assert (await events.dispatched(dealer, "case.assigned"))[0].envelope().payload[
            "assigned_by"
        ] == "auto"

        by_specialist = await client.post(
            f"/v1/cases/{online}/proposal/confirmation", json={}, headers=keys["specialist"]
        )
        assert by_specialist.status_code == 403
        without_reason = await client.post(
            f"/v1/cases/{online}/proposal/confirmation",
            json={"specialist_id": "sp-ma"},
            headers=keys["manager"],
        )
        assert without_reason.status_code == 422
        confirmed = await client.post(
            f"/v1/cases/{online}/proposal/confirmation", json={}, headers=keys["manager"]
        )
        assert confirmed.status_code == 200, confirmed.text
        body = confirmed.json()
        assert (body["status"], body["assignee"], body["proposal"]) == ("assigned", "sp-liu", None)
        assert (
            body["assignments"][-1]["by"] == "mgr-chen"
            and "confirmed the proposal" in body["assignments"][-1]["reason"]
        )
        again = await client.post(
            f"/v1/cases/{online}/proposal/confirmation", json={}, headers=keys["manager"]
        )
        assert again.status_code == 409 and again.json()["current_status"] == "assigned"
        [assigned] = await events.dispatched(online, "case.assigned")
        assert assigned.envelope().payload["assigned_by"] == "mgr-chen"

        # The online complaint stays on the manager's watch list until it is closed; the dealer's never was.
        watched = (
            await client.get("/v1/cases", params={"watched": "true", "open": "true"}, headers=keys["manager"])
        ).json()
        assert [c["case_id"] for c in watched["items"]] == [online]

        settings = (await client.get("/v1/settings/assignment", headers=keys["manager"])).json()
        assert settings["modes"]["online"] == {"*": "confirm"}
        changed = await client.put(
            "/v1/settings/assignment",
            headers=keys["manager"],
            json=settings | {"modes": {"*": {"*": "confirm"}}},
        )
        assert changed.status_code == 200
        assert (
            await client.put("/v1/settings/assignment", headers=keys["specialist"], json=settings)
        ).status_code == 403
        bad = await client.put(
            "/v1/settings/assignment",
            headers=keys["manager"],
            json=settings | {"modes": {"fax": {"*": "auto"}}},
        )
        assert bad.status_code == 422
        later = new_case_id()
        await events.complaint(later)
        assert await events.dispatched(
            later, "case.assignment_proposed"
        )  # the manager's change applies at once


async def test_a_burst_from_one_region_is_spread_over_the_department(
    dispatch_settings, events, keys, tmp_path
) -> None:
    policy = policy_file(tmp_path, max_open_per_specialist=10, max_team_share=0.5, share_applies_from=6)
    async with running(dispatch_app(dispatch_settings(policy_file=policy))) as client:
        ids = [new_case_id() for _ in range(60)]
        # 广东, product faults, sixty different units
        await asyncio.gather(
            *(
                events.complaint(case_id, product={"model": "YD-XF250", "serial_no": f"XF250240500{i:04d}"})
                for i, case_id in enumerate(ids)
            )
        )

        async def all_assigned():
            res = await client.get("/v1/specialists", headers=keys["manager"])
            loads = {s["specialist_id"]: s["open_cases"] for s in res.json()["items"]}
            return loads if sum(loads.values()) >= 60 else None

        loads = await eventually(all_assigned, timeout_s=60)
        quality = {k: loads[k] for k in ("sp-liu", "sp-ma", "sp-huang")}
        assert sum(quality.values()) == 60
        assert all(n >= 10 for n in quality.values()), quality  # nobody took them all, nobody was left out
        reasons = Counter()
        for case_id in ids[:20]:
            case = (await client.get(f"/v1/cases/{case_id}", headers=keys["manager"])).json()
            reasons[case["assignments"][0]["reason"].split(";")[0]] += 1
            assert "open cases" in case["assignments"][0]["reason"]
        assert reasons == {"quality department": 20}


async def test_absent_specialists_get_nothing(dispatch, events, keys, case_status) -> None:
    roster = (await dispatch.get("/v1/specialists", headers=keys["manager"])).json()["items"]
    liu = next(s for s in roster if s["specialist_id"] == "sp-liu")
    fields = ("specialist_id", "name", "department", "skills", "regions", "active")
    res = await dispatch.put(
        "/v1/specialists/sp-liu",
        headers=keys["manager"],
        json={k: liu[k] for k in fields} | {"absent_until": "2099-12-31"},
    )
    assert res.status_code == 200
    case_id = new_case_id()
    await events.complaint(case_id)  # 广东 product fault: sp-liu's, were he at work
    case = await case_status(dispatch, case_id, "assigned", keys["manager"])
    assert case["assignee"] == "sp-huang"
    refused = await dispatch.post(
        f"/v1/cases/{case_id}/assignment",
        json={"specialist_id": "sp-liu", "reason": "试试"},
        headers=keys["manager"],
    )
    assert refused.status_code == 422 and "at work today" in refused.json()["detail"]
