"""Triage and assignment rules (R-DS-1): department, priority, and which specialist takes a case."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from shared.contracts.cases import DEPARTMENTS, Department, Priority
from shared.contracts.complaints import Category, ComplaintReceived


@dataclass(frozen=True)
class Specialist:
    specialist_id: str
    name: str
    department: Department
    skills: tuple[str, ...] = ()
    regions: tuple[str, ...] = field(default=(), metadata={"doc": "empty: serves every region"})
    active: bool = True


def unstaffed_departments(roster: list[Specialist]) -> list[Department]:
    """Departments without an active specialist: their complaints could be routed to no one."""
    staffed = {s.department for s in roster if s.active}
    return [d for d in DEPARTMENTS if d not in staffed]


def department_for(category: Category) -> Department:
    """Installation complaints to the engineering installation department (§二.1); the rest to quality (§三.1)."""
    return "engineering_installation" if category == "installation" else "quality"


# Safety first: anything that may burn or shock jumps the queue.
_URGENT = re.compile(r"冒烟|起火|着火|烧焦|焦味|漏电|触电|火花|smoke|fire|burn|spark|electric shock", re.IGNORECASE)
_REPEATED = re.compile(r"多次|反复|又坏|第[二三四五]次|再次|again|repeated|still not", re.IGNORECASE)


def priority_for(complaint: ComplaintReceived) -> Priority:
    text = complaint.description
    if _URGENT.search(text):
        return "urgent"
    if _REPEATED.search(text):
        return "high"
    return "normal"


@dataclass(frozen=True)
class Choice:
    specialist: Specialist
    reason: str


def choose_specialist(
    roster: list[Specialist], *, department: Department, category: Category, region: str | None, workloads: dict[str, int]
) -> Choice | None:
    """Department first (a must), then skill, then region, then the lowest open workload."""
    candidates = [s for s in roster if s.active and s.department == department]
    if not candidates:
        return None

    def rank(s: Specialist) -> tuple[int, int, int, str]:
        skilled = category in s.skills
        # A specialist named for the region beats one who covers every region (empty list).
        local = 2 if region and region in s.regions else 1 if not s.regions else 0
        return (-int(skilled), -local, workloads.get(s.specialist_id, 0), s.specialist_id)

    best = min(candidates, key=rank)
    skilled = category in best.skills
    where = (
        f"region {region}" if region and region in best.regions else "all regions" if not best.regions else "outside region"
    )
    reason = (
        f"{department} department; {'skill ' + category if skilled else 'no specialist with skill ' + category}; "
        f"{where}; {workloads.get(best.specialist_id, 0)} open cases"
    )
    return Choice(best, reason)
