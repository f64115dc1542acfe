"""Routing and assignment rules (R-DS-1)."""

from __future__ import annotations

import pytest

from dispatch.domain.routing import Specialist, choose_specialist, department_for, priority_for
from shared.contracts.complaints import ComplaintReceived
from shared.contracts.registry import load_registry

EXAMPLE = load_registry().get("intake.complaints.v1").events[0].examples[0]["payload"]

ROSTER = [
    Specialist("sp-liu", "刘工", "quality", ("product_fault", "software"), ("south_china",)),
    Specialist("sp-ma", "马工", "quality", ("product_fault", "consumable"), ("east_china",)),
    Specialist("sp-huang", "黄工", "quality", ("software",), ()),
    Specialist("eng-wu", "吴工", "engineering_installation", ("installation",), ("south_china",)),
    Specialist("sp-off", "休假", "quality", ("product_fault",), ("south_china",), active=False),
]


@pytest.mark.parametrize(
    ("category", "department"),
    [("installation", "engineering_installation"), ("product_fault", "quality"), ("consumable", "quality"),
     ("software", "quality")],
)
def test_departments(category, department) -> None:
    assert department_for(category) == department


@pytest.mark.parametrize(
    ("description", "priority"),
    [("机器冒烟有焦味", "urgent"), ("插头有火花", "urgent"), ("第二次坏了", "high"), ("repeated fault", "high"),
     ("风量小", "normal")],
)
def test_priority(description, priority) -> None:
    complaint = ComplaintReceived.model_validate({**EXAMPLE, "description": description})
    assert priority_for(complaint) == priority


def test_skill_and_region_first() -> None:
    choice = choose_specialist(ROSTER, department="quality", category="product_fault", region="south_china", workloads={})
    assert choice is not None and choice.specialist.specialist_id == "sp-liu"
    assert "skill product_fault" in choice.reason and "region south_china" in choice.reason


def test_skill_beats_region() -> None:
    choice = choose_specialist(ROSTER, department="quality", category="consumable", region="south_china", workloads={})
    assert choice is not None and choice.specialist.specialist_id == "sp-ma"


def test_a_national_specialist_covers_a_region_nobody_names() -> None:
    choice = choose_specialist(ROSTER, department="quality", category="software", region="northwest", workloads={})
    assert choice is not None and choice.specialist.specialist_id == "sp-huang"


def test_lowest_workload_among_equals_then_id() -> None:
    roster = [Specialist("b", "B", "quality", ("software",)), Specialist("a", "A", "quality", ("software",))]
    assert choose_specialist(roster, department="quality", category="software", region=None, workloads={"a": 3, "b": 1}
                             ).specialist.specialist_id == "b"  # type: ignore[union-attr]
    assert choose_specialist(roster, department="quality", category="software", region=None, workloads={}
                             ).specialist.specialist_id == "a"  # type: ignore[union-attr]


def test_department_is_a_must_and_inactive_specialists_are_skipped() -> None:
    choice = choose_specialist(ROSTER, department="engineering_installation", category="installation",
                               region="east_china", workloads={})
    assert choice is not None and choice.specialist.specialist_id == "eng-wu"
    assert choose_specialist(ROSTER[4:], department="quality", category="product_fault", region=None, workloads={}) is None
    assert choose_specialist([], department="quality", category="product_fault", region=None, workloads={}) is None
