"""Triage and assignment rules (R-DS-1): department, priority, and which specialist takes a case."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.contracts.cases import DEPARTMENTS, Department, Priority
from shared.contracts.complaints import CATEGORIES, CHANNELS, Category, Channel, ComplaintReceived


@dataclass(frozen=True)
class Specialist:
    specialist_id: str
    name: str
    department: Department
    skills: tuple[str, ...] = ()
    regions: tuple[str, ...] = field(default=(), metadata={"doc": "empty: serves every region"})
    active: bool = True
    absent_until: date | None = field(
        default=None, metadata={"doc": "away through this day (China): gets nothing"}
    )

    def available(self, today: date | None) -> bool:
        """Active, and not away today: only then does routing give them anything."""
        return self.active and (today is None or self.absent_until is None or self.absent_until < today)


def unstaffed_departments(roster: list[Specialist]) -> list[Department]:
    """Departments without an active specialist: their complaints could be routed to no one."""
    staffed = {s.department for s in roster if s.active}
    return [d for d in DEPARTMENTS if d not in staffed]


def department_for(category: Category) -> Department:
    """Installation complaints to the engineering installation department (§二.1); the rest to quality (§三.1)."""
    return "engineering_installation" if category == "installation" else "quality"


# Safety first: anything that may burn or shock jumps the queue.
_URGENT = re.compile(
    r"冒烟|起火|着火|烧焦|焦味|漏电|触电|火花|smoke|fire|burn|spark|electric shock", re.IGNORECASE
)
_REPEATED = re.compile(r"多次|反复|又坏|第[二三四五]次|再次|again|repeated|still not", re.IGNORECASE)


def priority_for(complaint: ComplaintReceived) -> Priority:
    text = complaint.description
    if _URGENT.search(text):
        return "urgent"
    if _REPEATED.search(text):
        return "high"
    return "normal"


Mode = Literal["auto", "confirm"]


@dataclass(frozen=True)
class Ceiling:
    """How much open work one specialist may hold before the next case goes to an eligible colleague."""

    max_open: int = 30
    max_share: float = 0.5
    share_from: int = 10  # the share applies once the team holds this many open cases

    def over(self, load: int, team: int) -> str | None:
        """Why a specialist with `load` open cases (the team `team`) should not take the next one."""
        if load >= self.max_open:
            return f"at the ceiling of {self.max_open} open cases"
        if team >= self.share_from and (load + 1) / (team + 1) > self.max_share:
            return f"would hold {(load + 1) / (team + 1):.0%} of the team's open cases (ceiling {self.max_share:.0%})"
        return None


def _auto_everywhere() -> dict[str, dict[str, Mode]]:
    return {"*": {"*": "auto"}}


def _online_watched() -> list[Channel]:
    return ["online"]


class AssignmentPolicy(BaseModel):
    """The manager's settings for routing (§一.1.1-1.4): per channel and category, assign at once or
    propose and wait for the manager's confirmation; which channels stay on the manager's watch list
    until closure; and the ceiling of open work per specialist."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    modes: dict[str, dict[str, Mode]] = Field(
        default_factory=_auto_everywhere,
        description='channel → category → "auto" (assign at once) or "confirm" (propose, the manager confirms); '
        '"*" matches any; the most specific entry wins.',
    )
    watch_channels: list[Channel] = Field(
        default_factory=_online_watched,
        description="Complaints from these channels stay on the manager's watch list until closure (§一.1.4).",
    )
    max_open_per_specialist: int = Field(default=30, ge=1, le=10_000)
    max_team_share: float = Field(
        default=0.5, gt=0, le=1, description="Most of the department's open cases one specialist may hold."
    )
    share_applies_from: int = Field(
        default=10,
        ge=1,
        le=10_000,
        description="The share applies once the department holds this many open cases.",
    )

    @field_validator("modes")
    @classmethod
    def _known_keys(cls, modes: dict[str, dict[str, Mode]]) -> dict[str, dict[str, Mode]]:
        for channel, by_category in modes.items():
            if channel != "*" and channel not in CHANNELS:
                raise ValueError(f"unknown channel {channel!r} (known: {', '.join(CHANNELS)} or *)")
            for category in by_category:
                if category != "*" and category not in CATEGORIES:
                    raise ValueError(f"unknown category {category!r} (known: {', '.join(CATEGORIES)} or *)")
        return modes

    def mode_for(self, channel: str, category: str) -> Mode:
        for c, k in ((channel, category), (channel, "*"), ("*", category), ("*", "*")):
            mode = self.modes.get(c, {}).get(k)
            if mode is not None:
                return mode
        return "auto"

    @property
    def ceiling(self) -> Ceiling:
        return Ceiling(self.max_open_per_specialist, self.max_team_share, self.share_applies_from)


@dataclass(frozen=True)
class Choice:
    specialist: Specialist
    reason: str


def choose_specialist(
    roster: list[Specialist],
    *,
    department: Department,
    category: Category,
    region: str | None,
    workloads: dict[str, int],
    ceiling: Ceiling | None = None,
    today: date | None = None,
) -> Choice | None:
    """Department first (a must; only who is active and not away), then the ceiling of open work, then
    skill, then region, then the lowest open workload.

    Region and skill are preferences weighed against load: a specialist at the ceiling (too many open
    cases, or too large a share of the team's) is passed over for an eligible colleague; when everyone
    is at it, the lowest workload takes the case.
    """
    ceiling = ceiling or Ceiling()
    candidates = [s for s in roster if s.department == department and s.available(today)]
    if not candidates:
        return None
    team = sum(workloads.get(s.specialist_id, 0) for s in candidates)

    def load(s: Specialist) -> int:
        return workloads.get(s.specialist_id, 0)

    def local(s: Specialist) -> int:
        # A specialist named for the region beats one who covers every region (empty list).
        return 2 if region and region in s.regions else 1 if not s.regions else 0

    def preference(s: Specialist) -> tuple[int, int, int, str]:
        return (-int(category in s.skills), -local(s), load(s), s.specialist_id)

    over = {s.specialist_id: ceiling.over(load(s), team) for s in candidates}

    def rank(s: Specialist) -> tuple[int, int, tuple[int, int, int, str]]:
        at_ceiling = over[s.specialist_id] is not None
        return (int(at_ceiling), load(s) if at_ceiling else 0, preference(s))

    best = min(candidates, key=rank)
    skilled = category in best.skills
    where = (
        f"region {region}"
        if region and region in best.regions
        else "all regions"
        if not best.regions
        else "outside region"
    )
    parts = [
        f"{department} department",
        f"skill {category}" if skilled else f"no specialist with skill {category}",
        where,
        f"{load(best)} open cases",
    ]
    passed = [s for s in sorted(candidates, key=preference) if preference(s) < preference(best)]
    if over[best.specialist_id] is not None:
        parts.append(f"everyone eligible is at the ceiling ({over[best.specialist_id]}): the lowest workload")
    elif passed:
        parts.append(
            "passed over " + ", ".join(f"{s.specialist_id} ({over[s.specialist_id]})" for s in passed[:3])
        )
    return Choice(best, "; ".join(parts))
