"""Routing and assignment rules (R-DS-1)."""

from __future__ import annotations

from datetime import date

import pytest

from dispatch.domain.routing import (
    AssignmentPolicy,
    Ceiling,
    Specialist,
    choose_specialist,
    department_for,
    priority_for,
)
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
    [
        ("installation", "engineering_installation"),
        ("product_fault", "quality"),
        ("consumable", "quality"),
        ("software", "quality"),
    ],
)
def test_departments(category, department) -> None:
    assert department_for(category) == department


@pytest.mark.parametrize(
    ("description", "priority"),
    [
        ("机器冒烟有焦味", "urgent"),
        ("插头有火花", "urgent"),
        ("第二次坏了", "high"),
        ("repeated fault", "high"),
        ("风量小", "normal"),
    ],
)
def test_priority(description, priority) -> None:
    complaint = ComplaintReceived.model_validate({**EXAMPLE, "description": description})
    assert priority_for(complaint) == priority


def test_skill_and_region_first() -> None:
    choice = choose_specialist(
        ROSTER, department="quality", category="product_fault", region="south_china", workloads={}
    )
    assert choice is not None and choice.specialist.specialist_id == "sp-liu"
    assert "skill product_fault" in choice.reason and "region south_china" in choice.reason


def test_skill_beats_region() -> None:
    choice = choose_specialist(
        ROSTER, department="quality", category="consumable", region="south_china", workloads={}
    )
    assert choice is not None and choice.specialist.specialist_id == "sp-ma"


def test_a_national_specialist_covers_a_region_nobody_names() -> None:
    choice = choose_specialist(
        ROSTER, department="quality", category="software", region="northwest", workloads={}
    )
    assert choice is not None and choice.specialist.specialist_id == "sp-huang"


def test_lowest_workload_among_equals_then_id() -> None:
    roster = [Specialist("b", "B", "quality", ("software",)), Specialist("a", "A", "quality", ("software",))]
    assert (
        choose_specialist(
            roster, department="quality", category="software", region=None, workloads={"a": 3, "b": 1}
        ).specialist.specialist_id
        == "b"
    )  # type: ignore[union-attr]
    assert (
        choose_specialist(
            roster, department="quality", category="software", region=None, workloads={}
        ).specialist.specialist_id
        == "a"
    )  # type: ignore[union-attr]


def test_department_is_a_must_and_inactive_specialists_are_skipped() -> None:
    choice = choose_specialist(
        ROSTER,
        department="engineering_installation",
        category="installation",
        region="east_china",
        workloads={},
    )
    assert choice is not None and choice.specialist.specialist_id == "eng-wu"
    assert (
        choose_specialist(
            ROSTER[4:], department="quality", category="product_fault", region=None, workloads={}
        )
        is None
    )
    assert (
        choose_specialist([], department="quality", category="product_fault", region=None, workloads={})
        is None
    )


# ---------------------------------------------------------------------------- load against preference

SEED = [
    Specialist(
        "sp-liu", "刘工", "quality", ("product_fault", "software", "consumable"), ("south_china", "southwest")
    ),
    Specialist(
        "sp-ma",
        "马工",
        "quality",
        ("product_fault", "consumable"),
        ("east_china", "north_china", "northeast"),
    ),
    Specialist("sp-huang", "黄工", "quality", ("software", "product_fault"), ()),
    Specialist(
        "eng-wu", "吴工", "engineering_installation", ("installation",), ("south_china", "central_china")
    ),
]


def burst(count: int, ceiling: Ceiling, roster: list[Specialist] = SEED) -> tuple[dict[str, int], list[str]]:
    """`count` product-fault complaints from 广东 routed one after another, as the board counts them."""
    loads: dict[str, int] = {}
    reasons = []
    for _ in range(count):
        choice = choose_specialist(
            roster,
            department="quality",
            category="product_fault",
            region="south_china",
            workloads=loads,
            ceiling=ceiling,
        )
        assert choice is not None
        loads[choice.specialist.specialist_id] = loads.get(choice.specialist.specialist_id, 0) + 1
        reasons.append(choice.reason)
    return loads, reasons


def test_a_burst_of_2000_from_guangdong_is_spread_over_the_department() -> None:
    loads, reasons = burst(2000, Ceiling(max_open=30, max_share=0.5, share_from=10))
    assert sum(loads.values()) == 2000 and set(loads) == {"sp-liu", "sp-huang", "sp-ma"}
    assert max(loads.values()) - min(loads.values()) <= 1  # past the ceiling, the lowest workload takes it
    # The regional specialist takes the first ones; past the share, colleagues are preferred; each reason says so.
    assert reasons[0].startswith("quality department; skill product_fault; region south_china; 0 open cases")
    assert any("passed over sp-liu (would hold" in r for r in reasons)
    assert any("everyone eligible is at the ceiling" in r for r in reasons[-10:])


def test_without_a_ceiling_the_region_would_take_everything() -> None:
    loads, _ = burst(2000, Ceiling(max_open=10_000, max_share=1.0, share_from=10_000))
    assert loads == {"sp-liu": 2000}  # the fault this issue reports


def test_the_ceiling_sends_the_next_case_to_an_eligible_colleague() -> None:
    choice = choose_specialist(
        SEED,
        department="quality",
        category="product_fault",
        region="south_china",
        workloads={"sp-liu": 5},
        ceiling=Ceiling(max_open=5, max_share=1.0),
    )
    assert choice is not None and choice.specialist.specialist_id == "sp-huang"
    assert "passed over sp-liu (at the ceiling of 5 open cases)" in choice.reason
    # The share of the team's open work counts too, once the team holds enough.
    choice = choose_specialist(
        SEED,
        department="quality",
        category="product_fault",
        region="south_china",
        workloads={"sp-liu": 8, "sp-huang": 1, "sp-ma": 1},
        ceiling=Ceiling(max_open=100, max_share=0.5, share_from=10),
    )
    assert choice is not None and choice.specialist.specialist_id == "sp-huang"


def test_absent_and_inactive_specialists_get_nothing() -> None:
    away = [
        s
        if s.specialist_id != "sp-liu"
        else Specialist(
            "sp-liu", "刘工", "quality", ("product_fault",), ("south_china",), absent_until=date(2026, 12, 3)
        )
        for s in SEED
    ]
    choice = choose_specialist(
        away,
        department="quality",
        category="product_fault",
        region="south_china",
        workloads={},
        today=date(2026, 12, 3),
    )
    assert choice is not None and choice.specialist.specialist_id == "sp-huang"
    back = choose_specialist(
        away,
        department="quality",
        category="product_fault",
        region="south_china",
        workloads={},
        today=date(2026, 12, 4),
    )
    assert back is not None and back.specialist.specialist_id == "sp-liu"
    inactive = [Specialist("a", "A", "quality", ("software",), active=False)]
    assert (
        choose_specialist(inactive, department="quality", category="software", region=None, workloads={})
        is None
    )


def test_the_managers_mode_per_channel_and_category() -> None:
    policy = AssignmentPolicy(
        modes={
            "*": {"*": "auto", "installation": "confirm"},
            "online": {"*": "confirm", "consumable": "auto"},
        }
    )
    assert policy.mode_for("online", "product_fault") == "confirm"
    assert policy.mode_for("online", "consumable") == "auto"
    assert policy.mode_for("dealer", "installation") == "confirm"
    assert policy.mode_for("dealer", "software") == "auto"
    with pytest.raises(ValueError):
        AssignmentPolicy(modes={"fax": {"*": "auto"}})
    with pytest.raises(ValueError):
        AssignmentPolicy(modes={"*": {"*": "maybe"}})  # type: ignore[dict-item]
