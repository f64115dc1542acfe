"""Statistics of cases (R-DS-3): counts, median and 90th-percentile times, satisfaction, open by age."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from dispatch.domain.case import OPEN_STATUSES, Case
from shared.periods import china_date

GroupBy = Literal["channel", "category", "region", "assignee", "department", "period"]
Period = Literal["day", "week", "month"]

AGE_BUCKETS: tuple[tuple[str, float], ...] = (
    ("<1d", 1),
    ("1-3d", 3),
    ("3-7d", 7),
    ("7-30d", 30),
    (">30d", float("inf")),
)


@dataclass(frozen=True, slots=True)
class CaseFigures:
    """What statistics read of a case: a few fields, so a year of cases is read without the rest."""

    channel: str
    category: str
    region: str | None
    assignee: str | None
    department: str
    status: str
    received_at: datetime
    assigned_at: datetime | None
    first_reply_at: datetime | None
    closed_at: datetime | None
    breached: bool
    first_satisfaction: int | None

    FIELDS = (
        "channel",
        "category",
        "region",
        "assignee",
        "department",
        "status",
        "received_at",
        "assigned_at",
        "first_reply_at",
        "closed_at",
        "breaches",
        "follow_ups.satisfaction",
    )

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @classmethod
    def of(cls, case: Case) -> CaseFigures:
        return cls(
            case.channel,
            case.category,
            case.region,
            case.assignee,
            case.department,
            case.status,
            case.received_at,
            case.assigned_at,
            case.first_reply_at,
            case.closed_at,
            bool(case.breaches),
            case.follow_ups[0].satisfaction if case.follow_ups else None,
        )

    def as_row(self) -> list[Any]:
        """Compact, for the figures kept by day."""
        return [
            self.channel,
            self.category,
            self.region,
            self.assignee,
            self.department,
            self.status,
            self.received_at,
            self.assigned_at,
            self.first_reply_at,
            self.closed_at,
            self.breached,
            self.first_satisfaction,
        ]

    @classmethod
    def of_row(cls, row: list[Any]) -> CaseFigures:
        return cls(*row)

    @classmethod
    def of_document(cls, doc: dict[str, Any]) -> CaseFigures:
        """From a stored case read with the projection of FIELDS."""
        visits = doc.get("follow_ups") or []
        return cls(
            doc["channel"],
            doc["category"],
            doc.get("region"),
            doc.get("assignee"),
            doc["department"],
            doc["status"],
            doc["received_at"],
            doc.get("assigned_at"),
            doc.get("first_reply_at"),
            doc.get("closed_at"),
            bool(doc.get("breaches")),
            visits[0].get("satisfaction") if visits else None,
        )


def percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (the usual 'type 7')."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo, hi = int(pos), min(int(pos) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _hours(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start).total_seconds() / 3600


def _summary(values: list[float]) -> dict[str, Any]:
    med, p90 = percentile(values, 0.5), percentile(values, 0.9)
    return {
        "n": len(values),
        "median": round(med, 2) if med is not None else None,
        "p90": round(p90, 2) if p90 is not None else None,
    }


def _period_key(moment: datetime, period: Period) -> str:
    day = china_date(moment)  # days, weeks and months as the after-sales department counts them
    if period == "day":
        return day.isoformat()
    if period == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{day.year}-{day.month:02d}"


def _block(cases: list[CaseFigures]) -> dict[str, Any]:
    scores = [c.first_satisfaction for c in cases if c.first_satisfaction is not None]
    return {
        "count": len(cases),
        "open": sum(c.is_open for c in cases),
        "closed": sum(c.status in ("closed", "followed_up") for c in cases),
        "breached": sum(c.breached for c in cases),
        "hours_to": {
            "assign": _summary([h for c in cases if (h := _hours(c.received_at, c.assigned_at)) is not None]),
            "first_reply": _summary(
                [h for c in cases if (h := _hours(c.received_at, c.first_reply_at)) is not None]
            ),
            "close": _summary([h for c in cases if (h := _hours(c.received_at, c.closed_at)) is not None]),
        },
        "satisfaction": {
            "n": len(scores),
            "mean": round(sum(scores) / len(scores), 2) if scores else None,
            "distribution": {str(s): scores.count(s) for s in range(1, 6)},
        },
    }


def case_stats(
    cases: Iterable[Case | CaseFigures],
    *,
    now: datetime,
    group_by: GroupBy = "channel",
    period: Period = "week",
) -> dict[str, Any]:
    rows = [c if isinstance(c, CaseFigures) else CaseFigures.of(c) for c in cases]
    key: Callable[[CaseFigures], str] = {
        "channel": lambda c: c.channel,
        "category": lambda c: c.category,
        "region": lambda c: c.region or "unknown",
        "assignee": lambda c: c.assignee or "unassigned",
        "department": lambda c: c.department,
        "period": lambda c: _period_key(c.received_at, period),
    }[group_by]
    groups: dict[str, list[CaseFigures]] = defaultdict(list)
    for c in rows:
        groups[key(c)].append(c)
    open_by_age = {label: 0 for label, _ in AGE_BUCKETS}
    for c in rows:
        if c.is_open:
            age_days = (now - c.received_at).total_seconds() / 86400
            label = next(label for label, limit in AGE_BUCKETS if age_days < limit)
            open_by_age[label] += 1
    return {
        "group_by": group_by,
        "period": period if group_by == "period" else None,
        "overall": _block(rows),
        "groups": [{"key": k, **_block(v)} for k, v in sorted(groups.items())],
        "open_by_age": open_by_age,
    }
