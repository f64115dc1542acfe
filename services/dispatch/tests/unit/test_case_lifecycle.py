"""The case state machine and its time targets (R-DS-2, R-DS-4), without I/O."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from dispatch.domain.case import Case, IllegalTransition, MissingResolution, open_case
from dispatch.domain.targets import TargetPolicy
from shared.contracts.complaints import ComplaintReceived
from shared.contracts.registry import load_registry
from shared.periods import CHINA

EXAMPLE = load_registry().get("intake.complaints.v1").events[0].examples[0]["payload"]
T0 = datetime(2026, 11, 20, 2, 15, tzinfo=UTC)
POLICY = TargetPolicy.from_mapping(
    {
        "targets": {
            "*": {"*": {"assign": 4, "first_reply": 24, "close": 168}, "urgent": {"assign": 1, "first_reply": 4}},
            "installation": {"*": {"close": 240}, "urgent": {"close": 48}},
        },
        "follow_up_after_days": 7,
    }
)


def new_case(**changes) -> Case:
    complaint = ComplaintReceived.model_validate({**EXAMPLE, "received_at": T0.isoformat(), **changes})
    return open_case(complaint, event_id="e-1", department="quality", priority="normal", policy=POLICY)


def test_the_whole_path_with_its_events() -> None:
    case = new_case()
    assert case.status == "received"
    assert [t for t, _ in case.assign("sp-liu", by="auto", reason="r", now=T0 + timedelta(minutes=1))] == ["case.assigned"]
    assert case.status == "assigned"
    [(t, reply)] = case.reply(reply_id="R-1", message="已安排上门", via="phone", by="sp-liu", now=T0 + timedelta(hours=1))
    assert t == "case.replied" and reply.channel == "dealer" and reply.submitted_by == "D-GZ-001"
    assert case.status == "in_progress"
    case.reply(reply_id="R-2", message="明早到", via="sms", by="sp-liu", now=T0 + timedelta(hours=2))
    assert case.first_reply_at == T0 + timedelta(hours=1)
    assert [t for t, _ in case.resolve(resolution="换电机", outcome="repaired", by="sp-liu", now=T0 + timedelta(days=1))] == [
        "case.resolved"
    ]
    [(t, closed)] = case.close(resolution=None, outcome=None, by="sp-liu", now=T0 + timedelta(days=2), follow_up_after_days=7)
    assert t == "case.closed" and closed.follow_up_due_on == date(2026, 11, 29) and closed.outcome == "repaired"
    [(t, visit)] = case.record_follow_up(visited_on=date(2026, 11, 29), satisfaction=5, notes="满意", by="sp-liu",
                                         now=T0 + timedelta(days=9))
    assert t == "case.followed_up" and case.status == "followed_up"


def test_closing_from_in_progress_needs_resolution_and_passes_through_resolved() -> None:
    case = new_case()
    case.assign("sp-liu", by="auto", reason="r", now=T0)
    case.reply(reply_id="R-1", message="m", via="phone", by="sp-liu", now=T0)
    with pytest.raises(MissingResolution):
        case.close(resolution=None, outcome=None, by="sp-liu", now=T0, follow_up_after_days=7)
    events = case.close(resolution="远程升级后正常", outcome="software_updated", by="sp-liu", now=T0, follow_up_after_days=7)
    assert [t for t, _ in events] == ["case.resolved", "case.closed"]


@pytest.mark.parametrize(
    ("setup", "action"),
    [
        ([], lambda c: c.reply(reply_id="R", message="m", via="phone", by="x", now=T0)),
        ([], lambda c: c.close(resolution="r", outcome="other", by="x", now=T0, follow_up_after_days=7)),
        (["assign"], lambda c: c.resolve(resolution="r", outcome="other", by="x", now=T0)),
        (["assign"], lambda c: c.record_follow_up(visited_on=date(2026, 11, 21), satisfaction=3, notes="", by="x", now=T0)),
        (["assign", "reply", "close"], lambda c: c.assign("sp-ma", by="mgr", reason="r", now=T0)),
        (["assign", "reply", "close"], lambda c: c.reply(reply_id="R9", message="m", via="phone", by="x", now=T0)),
    ],
)
def test_illegal_moves_name_the_current_state(setup, action) -> None:
    case = new_case()
    for step in setup:
        if step == "assign":
            case.assign("sp-liu", by="auto", reason="r", now=T0)
        elif step == "reply":
            case.reply(reply_id="R-1", message="m", via="phone", by="sp-liu", now=T0)
        elif step == "close":
            case.close(resolution="r", outcome="other", by="sp-liu", now=T0, follow_up_after_days=7)
    before = case.status
    with pytest.raises(IllegalTransition) as err:
        action(case)
    assert err.value.current == before and before in str(err.value)


def test_reassignment_keeps_the_history_and_reason() -> None:
    case = new_case()
    case.assign("sp-liu", by="auto", reason="rule", now=T0)
    [(t, e)] = case.assign("sp-ma", by="mgr-chen", reason="刘工休假", now=T0 + timedelta(hours=3))
    assert t == "case.reassigned" and (e.from_specialist_id, e.to_specialist_id, e.reason) == ("sp-liu", "sp-ma", "刘工休假")
    assert [a.specialist_id for a in case.assignments] == ["sp-liu", "sp-ma"]
    assert case.assigned_at == T0  # the assign target was met by the first assignment


def test_targets_come_from_the_most_specific_row() -> None:
    assert POLICY.hours("installation", "urgent") == {"assign": 1, "first_reply": 4, "close": 48}
    assert POLICY.hours("installation", "normal") == {"assign": 4, "first_reply": 24, "close": 240}
    assert POLICY.hours("software", "urgent") == {"assign": 1, "first_reply": 4, "close": 168}
    with pytest.raises(ValueError):
        TargetPolicy.from_mapping({"targets": {"*": {"*": {"assign": 1}}}})


def test_missed_targets_escalate_once_each_and_met_ones_never() -> None:
    case = new_case()
    case.assign("sp-liu", by="auto", reason="r", now=T0 + timedelta(hours=1))  # met: within 4 h
    assert case.check_deadlines(T0 + timedelta(hours=23)) == []
    [(t, e)] = case.check_deadlines(T0 + timedelta(hours=25))
    assert t == "case.escalated" and e.target == "first_reply" and e.assignee == "sp-liu"
    assert case.check_deadlines(T0 + timedelta(hours=26)) == []  # once
    state = case.target_state(T0 + timedelta(hours=26))
    assert state["assign"]["state"] == "met" and state["first_reply"]["state"] == "breached"
    assert case.next_deadline() == T0 + timedelta(hours=168)


def test_follow_up_becomes_due_once_after_closure() -> None:
    case = new_case()
    case.assign("sp-liu", by="auto", reason="r", now=T0)
    case.reply(reply_id="R-1", message="m", via="phone", by="sp-liu", now=T0)
    case.close(resolution="r", outcome="repaired", by="sp-liu", now=T0, follow_up_after_days=7)
    assert case.next_deadline() == datetime(2026, 11, 27, tzinfo=CHINA)  # from the start of the day in China
    assert case.check_deadlines(T0 + timedelta(days=6)) == []
    [(t, e)] = case.check_deadlines(T0 + timedelta(days=7))
    assert t == "case.follow_up_due" and e.due_on == date(2026, 11, 27)
    assert case.check_deadlines(T0 + timedelta(days=8)) == [] and case.next_deadline() is None


def test_a_case_closed_early_in_the_china_morning_is_visited_a_week_after_that_china_day() -> None:
    """Closed 2026-11-20 23:30 UTC = 2026-11-21 07:30 in China: the visit is due 2026-11-28, not the 27th."""
    case = new_case()
    case.assign("sp-liu", by="auto", reason="r", now=T0)
    case.reply(reply_id="R-1", message="m", via="phone", by="sp-liu", now=T0)
    closed_at = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)
    [(_, _), (_, closed)] = case.close(resolution="r", outcome="advice_given", by="sp-liu", now=closed_at,
                                       follow_up_after_days=7)
    assert closed.follow_up_due_on == date(2026, 11, 28)
    assert case.check_deadlines(datetime(2026, 11, 27, 15, 59, tzinfo=UTC)) == []  # 23:59 on the 27th in China
    [(t, _)] = case.check_deadlines(datetime(2026, 11, 27, 16, 0, tzinfo=UTC))  # 00:00 on the 28th in China
    assert t == "case.follow_up_due"
