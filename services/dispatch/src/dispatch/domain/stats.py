"""Statistics of cases (R-DS-3): counts, median and 90th-percentile times, satisfaction, open by age."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
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


def _summary(values: list[float]) -> dict[str, Any]:
    med, p90 = percentile(values, 0.5), percentile(values, 0.9)
    return {
        "n": len(values),
        "median": round(med, 2) if med is not None else None,
        "p90": round(p90, 2) if p90 is not None else None,
    }


def period_of_day(day: date, period: Period) -> str:
    """The day, week or month a China day falls in, as the after-sales department counts them."""
    if period == "day":
        return day.isoformat()
    if period == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{day.year}-{day.month:02d}"


# The dimensions a folded day keeps its tallies by (`period` is the day itself).
TALLIED_BY: tuple[GroupBy, ...] = ("channel", "category", "region", "assignee", "department")

_KEY: dict[str, Callable[[CaseFigures], str]] = {
    "channel": lambda c: c.channel,
    "category": lambda c: c.category,
    "region": lambda c: c.region or "unknown",
    "assignee": lambda c: c.assignee or "unassigned",
    "department": lambda c: c.department,
}


@dataclass(slots=True)
class Tally:
    """The figures of a set of cases in a form that adds up: counts, every time in hours, the scores
    by value, and when each open case came in (for the ages, which move with the clock). A folded day
    keeps these instead of its rows, so a year of statistics adds 365 tallies instead of decoding
    tens of thousands of cases; medians and percentiles stay exact, since every time is kept."""

    count: int = 0
    open: int = 0
    closed: int = 0
    breached: int = 0
    assign: list[float] = field(default_factory=list)
    first_reply: list[float] = field(default_factory=list)
    close: list[float] = field(default_factory=list)
    scores: dict[str, int] = field(default_factory=dict)
    open_received: list[datetime] = field(default_factory=list)

    def add(self, c: CaseFigures) -> None:
        self.count += 1
        self.closed += c.status in ("closed", "followed_up")
        self.breached += c.breached
        if c.is_open:
            self.open += 1
            self.open_received.append(c.received_at)
        for times, at in (
            (self.assign, c.assigned_at),
            (self.first_reply, c.first_reply_at),
            (self.close, c.closed_at),
        ):
            if at is not None:
                times.append((at - c.received_at).total_seconds() / 3600)
        if c.first_satisfaction is not None:
            key = str(c.first_satisfaction)
            self.scores[key] = self.scores.get(key, 0) + 1

    def merge(self, other: Tally) -> None:
        self.count += other.count
        self.open += other.open
        self.closed += other.closed
        self.breached += other.breached
        self.assign += other.assign
        self.first_reply += other.first_reply
        self.close += other.close
        for key, n in other.scores.items():
            self.scores[key] = self.scores.get(key, 0) + n
        self.open_received += other.open_received

    def as_document(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "open": self.open,
            "closed": self.closed,
            "breached": self.breached,
            "assign": self.assign,
            "first_reply": self.first_reply,
            "close": self.close,
            "scores": self.scores,
            "open_received": self.open_received,
        }

    @classmethod
    def of_document(cls, doc: dict[str, Any]) -> Tally:
        return cls(**doc)

    def block(self) -> dict[str, Any]:
        n = sum(self.scores.values())
        total = sum(int(score) * k for score, k in self.scores.items())
        return {
            "count": self.count,
            "open": self.open,
            "closed": self.closed,
            "breached": self.breached,
            "hours_to": {
                "assign": _summary(self.assign),
                "first_reply": _summary(self.first_reply),
                "close": _summary(self.close),
            },
            "satisfaction": {
                "n": n,
                "mean": round(total / n, 2) if n else None,
                "distribution": {str(s): self.scores.get(str(s), 0) for s in range(1, 6)},
            },
        }


@dataclass(slots=True)
class Tallies:
    """Statistics being added up: the overall tally and one per group."""

    group_by: GroupBy
    period: Period
    overall: Tally = field(default_factory=Tally)
    groups: dict[str, Tally] = field(default_factory=dict)

    def add(self, c: CaseFigures) -> None:
        self.overall.add(c)
        key = (
            period_of_day(china_date(c.received_at), self.period)
            if self.group_by == "period"
            else _KEY[self.group_by](c)
        )
        self.groups.setdefault(key, Tally()).add(c)

    def add_day(self, day: date, folded: DayTallies) -> None:
        """A folded day's tallies (see `DayTallies`)."""
        self.overall.merge(folded.all)
        if self.group_by == "period":
            self.groups.setdefault(period_of_day(day, self.period), Tally()).merge(folded.all)
            return
        for key, tally in folded.by[self.group_by].items():
            self.groups.setdefault(key, Tally()).merge(tally)

    def result(self, now: datetime) -> dict[str, Any]:
        open_by_age = {label: 0 for label, _ in AGE_BUCKETS}
        for received_at in self.overall.open_received:
            age_days = (now - received_at).total_seconds() / 86400
            open_by_age[next(label for label, limit in AGE_BUCKETS if age_days < limit)] += 1
        return {
            "group_by": self.group_by,
            "period": self.period if self.group_by == "period" else None,
            "overall": self.overall.block(),
            "groups": [{"key": k, **t.block()} for k, t in sorted(self.groups.items())],
            "open_by_age": open_by_age,
        }


@dataclass(slots=True)
class DayTallies:
    """One China day's cases folded: the whole day's tally, and its tallies by each dimension."""

    all: Tally
    by: dict[str, dict[str, Tally]]

    @classmethod
    def of(cls, rows: Iterable[CaseFigures]) -> DayTallies:
        day = cls(Tally(), {dimension: {} for dimension in TALLIED_BY})
        for c in rows:
            day.all.add(c)
            for dimension in TALLIED_BY:
                day.by[dimension].setdefault(_KEY[dimension](c), Tally()).add(c)
        return day

    def as_document(self) -> dict[str, Any]:
        # Keys are a dimension's values (a region's name may hold a dot): pairs, not field names.
        return {
            "all": self.all.as_document(),
            "by": {d: [[k, t.as_document()] for k, t in groups.items()] for d, groups in self.by.items()},
        }

    @classmethod
    def of_document(cls, doc: dict[str, Any]) -> DayTallies:
        """From a stored day, read whole or with only `all` and one dimension of `by`."""
        return cls(
            Tally.of_document(doc["all"]),
            {d: {k: Tally.of_document(t) for k, t in pairs} for d, pairs in (doc.get("by") or {}).items()},
        )


def case_stats(
    cases: Iterable[Case | CaseFigures],
    *,
    now: datetime,
    group_by: GroupBy = "channel",
    period: Period = "week",
) -> dict[str, Any]:
    tallies = Tallies(group_by, period)
    for c in cases:
        tallies.add(c if isinstance(c, CaseFigures) else CaseFigures.of(c))
    return tallies.result(now)
