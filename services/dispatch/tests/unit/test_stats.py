"""Statistics: percentiles, groups, satisfaction, open cases by age."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from dispatch.domain.case import Case, open_case
from dispatch.domain.stats import CaseFigures, DayTallies, Tallies, case_stats, percentile
from dispatch.domain.targets import TargetPolicy
from shared.contracts.complaints import ComplaintReceived
from shared.contracts.registry import load_registry
from shared.periods import china_date
from shared.testing.identities import new_case_id

EXAMPLE = load_registry().get("intake.complaints.v1").events[0].examples[0]["payload"]
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
POLICY = TargetPolicy.from_mapping({"targets": {"*": {"*": {"assign": 4, "first_reply": 24, "close": 168}}}})


def case_at(
    received: datetime,
    channel: str,
    *,
    assign_h: float | None = None,
    close_h: float | None = None,
    satisfaction: int | None = None,
) -> Case:
    c = open_case(
        ComplaintReceived.model_validate(
            {**EXAMPLE, "received_at": received.isoformat(), "channel": channel, "case_id": new_case_id()}
        ),
        event_id="e",
        department="quality",
        priority="normal",
        policy=POLICY,
    )
    if assign_h is not None:
        c.assign("sp-liu", by="auto", reason="r", now=received + timedelta(hours=assign_h))
    if close_h is not None:
        c.warranty = {"decision": "covered", "remedy": "free_repair"}  # nothing left open: it may close
        c.repair_records = [{"record_id": "RR-1", "request_id": None, "repaired_on": "2026-11-20"}]
        c.reply(reply_id="R", message="m", via="phone", by="sp-liu", now=received + timedelta(hours=1))
        c.close(
            resolution="r",
            outcome="repaired",
            by="sp-liu",
            now=received + timedelta(hours=close_h),
            follow_up_after_days=7,
        )
    if satisfaction is not None:
        c.record_follow_up(
            visited_on=date(2026, 11, 26), satisfaction=satisfaction, notes="", by="sp-liu", now=NOW
        )
    return c


def test_percentiles_interpolate() -> None:
    assert percentile([], 0.5) is None
    assert percentile([4.0], 0.9) == 4.0
    assert percentile([1, 2, 3, 4], 0.5) == 2.5
    assert percentile(list(range(1, 11)), 0.9) == 9.1


def test_groups_times_satisfaction_and_age() -> None:
    cases = [
        case_at(NOW - timedelta(hours=5), "dealer", assign_h=1),
        case_at(NOW - timedelta(days=2), "dealer", assign_h=3, close_h=30, satisfaction=4),
        case_at(NOW - timedelta(days=10), "online", assign_h=2, close_h=50, satisfaction=2),
        case_at(NOW - timedelta(days=40), "online"),
    ]
    out = case_stats(cases, now=NOW, group_by="channel")
    assert out["overall"]["count"] == 4 and out["overall"]["open"] == 2 and out["overall"]["closed"] == 2
    assert out["overall"]["hours_to"]["assign"] == {"n": 3, "median": 2.0, "p90": 2.8}
    assert out["overall"]["hours_to"]["close"]["median"] == 40.0
    assert out["overall"]["satisfaction"]["mean"] == 3.0
    assert out["overall"]["satisfaction"]["distribution"]["4"] == 1
    assert [g["key"] for g in out["groups"]] == ["dealer", "online"]
    assert out["open_by_age"] == {"<1d": 1, "1-3d": 0, "3-7d": 0, "7-30d": 0, ">30d": 1}


def test_grouping_by_period() -> None:
    cases = [case_at(NOW - timedelta(days=d), "hotline") for d in (0, 1, 8)]
    weeks = case_stats(cases, now=NOW, group_by="period", period="week")
    assert [g["count"] for g in weeks["groups"]] == [1, 2]
    days = case_stats(cases, now=NOW, group_by="period", period="day")
    assert len(days["groups"]) == 3


def test_days_added_up_from_their_tallies_give_the_figures_of_their_cases() -> None:
    """A folded day keeps tallies, not cases: added up, by any dimension or period, they give exactly
    what the cases themselves give (medians, percentiles, means, ages included)."""
    cases = [
        case_at(NOW - timedelta(days=d, hours=h), channel, assign_h=a, close_h=c, satisfaction=s)
        for d, h, channel, a, c, s in (
            (40, 1, "dealer", 1, 30, 4),
            (40, 5, "online", 2, None, None),
            (41, 2, "dealer", None, None, None),
            (70, 3, "hotline", 3, 50, 2),
            (70, 9, "hotline", 0.5, 20, 5),
            (95, 4, "online", 6, 100, 4),
        )
    ]
    rows = [CaseFigures.of(c) for c in cases]
    by_day: dict[date, list[CaseFigures]] = {}
    for r in rows:
        by_day.setdefault(china_date(r.received_at), []).append(r)
    for group_by, period in (
        ("channel", "week"),
        ("region", "week"),
        ("period", "month"),
        ("period", "week"),
    ):
        tallies = Tallies(group_by, period)  # type: ignore[arg-type]
        for day, its_rows in by_day.items():
            stored = DayTallies.of(its_rows).as_document()  # as the day document holds it
            tallies.add_day(day, DayTallies.of_document(stored))
        assert tallies.result(NOW) == case_stats(rows, now=NOW, group_by=group_by, period=period)  # type: ignore[arg-type]
