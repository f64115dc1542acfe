"""Planned maintenance visits within the maintenance year of an accepted installation (§二.3.4.1)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from engineering.domain.maintenance import plan_visits
from engineering.domain.project import IllegalTransition, InvalidInput, UnknownItem


def test_a_visit_every_three_months_within_the_year() -> None:
    visits = plan_visits(date(2026, 9, 30), maintenance_months=12, every_months=3)
    assert [v.due_on for v in visits] == [
        date(2026, 12, 30),
        date(2027, 3, 30),
        date(2027, 6, 30),
        date(2027, 9, 30),
    ]
    assert [v.due_on for v in plan_visits(date(2024, 2, 29), maintenance_months=12, every_months=6)] == [
        date(2024, 8, 29),
        date(2025, 2, 28),
    ]  # the last on the maintenance year's last day
    assert plan_visits(date(2026, 9, 30), maintenance_months=12, every_months=0) == []


def test_acceptance_plans_the_visits_and_a_missed_one_escalates_once(kit) -> None:
    project, _ = kit.walk("supervisor_signed")
    kit.step(
        project,
        "client_signed",
        kit.day(-30),
        design_unit_document="设计院签章 SJ-07",
        maintenance_months=12,
        visit_every_months=1,
    )
    assert project.accepted_on == date(2026, 10, 21) and len(project.maintenance_visits) == 12
    assert project.maintenance_visits[0].due_on == date(2026, 11, 21)
    # Due 2026-11-21 (one month after 10-21); grace 7 days: escalated from 11-28, once.
    assert project.next_visit_check(7) == date(2026, 11, 28)
    assert project.check_visits(today=date(2026, 11, 27), grace_days=7, now=kit.NOW) == []
    [(t, missed)] = project.check_visits(today=date(2026, 11, 28), grace_days=7, now=kit.NOW)
    assert t == "maintenance.visit_missed" and (missed.visit_no, missed.overdue_days) == (1, 7)
    assert project.check_visits(today=date(2026, 11, 29), grace_days=7, now=kit.NOW) == []
    assert project.next_visit_check(7) == date(2026, 12, 28)


def test_a_visit_is_recorded_once_and_not_before_acceptance(kit) -> None:
    project, _ = kit.walk("supervisor_signed")
    kit.step(
        project,
        "client_signed",
        kit.day(-30),
        design_unit_document="设计院签章 SJ-07",
        maintenance_months=12,
        visit_every_months=1,
    )
    now = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
    [(t, done)] = project.record_visit(
        visit_no=1, visited_on=date(2026, 11, 22), notes="更换初效滤网", by="eng-wu", now=now
    )
    assert t == "maintenance.visit_recorded" and done.due_on == date(2026, 11, 21)
    assert project.check_visits(today=date(2026, 12, 1), grace_days=7, now=now) == []  # made: never escalated
    with pytest.raises(IllegalTransition):
        project.record_visit(visit_no=1, visited_on=date(2026, 11, 22), notes="", by="eng-wu", now=now)
    with pytest.raises(UnknownItem):
        project.record_visit(visit_no=13, visited_on=date(2026, 11, 22), notes="", by="eng-wu", now=now)
    with pytest.raises(InvalidInput):
        project.record_visit(visit_no=2, visited_on=date(2026, 10, 1), notes="", by="eng-wu", now=now)
