"""The quality department's figures against a fixture of cases with known counts (R-DS-7)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from dispatch.domain.case import Case, Visit, open_case
from dispatch.domain.quality import fault_rows, figures, repeat_units
from dispatch.domain.targets import TargetPolicy
from shared.contracts.complaints import ComplaintReceived
from shared.contracts.registry import load_registry

EXAMPLE = load_registry().get("intake.complaints.v1").events[0].examples[0]["payload"]
POLICY = TargetPolicy.from_mapping({"targets": {"*": {"*": {"assign": 4, "first_reply": 24, "close": 168}}}})
NOV = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)  # 10:00 on 1 November in China


def a_case(
    n: int,
    *,
    day: int,
    serial: str,
    model: str | None = None,
    category: str = "product_fault",
    dealer: str | None = "D-GZ-001",
    region: str | None = "south_china",
    decision: str = "covered",
    reasons: tuple[str, ...] = ("within_product_warranty",),
    part: str | None = "motor",
    parts: tuple[tuple[str, int | None], ...] = (),
    repaired_after: int | None = None,
    satisfaction: int | None = None,
    received: datetime | None = None,
) -> Case:
    at = received or NOV + timedelta(days=day - 1)
    c = open_case(
        ComplaintReceived.model_validate(
            {
                **EXAMPLE,
                "case_id": f"YD-Q{n:09d}",
                "received_at": at.isoformat(),
                "dealer_code": dealer,
                "region": region,
                "product": {"model": model, "serial_no": serial},
                "category_guess": {"category": category, "confidence": 0.9, "evidence": []},
            }
        ),
        event_id="e",
        department="quality",
        priority="normal",
        policy=POLICY,
    )
    c.warranty = {
        "decision": decision,
        "remedy": "free_repair",
        "key_part": part,
        "reasons": [{"code": code, "message_zh": "", "message_en": ""} for code in reasons],
    }
    for i, (path, days) in enumerate(parts):
        c.parts_actions[f"PR-{n}-{i}"] = {
            "request_id": f"PR-{n}-{i}",
            "part": part,
            "path": path,
            "opened_at": at,
            **(
                {"repaired_on": (at + timedelta(days=days)).date().isoformat(), "state": "repaired"}
                if days is not None
                else {"state": "supplier_rma"}
            ),
        }
    if repaired_after is not None:
        c.repair_records.append(
            {
                "record_id": f"RR-{n}",
                "request_id": None,
                "repaired_on": (at + timedelta(days=repaired_after)).date().isoformat(),
            }
        )
    if satisfaction is not None:
        c.follow_ups.append(
            Visit(
                visited_on=date(2026, 11, 28),
                satisfaction=satisfaction,
                notes="",
                by="sp-liu",
                recorded_at=at,
            )
        )
    return c


CASES = [
    # Three YD-XF250 from the May 2024 batch; the first unit fails twice (a repeat).
    a_case(1, day=2, serial="XF2502405000001", parts=(("A", 2),), repaired_after=2, satisfaction=5),
    a_case(2, day=9, serial="XF2502405000001", parts=(("B", 10),), repaired_after=10, satisfaction=2),
    a_case(
        3,
        day=12,
        serial="XF2502405000002",
        decision="chargeable",
        reasons=("voltage_damage",),
        part="control_board",
        parts=(("B", None),),
    ),
    # A YD-XF350 of the November 2023 batch, another dealer and region, excluded for human damage.
    a_case(
        4,
        day=15,
        serial="XF3502311000042",
        dealer="D-SH-002",
        region="east_china",
        decision="chargeable",
        reasons=("human_damage",),
        part=None,
        satisfaction=4,
    ),
    # A software fault without a serial or dealer: counted under "none".
    a_case(
        5,
        day=20,
        serial="",
        category="software",
        dealer=None,
        region=None,
        part=None,
        reasons=("software_remote_update",),
        satisfaction=3,
    ),
    # Not faults, or not in the period: left out.
    a_case(6, day=5, serial="XF2502405000009", category="consumable"),
    a_case(
        7, day=1, serial="XF2502405000001", received=datetime(2026, 10, 31, 15, 59, tzinfo=UTC)
    ),  # 23:59 Oct 31
]


@pytest.fixture
def rows():
    return fault_rows(CASES, start=date(2026, 11, 1), end=date(2026, 11, 30))


def test_only_the_periods_faults_count(rows) -> None:
    assert [r.case_id for r in rows] == [
        "YD-Q000000001",
        "YD-Q000000002",
        "YD-Q000000003",
        "YD-Q000000004",
        "YD-Q000000005",
    ]
    # 16:00 UTC on 31 October is 1 November in China: it counts.
    assert [
        r.case_id
        for r in fault_rows(
            [a_case(8, day=1, serial="X", received=datetime(2026, 10, 31, 16, 0, tzinfo=UTC))],
            start=date(2026, 11, 1),
        )
    ] == ["YD-Q000000008"]


@pytest.mark.parametrize(
    ("by", "expected"),
    [
        ("model", {"YD-XF250": 3, "YD-XF350": 1, "none": 1}),
        ("part", {"motor": 2, "control_board": 1, "none": 2}),
        (
            "cause",
            {
                "within_product_warranty": 2,
                "voltage_damage": 1,
                "human_damage": 1,
                "software_remote_update": 1,
            },
        ),
        ("exclusion", {"none": 3, "voltage_damage": 1, "human_damage": 1}),
        ("dealer", {"D-GZ-001": 3, "D-SH-002": 1, "none": 1}),
        ("region", {"south_china": 3, "east_china": 1, "none": 1}),
        ("batch", {"XF250-2405": 3, "XF350-2311": 1, "none": 1}),
    ],
)
def test_fault_counts_and_shares_by_each_dimension(rows, by, expected) -> None:
    out = figures(rows, by=by)
    assert {g["key"]: g["faults"] for g in out["groups"]} == expected
    assert out["overall"]["faults"] == 5 and sum(g["share"] for g in out["groups"]) == pytest.approx(1.0)
    assert out["groups"][0]["faults"] == max(expected.values())  # largest first


def test_repeat_units_days_in_repair_paths_and_satisfaction(rows) -> None:
    [unit] = repeat_units(rows)
    assert (unit["serial_no"], unit["faults"], unit["cases"], unit["days_between"]) == (
        "XF2502405000001",
        2,
        ["YD-Q000000001", "YD-Q000000002"],
        [7],
    )
    out = figures(rows, by="batch")
    overall = out["overall"]
    assert overall["repeat_units"] == out["repeat_units"] == 1 and overall["units"] == 3
    assert (overall["mean_days_in_repair"], overall["repaired"]) == (6.0, 2)  # (2 + 10) / 2
    assert overall["paths"]["A"] == {"requests": 1, "share": 0.3333, "repaired": 1, "mean_days": 2.0}
    assert overall["paths"]["B"] == {"requests": 2, "share": 0.6667, "repaired": 1, "mean_days": 10.0}
    assert overall["satisfaction"] == {"n": 4, "mean": 3.5}
    may = next(g for g in out["groups"] if g["key"] == "XF250-2405")
    assert (may["faults"], may["repeat_units"], may["share"]) == (3, 1, 0.6)
