"""Statistics of cases (R-DS-3): counts, median and 90th-percentile times, satisfaction, open by age."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Literal

from dispatch.domain.case import Case
from shared.periods import china_date

GroupBy = Literal["channel", "category", "region", "assignee", "department", "period"]
Period = Literal["day", "week", "month"]

AGE_BUCKETS: tuple[tuple[str, float], ...] = (("<1d", 1), ("1-3d", 3), ("3-7d", 7), ("7-30d", 30), (">30d", float("inf")))


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


def _block(cases: list[Case]) -> dict[str, Any]:
    scores = [v.satisfaction for c in cases for v in c.follow_ups[:1]]
    return {
        "count": len(cases),
        "open": sum(c.is_open for c in cases),
        "closed": sum(c.status in ("closed", "followed_up") for c in cases),
        "breached": sum(bool(c.breaches) for c in cases),
        "hours_to": {
            "assign": _summary([h for c in cases if (h := _hours(c.received_at, c.assigned_at)) is not None]),
            "first_reply": _summary([h for c in cases if (h := _hours(c.received_at, c.first_reply_at)) is not None]),
            "close": _summary([h for c in cases if (h := _hours(c.received_at, c.closed_at)) is not None]),
        },
        "satisfaction": {
            "n": len(scores),
            "mean": round(sum(scores) / len(scores), 2) if scores else None,
            "distribution": {str(s): scores.count(s) for s in range(1, 6)},
        },
    }


def case_stats(cases: Iterable[Case], *, now: datetime, group_by: GroupBy = "channel", period: Period = "week") -> dict:
    cases = list(cases)
    key: Callable[[Case], str] = {
        "channel": lambda c: c.channel,
        "category": lambda c: c.category,
        "region": lambda c: c.region or "unknown",
        "assignee": lambda c: c.assignee or "unassigned",
        "department": lambda c: c.department,
        "period": lambda c: _period_key(c.received_at, period),
    }[group_by]
    groups: dict[str, list[Case]] = defaultdict(list)
    for c in cases:
        groups[key(c)].append(c)
    open_by_age = {label: 0 for label, _ in AGE_BUCKETS}
    for c in cases:
        if c.is_open:
            age_days = (now - c.received_at).total_seconds() / 86400
            label = next(label for label, limit in AGE_BUCKETS if age_days < limit)
            open_by_age[label] += 1
    return {
        "group_by": group_by,
        "period": period if group_by == "period" else None,
        "overall": _block(cases),
        "groups": [{"key": k, **_block(v)} for k, v in sorted(groups.items())],
        "open_by_age": open_by_age,
    }
