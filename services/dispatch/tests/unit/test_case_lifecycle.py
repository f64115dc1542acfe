"""The case state machine and its time targets (R-DS-2, R-DS-4), without I/O."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from dispatch.domain.case import Case, IllegalTransition, MissingResolution, open_case
from dispatch.domain.closure import ClosureRefused
from dispatch.domain.targets import TargetPolicy
from shared.contracts.complaints import ComplaintReceived
from shared.contracts.registry import load_registry
from shared.periods import CHINA

EXAMPLE = load_registry().get("intake.complaints.v1").events[0].examples[0]["payload"]
T0 = datetime(2026, 11, 20, 2, 15, tzinfo=UTC)
POLICY = TargetPolicy.from_mapping(
    {
        "targets": {
            "*": {
                "*": {"assign": 4, "first_reply": 24, "close": 168},
                "urgent": {"assign": 1, "first_reply": 4},
            },
            "installation": {"*": {"close": 240}, "urgent": {"close": 48}},
        },
        "follow_up_after_days": 7,
    }
)


def new_case(*, settled: bool = True, **changes) -> Case:
    """A new case; `settled`: its warranty decided and a repair record in, so nothing keeps it from closing."""
    complaint = ComplaintReceived.model_validate({**EXAMPLE, "received_at": T0.isoformat(), **changes})
    case = open_case(complaint, event_id="e-1", department="quality", priority="normal", policy=POLICY)
    if settled:
        case.warranty = {"decision": "covered", "remedy": "free_repair", "decided_at": T0}
        case.repair_records = [{"record_id": "RR-1", "request_id": None, "repaired_on": "2026-11-21"}]
    return case


def test_the_whole_path_with_its_events() -> None:
    case = new_case()
    assert case.status == "received"
    assert [t for t, _ in case.assign("sp-liu", by="auto", reason="r", now=T0 + timedelta(minutes=1))] == [
        "case.assigned"
    ]
    assert case.status == "assigned"
    [(t, reply)] = case.reply(
        reply_id="R-1", message="已安排上门", via="phone", by="sp-liu", now=T0 + timedelta(hours=1)
    )
    assert t == "case.replied" and reply.channel == "dealer" and reply.submitted_by == "D-GZ-001"
    assert case.status == "in_progress"
    case.reply(reply_id="R-2", message="明早到", via="sms", by="sp-liu", now=T0 + timedelta(hours=2))
    assert case.first_reply_at == T0 + timedelta(hours=1)
    assert [
        t
        for t, _ in case.resolve(
            resolution="换电机", outcome="repaired", by="sp-liu", now=T0 + timedelta(days=1)
        )
    ] == ["case.resolved"]
    [(t, closed)] = case.close(
        resolution=None, outcome=None, by="sp-liu", now=T0 + timedelta(days=2), follow_up_after_days=7
    )
    assert (
        t == "case.closed" and closed.follow_up_due_on == date(2026, 11, 29) and closed.outcome == "repaired"
    )
    [(t, visit)] = case.record_follow_up(
        visited_on=date(2026, 11, 29), satisfaction=5, notes="满意", by="sp-liu", now=T0 + timedelta(days=9)
    )
    assert t == "case.followed_up" and case.status == "followed_up"


def test_closing_from_in_progress_needs_resolution_and_passes_through_resolved() -> None:
    case = new_case()
    case.assign("sp-liu", by="auto", reason="r", now=T0)
    case.reply(reply_id="R-1", message="m", via="phone", by="sp-liu", now=T0)
    with pytest.raises(MissingResolution):
        case.close(resolution=None, outcome=None, by="sp-liu", now=T0, follow_up_after_days=7)
    events = case.close(
        resolution="远程升级后正常", outcome="software_updated", by="sp-liu", now=T0, follow_up_after_days=7
    )
    assert [t for t, _ in events] == ["case.resolved", "case.closed"]


@pytest.mark.parametrize(
    ("setup", "action"),
    [
        ([], lambda c: c.reply(reply_id="R", message="m", via="phone", by="x", now=T0)),
        ([], lambda c: c.close(resolution="r", outcome="other", by="x", now=T0, follow_up_after_days=7)),
        (["assign"], lambda c: c.resolve(resolution="r", outcome="other", by="x", now=T0)),
        (
            ["assign"],
            lambda c: c.record_follow_up(
                visited_on=date(2026, 11, 21), satisfaction=3, notes="", by="x", now=T0
            ),
        ),
        (["assign", "reply", "close"], lambda c: c.assign("sp-ma", by="mgr", reason="r", now=T0)),
        (
            ["assign", "reply", "close"],
            lambda c: c.reply(reply_id="R9", message="m", via="phone", by="x", now=T0),
        ),
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
    assert t == "case.reassigned" and (e.from_specialist_id, e.to_specialist_id, e.reason) == (
        "sp-liu",
        "sp-ma",
        "刘工休假",
    )
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
    assert case.check_deadlines(T0 + timedelta(days=8)) == []
    # Not visited three days after it fell due: the manager is told, once.
    assert case.next_deadline() == datetime(2026, 11, 30, tzinfo=CHINA)
    assert case.check_deadlines(T0 + timedelta(days=9)) == []
    [(t, overdue)] = case.check_deadlines(T0 + timedelta(days=10))
    assert t == "case.follow_up_overdue" and (overdue.due_on, overdue.overdue_days) == (date(2026, 11, 27), 3)
    assert case.check_deadlines(T0 + timedelta(days=11)) == [] and case.next_deadline() is None


def test_a_case_closed_early_in_the_china_morning_is_visited_a_week_after_that_china_day() -> None:
    """Closed 2026-11-20 23:30 UTC = 2026-11-21 07:30 in China: the visit is due 2026-11-28, not the 27th."""
    case = new_case()
    case.assign("sp-liu", by="auto", reason="r", now=T0)
    case.reply(reply_id="R-1", message="m", via="phone", by="sp-liu", now=T0)
    closed_at = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)
    [(_, _), (_, closed)] = case.close(
        resolution="r", outcome="advice_given", by="sp-liu", now=closed_at, follow_up_after_days=7
    )
    assert closed.follow_up_due_on == date(2026, 11, 28)
    assert (
        case.check_deadlines(datetime(2026, 11, 27, 15, 59, tzinfo=UTC)) == []
    )  # 23:59 on the 27th in China
    [(t, _)] = case.check_deadlines(datetime(2026, 11, 27, 16, 0, tzinfo=UTC))  # 00:00 on the 28th in China
    assert t == "case.follow_up_due"


# ---------------------------------------------------------------------------- closure discipline (R-DS-5)


def worked(**changes) -> Case:
    case = new_case(**changes)
    case.assign("sp-liu", by="auto", reason="r", now=T0)
    case.reply(reply_id="R-1", message="m", via="sms", by="sp-liu", now=T0)
    return case


def test_closure_names_everything_still_open() -> None:
    case = worked(settled=False)
    case.warranty = {"decision": "needs_evidence", "remedy": "none"}
    case.parts_actions = {
        "PR-1": {"request_id": "PR-1", "part": "motor", "state": "supplier_rma"},
        "PR-0": {"request_id": "PR-0", "part": "motor", "state": "repaired"},
        "PUR-1": {"request_id": "PUR-1", "item": "YD-LX-C-600", "state": "purchase_requested"},
    }
    case.remedies = {
        "RM-1": {"remedy": "exchange", "state": "chosen"},
        "RM-0": {"remedy": "return", "state": "cancelled"},
    }
    with pytest.raises(ClosureRefused) as refused:
        case.close(resolution="换电机", outcome="repaired", by="sp-liu", now=T0, follow_up_after_days=7)
    assert [i.item for i in refused.value.items] == [
        "warranty: needs_evidence",
        "parts request PR-1: supplier_rma",
        "remedy RM-1: exchange",
        "repair record",
    ]
    assert case.status == "in_progress" and case.closed_at is None  # nothing changed
    # Another outcome than a repair needs no repair record; a missing decision is named too.
    case.warranty = None
    with pytest.raises(ClosureRefused) as refused:
        case.close(resolution="建议", outcome="advice_given", by="sp-liu", now=T0, follow_up_after_days=7)
    assert refused.value.items[0].item == "warranty: no decision" and "repair record" not in str(
        refused.value
    )


def test_the_manager_closes_with_a_reason_and_it_is_kept() -> None:
    case = worked(settled=False)
    events = case.close(
        resolution="客户撤回",
        outcome="other",
        by="mgr-chen",
        now=T0,
        follow_up_after_days=7,
        override_reason="客户已自行处理，撤回投诉",
    )
    [(_, _), (t, closed)] = events
    assert t == "case.closed" and closed.override_reason == "客户已自行处理，撤回投诉"
    assert closed.open_items == ["warranty: no decision"]
    assert case.closure_override is not None and case.closure_override.by == "mgr-chen"


def test_once_everything_ended_the_case_closes() -> None:
    case = worked()
    case.parts_actions = {"PR-1": {"request_id": "PR-1", "state": "repaired"}}
    case.remedies = {"RM-1": {"remedy": "exchange", "state": "completed"}}
    [(_, _), (t, closed)] = case.close(
        resolution="换电机", outcome="repaired", by="sp-liu", now=T0, follow_up_after_days=7
    )
    assert t == "case.closed" and closed.override_reason is None and closed.open_items == []


def test_low_satisfaction_reopens_and_the_history_is_kept() -> None:
    case = worked()
    case.close(resolution="换电机", outcome="repaired", by="sp-liu", now=T0, follow_up_after_days=7)
    later = T0 + timedelta(days=8)
    events = case.record_follow_up(
        visited_on=date(2026, 11, 28),
        satisfaction=2,
        notes="仍有异响",
        by="sp-liu",
        now=later,
        reopen_at_satisfaction=2,
        policy=POLICY,
    )
    assert [t for t, _ in events] == ["case.followed_up", "case.reopened"]
    reopened = events[1][1]
    assert (reopened.trigger, reopened.satisfaction, reopened.times) == ("low_satisfaction", 2, 1)
    assert case.status == "reopened" and case.is_open and case.closed_at is None
    [history] = case.reopenings
    assert (history.previous_resolution, history.previous_outcome, history.previous_closed_at) == (
        "换电机",
        "repaired",
        T0,
    )
    assert case.targets["close"] == later + timedelta(hours=168) and "close" not in case.breaches
    assert case.follow_ups[0].satisfaction == 2  # the visit stays
    # Worked again, then closed again.
    case.reply(reply_id="R-2", message="再次上门", via="sms", by="sp-liu", now=later)
    assert case.status == "reopened"
    case.close(
        resolution="更换风轮",
        outcome="repaired",
        by="sp-liu",
        now=later + timedelta(days=1),
        follow_up_after_days=7,
    )
    assert case.status == "closed" and case.reopenings[0].previous_resolution == "换电机"


def test_a_good_visit_does_not_reopen_and_a_customer_may_ask_to_reopen() -> None:
    case = worked()
    case.close(resolution="换电机", outcome="repaired", by="sp-liu", now=T0, follow_up_after_days=7)
    assert [
        t
        for t, _ in case.record_follow_up(
            visited_on=date(2026, 11, 28),
            satisfaction=3,
            notes="",
            by="sp-liu",
            now=T0,
            reopen_at_satisfaction=2,
            policy=POLICY,
        )
    ] == ["case.followed_up"]
    [(t, e)] = case.reopen(
        trigger="customer_request", reason="客户来电称又有异响", by="hotline-desk", now=T0, policy=POLICY
    )
    assert (t, e.trigger, e.times) == ("case.reopened", "customer_request", 1)
    with pytest.raises(IllegalTransition):
        case.reopen(trigger="customer_request", reason="again", by="x", now=T0, policy=POLICY)
