"""A project walked to any stage of its life, without I/O, for the domain tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from engineering.domain.project import Event, Project, QuotedLine, Schedule, Unit, open_project

# 10:00 in China on 2026-11-20; every date the tests record is on or before that day.
NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
TODAY = date(2026, 11, 20)
MIN_INSTALLERS = 3


def day(offset: int) -> date:
    """A day relative to TODAY (negative: in the past)."""
    return TODAY + timedelta(days=offset)


def new_project(**changes: Any) -> tuple[Project, list[Event]]:
    fields: dict[str, Any] = {
        "project_id": "P-2026-017",
        "client": "深圳市南山区某实验学校",
        "site": "深圳市南山区学府路 88 号",
        "supervisor": "深圳某工程监理有限公司",
        "design_unit": "某建筑设计院",
        "units": [
            Unit(serial_no="XF1K2501000007", model="YD-XF1000"),
            Unit(serial_no="XF1K2501000008", model="YD-XF1000"),
        ],
        "contract_value": Decimal("1286000.00"),
        "bid_won_on": day(-120),
        "note": "",
        "by": "eng-wu",
        "now": NOW,
    }
    return open_project(**(fields | changes))


def quote(project: Project, installer: str, unit_price: str = "880.00", *, days: int = 40) -> list[Event]:
    return project.add_quote(
        installer=installer,
        contracting_mode="labour_and_auxiliary_materials",
        items=[
            QuotedLine(item="新风机组吊装", unit="台", quantity=Decimal(2), unit_price=Decimal(unit_price)),
            QuotedLine(
                item="镀锌风管安装", unit="米", quantity=Decimal("120.5"), unit_price=Decimal("65.40")
            ),
        ],
        scope="新风机组、风管及风口安装调试",
        drawings_signed_off=True,
        schedule=Schedule(starts_on=day(-80), finishes_on=day(-80 + days)),
        requirements="按图施工，文明施工",
        payment_terms="预付 30%，验收后付至 95%，质保金 5%",
        maintenance_terms="验收后一年免费维修",
        quoted_on=day(-110),
        by="eng-wu",
        now=NOW,
    )


def step(project: Project, name: str, done_on: date, **extra: Any) -> list[Event]:
    return project.record_step(
        name,
        done_on=done_on,
        document=f"DOC-{name}",
        performed_by=None,
        note="",
        by="eng-wu",
        now=NOW,
        **extra,
    )


# Each stage after "opened", with what gets the project there; walk() runs them in order.
STAGES: list[tuple[str, Callable[[Project], list[Event]]]] = [
    (
        "quoted",
        lambda p: (
            quote(p, "广州甲安装工程有限公司", "900.00")
            + quote(p, "佛山乙机电安装公司", "860.00")
            + quote(p, "深圳丙净化工程公司", "920.00", days=30)
        ),
    ),
    (
        "awaiting_decision",
        lambda p: p.submit_for_decision(min_installers=MIN_INSTALLERS, by="eng-wu", now=NOW),
    ),
    (
        "contracting",
        lambda p: p.decide(quote_id="Q-2", reason="报价最低，工期合理，维保条款完整", by="gm-zhou", now=NOW),
    ),
    (
        "preparing",
        lambda p: p.record_contract(
            contract_no="HT-2026-031",
            signed_on=day(-90),
            amount=None,
            schedule=None,
            document="HT-2026-031.pdf",
            by="eng-wu",
            now=NOW,
        ),
    ),
    (
        "site_lead",
        lambda p: p.name_site_lead(
            name="陈工", title="项目经理", phone="+8613800000001", by="eng-wu", now=NOW
        ),
    ),
    (
        "surveyed",
        lambda p: p.record_survey(
            surveyed_on=day(-88),
            participants=["陈工", "施工队长 黄师傅"],
            findings="三楼吊顶内有消防管道",
            obstacle_plan="风管绕行，增加两处弯头",
            by="eng-wu",
            now=NOW,
        ),
    ),
    (
        "contacts",
        lambda p: (
            p.record_contact(party="client", name="李主任", title="后勤处", phone=None, by="eng-wu", now=NOW)
            + p.record_contact(
                party="supervisor", name="王总监", title="总监理工程师", phone=None, by="eng-wu", now=NOW
            )
        ),
    ),
    (
        "paperwork",
        lambda p: [
            e
            for item in ("equipment_certificates", "material_certificates", "crew_ids", "commencement_report")
            for e in p.record_paperwork(
                item=item, document=f"{item}.pdf", submitted_on=day(-85), note="", by="eng-wu", now=NOW
            )
        ],
    ),
    ("in_works", lambda p: p.start_works(started_on=day(-80), by="eng-wu", now=NOW)),
    (
        "material",
        lambda p: (
            p.declare_material(
                name="镀锌风管",
                spec="δ0.8",
                quantity=Decimal(130),
                unit="米",
                certificate="HG-2026-1101",
                by="eng-wu",
                now=NOW,
            )
            + p.inspect_material(
                material_id="M-1",
                result="accepted",
                inspected_by="王总监",
                inspected_on=day(-79),
                document="材料报验单 BY-01",
                note="",
                by="eng-wu",
                now=NOW,
            )
            + p.use_material(
                material_id="M-1",
                quantity=Decimal("120.5"),
                used_on=day(-70),
                location="三楼走廊",
                by="eng-wu",
                now=NOW,
            )
            + p.record_progress(
                on=day(-60), percent_complete=50, work_done="风管安装过半", note="", by="eng-wu", now=NOW
            )
            + p.record_instruction(
                received_on=day(-55),
                given_by="李主任",
                instruction="教学区施工避开上课时间",
                document=None,
                action_taken="改为课后施工",
                by="eng-wu",
                now=NOW,
            )
        ),
    ),
    (
        "in_acceptance",
        lambda p: [
            e
            for c in ("scope_complete", "self_inspection", "rectifications_closed", "archives_complete")
            for e in p.record_precondition(
                condition=c, met_on=day(-40), document=f"{c}.pdf", note="", by="eng-wu", now=NOW
            )
        ],
    ),
    ("self_check", lambda p: step(p, "self_check", day(-38))),
    ("application", lambda p: step(p, "application", day(-36))),
    ("supervisor_signed", lambda p: step(p, "supervisor_signed", day(-33))),
    ("accepted", lambda p: step(p, "client_signed", day(-30), design_unit_document="设计院签章 SJ-07")),
    (
        "settlement",
        lambda p: step(
            p, "settlement", day(-28), payment_request="付款申请 FK-09", amount=Decimal("98765.40")
        ),
    ),
    ("archived", lambda p: step(p, "archive", day(-25))),
]


def walk(until: str, project: Project | None = None) -> tuple[Project, list[Event]]:
    """A fresh project (or the one given) taken through every stage up to and including `until`."""
    events: list[Event] = []
    if project is None:
        project, events = new_project()
    names = [name for name, _ in STAGES]
    for _name, move in STAGES[: names.index(until) + 1]:
        events += move(project)
    return project, events


def at(stage: str) -> Project:
    """A project at a named stage (see STAGES), e.g. at("in_works")."""
    return new_project()[0] if stage == "opened" else walk(stage)[0]


@pytest.fixture
def kit() -> SimpleNamespace:
    """The helpers above for the test modules (which cannot import a conftest under importlib mode)."""
    return SimpleNamespace(
        NOW=NOW,
        TODAY=TODAY,
        MIN=MIN_INSTALLERS,
        day=day,
        new_project=new_project,
        quote=quote,
        step=step,
        walk=walk,
        at=at,
        stages=[name for name, _ in STAGES],
    )
