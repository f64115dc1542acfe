"""Installation complaints: linked to the project that installed the unit; maintenance judged on its year (§二.3.4.2)."""

from __future__ import annotations

from datetime import date

import pytest

from engineering.domain.case_work import is_installation_complaint, link_case
from engineering.domain.periods import maintenance_months, maintenance_year_end, within_maintenance_year
from engineering.domain.project import InvalidInput
from shared.contracts.cases import CaseAssigned
from shared.contracts.registry import load_registry
from shared.periods import add_months as months_later
from shared.rulesets import PeriodBook, Periods

EXAMPLE = load_registry().get("dispatch.cases.v1").events[0].examples[0]["payload"]


def assigned(**changes) -> CaseAssigned:
    product = EXAMPLE["product"] | changes.pop("product", {})
    return CaseAssigned.model_validate(
        EXAMPLE
        | {
            "department": "engineering_installation",
            "category": "installation",
            "specialist_id": "eng-wu",
            "product": product,
        }
        | changes
    )


@pytest.mark.parametrize(
    ("start", "months", "end"),
    [
        ("2026-09-30", 12, "2027-09-30"),
        ("2024-02-29", 12, "2025-02-28"),
        ("2023-02-28", 12, "2024-02-28"),
        ("2025-01-31", 1, "2025-02-28"),
        ("2024-01-31", 1, "2024-02-29"),
        ("2025-12-15", 1, "2026-01-15"),
        ("2025-11-30", 3, "2026-02-28"),
        ("2026-03-18", 0, "2026-03-18"),
    ],
)
def test_a_period_ends_on_the_same_numbered_day_or_the_month_end(start, months, end) -> None:
    assert months_later(date.fromisoformat(start), months) == date.fromisoformat(end)


@pytest.mark.parametrize(
    ("accepted", "done", "within"),
    [
        ("2026-09-30", "2027-09-30", True),  # the anniversary itself is still inside
        ("2026-09-30", "2027-10-01", False),
        ("2024-02-29", "2025-02-28", True),  # leap day: the month's last day
        ("2024-02-29", "2025-03-01", False),
        ("2026-09-30", "2026-09-30", True),
        (
            "2026-09-30",
            "2026-09-29",
            None,
        ),  # before acceptance the contract, not the maintenance year, applies
        (None, "2026-11-20", None),  # no accepted project
    ],
)
def test_within_the_maintenance_year(accepted, done, within) -> None:
    accepted_on = date.fromisoformat(accepted) if accepted else None
    assert within_maintenance_year(accepted_on, date.fromisoformat(done), 12) is within


def test_the_maintenance_year_comes_from_the_warranty_rule_set_in_effect() -> None:
    book = PeriodBook.from_directory()  # the files warranty decides with
    months = maintenance_months(book, date(2026, 11, 30))
    assert months == book.for_day(date(2026, 11, 30)).installation_workmanship_months == 12
    assert maintenance_year_end(date(2026, 9, 30), months) == date(2027, 9, 30)
    # A later rule set changes it from its effective day, without a release.
    longer = PeriodBook((*book.sets, Periods("2027-01-01", date(2027, 1, 1), 12, 12, 18)))
    assert (
        maintenance_months(longer, date(2026, 12, 31)) == 12
        and maintenance_months(longer, date(2027, 1, 1)) == 18
    )
    assert within_maintenance_year(
        date(2026, 9, 30), date(2027, 12, 1), maintenance_months(longer, date(2027, 12, 1))
    )


def test_only_installation_complaints_concern_engineering() -> None:
    assert is_installation_complaint(assigned())
    assert not is_installation_complaint(assigned(department="quality"))


def test_the_unit_s_own_project_wins_over_the_one_named(kit) -> None:
    project = kit.at("opened")
    other, _ = kit.new_project(project_id="P-2026-099")
    case, [(event_type, linked)] = link_case(
        assigned(product={"serial_no": "XF1K2501000008", "model": None}, project_ref="P-2026-099"),
        by_serial=project,
        by_ref=other,
        event_id="e-1",
        now=kit.NOW,
    )
    assert event_type == "installation.case_linked"
    assert (linked.project_id, linked.serial_no, linked.linked_by) == (
        "P-2026-017",
        "XF1K2501000008",
        "engineering",
    )
    assert (case.linked_via, case.model) == ("serial_no", "YD-XF1000")  # the model from the equipment list


def test_linked_by_the_project_named_else_to_none(kit) -> None:
    project = kit.at("opened")
    case, [(_, linked)] = link_case(
        assigned(project_ref="P-2026-017"), by_serial=None, by_ref=project, event_id="e-2", now=kit.NOW
    )
    assert (linked.project_id, case.linked_via) == ("P-2026-017", "project_ref")
    case, [(_, linked)] = link_case(assigned(), by_serial=None, by_ref=None, event_id="e-3", now=kit.NOW)
    assert linked.project_id is None and case.linked_via is None and linked.serial_no == "XF2502405001234"


def test_maintenance_says_whether_it_fell_within_the_year(kit) -> None:
    case, _ = link_case(assigned(), by_serial=kit.at("opened"), by_ref=None, event_id="e-4", now=kit.NOW)
    [(event_type, inside)] = case.record_maintenance(
        record_id="W-1",
        work_done="重新密封风管接口",
        done_on=kit.day(-1),
        note="",
        accepted_on=date(2026, 9, 30),
        by="eng-wu",
        now=kit.NOW,
        maintenance_months=12,
    )
    assert event_type == "installation.maintenance_recorded"
    assert (inside.within_maintenance_year, inside.project_id, inside.done_on) == (
        True,
        "P-2026-017",
        kit.day(-1),
    )
    [(_, outside)] = case.record_maintenance(
        record_id="W-2",
        work_done="更换风口",
        done_on=kit.day(-1),
        note="",
        accepted_on=date(2025, 9, 30),
        by="eng-wu",
        now=kit.NOW,
        maintenance_months=12,
    )
    assert outside.within_maintenance_year is False
    assert [r.within_maintenance_year for r in case.maintenance] == [True, False]
    with pytest.raises(InvalidInput) as exc:
        case.record_maintenance(
            record_id="W-3",
            work_done="x",
            done_on=kit.day(1),
            note="",
            accepted_on=None,
            by="eng-wu",
            now=kit.NOW,
            maintenance_months=12,
        )
    assert exc.value.field == "done_on"
