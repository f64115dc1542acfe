"""Planned maintenance visits within the maintenance year of an accepted installation (§二.3.4.1:
免费维修和正常保养 within the 12 months' guarantee from acceptance).

Acceptance plans a visit every `every_months` months, the last on the maintenance year's last day at
the latest. A visit is listed as due from its day; not made `grace_days` after it, it is escalated once
(maintenance.visit_missed). Pure functions and models; no I/O.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from pydantic import BaseModel

from shared.periods import add_months


class PlannedVisit(BaseModel):
    visit_no: int
    due_on: date
    done_on: date | None = None
    by: str | None = None
    notes: str = ""
    recorded_at: datetime | None = None
    missed_at: datetime | None = None  # escalated (once)

    @property
    def open(self) -> bool:
        return self.done_on is None

    def escalate_on(self, grace_days: int) -> date:
        return self.due_on + timedelta(days=grace_days)


def plan_visits(accepted_on: date, *, maintenance_months: int, every_months: int) -> list[PlannedVisit]:
    """A visit every `every_months` months after acceptance, within the maintenance year."""
    if every_months <= 0:
        return []
    end = add_months(accepted_on, maintenance_months)
    visits: list[PlannedVisit] = []
    n = 1
    while (due := add_months(accepted_on, every_months * n)) <= end:
        visits.append(PlannedVisit(visit_no=n, due_on=due))
        n += 1
    return visits
