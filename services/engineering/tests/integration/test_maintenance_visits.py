"""Accepted projects get planned maintenance visits within their maintenance year, listed when due and
escalated when missed (§二.3.4.1), on the real stack."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engineering.config import EngineeringSettings
from engineering.entrypoints.http import create_app as engineering_app
from shared.periods import add_months, china_date
from shared.testing.fixtures import eventually, running

pytestmark = pytest.mark.integration


async def test_visits_are_planned_listed_and_escalated_when_missed(isolation, bus, keys, drive_for) -> None:
    settings = isolation.settings(
        EngineeringSettings,
        outbox_relay_interval_s=0.5,
        scan_interval_s=0.3,
        maintenance_visit_every_months=1,
        maintenance_visit_grace_days=3,
    )
    app = engineering_app(settings)
    async with running(app) as client:
        drive = drive_for(client)
        pid = await drive.open("P-2026-201", serials=("XF1K2501000101",))
        project = await drive.to_accepted(pid)
        accepted = datetime.fromisoformat(project["accepted_on"]).date()
        visits = project["maintenance_visits"]
        assert [v["due_on"] for v in visits] == [add_months(accepted, n).isoformat() for n in range(1, 13)]

        due = (
            await client.get(
                "/v1/maintenance-visits/due", params={"within_days": 40}, headers=keys["engineering"]
            )
        ).json()
        assert [(i["project_id"], i["visit_no"], i["escalated"]) for i in due["items"]] == [(pid, 1, False)]

        # Forty days on, nobody went: visit 1 is escalated, once.
        e = app.state.runtime.components["engineering"]
        later = datetime.now(UTC) + timedelta(days=40)
        e.clock = lambda: later
        missed = await bus.keyed(
            "engineering.projects.v1",
            pid,
            lambda rs: any(r.headers.get("event_type") == b"maintenance.visit_missed" for r in rs),
            settle_s=1.0,
        )
        [event] = [r.envelope() for r in missed if r.envelope().event_type == "maintenance.visit_missed"]
        assert (event.payload["visit_no"], event.payload["overdue_days"]) == (
            1,
            (china_date(later) - add_months(accepted, 1)).days,
        )
        listed = (await client.get("/v1/maintenance-visits/due", headers=keys["engineering"])).json()
        assert [(i["visit_no"], i["escalated"]) for i in listed["items"]] == [(1, True)]

        done = await client.post(
            f"/v1/projects/{pid}/maintenance-visits/1",
            headers=keys["engineering"],
            json={"visited_on": china_date(later).isoformat(), "notes": "更换初效滤网，清洁风口"},
        )
        assert done.status_code == 200, done.text
        assert done.json()["maintenance_visits"][0]["done_on"] == china_date(later).isoformat()
        again = await client.post(
            f"/v1/projects/{pid}/maintenance-visits/1",
            headers=keys["engineering"],
            json={"visited_on": china_date(later).isoformat()},
        )
        assert again.status_code == 409

        async def gone():
            res = await client.get("/v1/maintenance-visits/due", headers=keys["engineering"])
            return res.json()["items"] == []

        await eventually(gone)
