"""The project from won bid to archive, and every gate refusing a move whose condition is missing (R-EN-1..5)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from engineering.domain.project import GateClosed, IllegalTransition, InvalidInput, UnknownItem
from engineering.domain.views import checklist_view


def milestones(events) -> list[str]:
    return [p.milestone for t, p in events if t == "project.milestone"]


def items(exc: pytest.ExceptionInfo[GateClosed]) -> list[str]:
    return [m.item for m in exc.value.missing]


# ------------------------------------------------------------------------------------------- the whole path


def test_the_whole_life_with_its_events(kit) -> None:
    project, events = kit.walk("archived")
    assert [t for t, _ in events][:2] == ["project.opened", "project.milestone"]
    assert milestones(events) == [
        "quotes_complete",
        "installer_chosen",
        "contract_signed",
        "site_lead_named",
        "survey_done",
        "contacts_recorded",
        "paperwork_complete",
        "works_started",
        "material_accepted",
        "preconditions_met",
        "acceptance_self_check",
        "acceptance_application",
        "acceptance_supervisor_signed",
        "acceptance_client_signed",
        "acceptance_settlement",
        "archived",
    ]
    # Acceptance (the client's and design unit's stamps) starts the warranties, right after its milestone.
    types = [t for t, _ in events]
    accepted_at = types.index("installation.accepted")
    assert events[accepted_at - 1][1].milestone == "acceptance_client_signed"
    accepted = events[accepted_at][1]
    assert accepted.accepted_on == kit.day(-30) and accepted.client == "深圳市南山区某实验学校"
    assert [(u.serial_no, u.model) for u in accepted.units] == [
        ("XF1K2501000007", "YD-XF1000"),
        ("XF1K2501000008", "YD-XF1000"),
    ]
    assert types.count("installation.accepted") == 1
    assert project.status == "archived" and project.accepted_on == kit.day(-30)
    assert project.decision.installer == "佛山乙机电安装公司" and project.decision.by == "gm-zhou"
    # The contract takes the chosen quote's total and schedule unless negotiated otherwise.
    assert project.contract.amount == project.quote("Q-2").total == Decimal("9600.70")
    assert project.contract.schedule == project.quote("Q-2").schedule
    assert project.materials[0].used == Decimal("120.5")
    # Every gate passed, the optional survey included; the checklist has nothing left to ask for.
    checklist = checklist_view(project, min_installers=kit.MIN)
    assert checklist["next_gate"] is None
    assert all(g["passed"] and not g["missing"] for g in checklist["gates"])
    assert [h.action for h in project.history][:4] == ["opened", "quote_added", "quote_added", "quote_added"]


def test_no_event_carries_a_price(kit) -> None:
    _, events = kit.walk("archived")
    prices = {"1286000.00", "1286000", "9600.70", "98765.40", "880.00", "65.40"}
    for _, payload in events:
        text = json.dumps(payload.model_dump(mode="json"), ensure_ascii=False)
        assert not any(p in text for p in prices), text


def test_statuses_move_forward_only(kit) -> None:
    seen = [
        kit.at(stage).status
        for stage in (
            "opened",
            "quoted",
            "awaiting_decision",
            "contracting",
            "preparing",
            "paperwork",
            "in_works",
            "in_acceptance",
            "settlement",
            "archived",
        )
    ]
    assert seen == [
        "sourcing",
        "sourcing",
        "awaiting_decision",
        "contracting",
        "preparing",
        "preparing",
        "in_works",
        "in_acceptance",
        "accepted",
        "archived",
    ]


def test_a_project_without_a_design_unit_is_accepted_on_the_client_alone(kit) -> None:
    project, _ = kit.new_project(design_unit=None)
    kit.walk("supervisor_signed", project)
    events = kit.step(project, "client_signed", kit.day(-30))
    assert [t for t, _ in events] == ["project.milestone", "installation.accepted"]


# ------------------------------------------------------------------------------------------- R-EN-1


def test_two_quotes_are_not_enough(kit) -> None:
    project = kit.at("opened")
    kit.quote(project, "广州甲安装工程有限公司")
    kit.quote(project, "佛山乙机电安装公司")
    with pytest.raises(GateClosed) as exc:
        project.submit_for_decision(min_installers=3, by="eng-wu", now=kit.NOW)
    assert exc.value.gate == "quotes_complete" and items(exc) == ["quotes"]
    assert "at least 3 different installers (2 so far)" in str(exc.value)
    assert project.status == "sourcing"


def test_two_quotes_from_one_installer_count_once(kit) -> None:
    project = kit.at("opened")
    kit.quote(project, "广州甲安装工程有限公司", "900.00")
    kit.quote(project, "佛山乙机电安装公司")
    kit.quote(project, "  广州甲安装工程有限公司 ", "850.00")  # a revised quote, typed with spaces
    kit.quote(project, "ＡＢＣ Installation")  # full-width
    kit.quote(project, "abc installation")
    assert project.installers == ["广州甲安装工程有限公司", "佛山乙机电安装公司", "ＡＢＣ Installation"]
    project.submit_for_decision(min_installers=3, by="eng-wu", now=kit.NOW)  # three different ones now
    project2 = kit.at("opened")
    for _ in range(3):
        kit.quote(project2, "广州甲安装工程有限公司")
    with pytest.raises(GateClosed) as exc:
        project2.submit_for_decision(min_installers=3, by="eng-wu", now=kit.NOW)
    assert "(1 so far)" in str(exc.value)


def test_the_number_of_installers_is_configuration(kit) -> None:
    project = kit.at("opened")
    kit.quote(project, "广州甲安装工程有限公司")
    kit.quote(project, "佛山乙机电安装公司")
    [(_, milestone)] = project.submit_for_decision(min_installers=2, by="eng-wu", now=kit.NOW)
    assert milestone.milestone == "quotes_complete"


def test_management_decides_only_after_submission_and_names_a_quote(kit) -> None:
    project = kit.at("quoted")
    with pytest.raises(GateClosed) as exc:
        project.decide(quote_id="Q-1", reason="最低价", by="gm-zhou", now=kit.NOW)
    assert exc.value.gate == "quotes_complete" and items(exc) == ["submission"]
    project.submit_for_decision(min_installers=3, by="eng-wu", now=kit.NOW)
    with pytest.raises(InvalidInput) as bad:
        project.decide(quote_id="Q-9", reason="最低价", by="gm-zhou", now=kit.NOW)
    assert bad.value.field == "quote_id"
    project.decide(quote_id="Q-3", reason="工期最短", by="gm-zhou", now=kit.NOW)
    with pytest.raises(IllegalTransition, match="contracting"):
        project.decide(quote_id="Q-1", reason="改主意", by="gm-zhou", now=kit.NOW)


def test_quotes_are_closed_once_submitted(kit) -> None:
    project = kit.at("awaiting_decision")
    with pytest.raises(IllegalTransition) as exc:
        kit.quote(project, "第四家安装公司")
    assert exc.value.current == "awaiting_decision"


def test_the_contract_needs_the_decision(kit) -> None:
    project = kit.at("awaiting_decision")
    with pytest.raises(GateClosed) as exc:
        project.record_contract(
            contract_no="HT-1",
            signed_on=kit.day(-1),
            amount=None,
            schedule=None,
            document=None,
            by="eng-wu",
            now=kit.NOW,
        )
    assert exc.value.gate == "installer_chosen" and items(exc) == ["decision"]


def test_an_empty_price_list_is_refused(kit) -> None:
    project = kit.at("opened")
    with pytest.raises(InvalidInput) as exc:
        project.add_quote(
            installer="x",
            contracting_mode="labour_only",
            items=[],
            scope="s",
            drawings_signed_off=False,
            schedule=kit.at("quoted").quotes[0].schedule,
            requirements="r",
            payment_terms="p",
            maintenance_terms="m",
            quoted_on=kit.TODAY,
            by="eng-wu",
            now=kit.NOW,
        )
    assert exc.value.field == "items"


# ------------------------------------------------------------------------------------------- R-EN-2


def test_works_do_not_start_before_the_paperwork_is_in(kit) -> None:
    project = kit.at("contacts")
    project.record_paperwork(
        item="equipment_certificates",
        document="合格证.pdf",
        submitted_on=kit.day(-85),
        note="",
        by="eng-wu",
        now=kit.NOW,
    )
    project.record_paperwork(
        item="material_certificates",
        document="辅料合格证.pdf",
        submitted_on=kit.day(-85),
        note="",
        by="eng-wu",
        now=kit.NOW,
    )
    with pytest.raises(GateClosed) as exc:
        project.start_works(started_on=kit.day(-80), by="eng-wu", now=kit.NOW)
    assert exc.value.gate == "paperwork_complete"
    assert items(exc) == ["paperwork.crew_ids", "paperwork.commencement_report"]
    assert "工程开工报审表" in str(exc.value)
    assert project.status == "preparing"


def test_works_need_the_site_lead_and_both_contacts_too(kit) -> None:
    project = kit.at("preparing")
    project.record_contact(party="client", name="李主任", title=None, phone=None, by="eng-wu", now=kit.NOW)
    with pytest.raises(GateClosed) as exc:
        project.start_works(started_on=kit.day(-80), by="eng-wu", now=kit.NOW)
    assert items(exc) == [
        "site_lead",
        "contact.supervisor",
        "paperwork.equipment_certificates",
        "paperwork.material_certificates",
        "paperwork.crew_ids",
        "paperwork.commencement_report",
    ]


def test_works_do_not_start_before_the_contract(kit) -> None:
    project = kit.at("quoted")
    with pytest.raises(GateClosed) as exc:
        project.start_works(started_on=kit.day(-80), by="eng-wu", now=kit.NOW)
    assert exc.value.gate == "quotes_complete"
    assert items(exc)[:4] == ["submission", "decision", "contract", "site_lead"]


def test_preparation_records_wait_for_the_contract(kit) -> None:
    project = kit.at("contracting")
    with pytest.raises(GateClosed) as exc:
        project.name_site_lead(name="陈工", title=None, phone=None, by="eng-wu", now=kit.NOW)
    assert items(exc) == ["contract"]


def test_a_new_site_lead_replaces_the_first_without_a_second_milestone(kit) -> None:
    project = kit.at("site_lead")
    assert project.name_site_lead(name="周工", title=None, phone=None, by="eng-wu", now=kit.NOW) == []
    assert project.site_lead.name == "周工" and "接替 陈工" in project.history[-1].detail


def test_the_start_cannot_precede_the_contract_or_today(kit) -> None:
    project = kit.at("paperwork")
    with pytest.raises(InvalidInput) as exc:
        project.start_works(started_on=kit.day(-95), by="eng-wu", now=kit.NOW)
    assert exc.value.field == "started_on"
    with pytest.raises(InvalidInput, match="future"):
        project.start_works(started_on=kit.day(1), by="eng-wu", now=kit.NOW)


# ------------------------------------------------------------------------------------------- R-EN-3


def test_unaccepted_material_cannot_be_used(kit) -> None:
    project = kit.at("in_works")
    project.declare_material(
        name="保温棉",
        spec="25mm",
        quantity=Decimal(50),
        unit="m²",
        certificate="BW-1",
        by="eng-wu",
        now=kit.NOW,
    )
    with pytest.raises(GateClosed) as exc:
        project.use_material(
            material_id="M-1",
            quantity=Decimal(10),
            used_on=kit.day(-1),
            location="机房",
            by="eng-wu",
            now=kit.NOW,
        )
    assert exc.value.gate == "material_accepted" and items(exc) == ["material.M-1.acceptance"]
    assert project.materials[0].uses == []


def test_rejected_material_is_never_used(kit) -> None:
    project = kit.at("in_works")
    project.declare_material(
        name="风口", spec="", quantity=Decimal(20), unit="个", certificate="FK-1", by="eng-wu", now=kit.NOW
    )
    assert (
        project.inspect_material(
            material_id="M-1",
            result="rejected",
            inspected_by="王总监",
            inspected_on=kit.day(-2),
            document="BY-2",
            note="规格不符",
            by="eng-wu",
            now=kit.NOW,
        )
        == []
    )
    with pytest.raises(GateClosed, match="rejected by the supervisor"):
        project.use_material(
            material_id="M-1",
            quantity=Decimal(1),
            used_on=kit.day(-1),
            location="x",
            by="eng-wu",
            now=kit.NOW,
        )
    with pytest.raises(IllegalTransition, match="rejected"):
        project.inspect_material(
            material_id="M-1",
            result="accepted",
            inspected_by="王总监",
            inspected_on=kit.day(-1),
            document="BY-3",
            note="",
            by="eng-wu",
            now=kit.NOW,
        )


def test_no_more_material_is_used_than_was_accepted(kit) -> None:
    project = kit.at("material")  # 130 m accepted, 120.5 m used
    with pytest.raises(InvalidInput) as exc:
        project.use_material(
            material_id="M-1",
            quantity=Decimal(10),
            used_on=kit.day(-1),
            location="x",
            by="eng-wu",
            now=kit.NOW,
        )
    assert exc.value.field == "quantity" and "9.5" in exc.value.message
    with pytest.raises(UnknownItem):
        project.use_material(
            material_id="M-7",
            quantity=Decimal(1),
            used_on=kit.day(-1),
            location="x",
            by="eng-wu",
            now=kit.NOW,
        )


def test_progress_and_instructions_are_kept(kit) -> None:
    project = kit.at("material")
    assert project.progress[0].percent_complete == 50
    assert project.contract.schedule.planned_percent(kit.day(-60)) == 51  # 21 of 41 days
    assert (
        project.instructions[0].instruction_id == "I-1"
        and project.instructions[0].action_taken == "改为课后施工"
    )
    with pytest.raises(InvalidInput) as exc:
        project.record_progress(
            on=kit.day(-81), percent_complete=1, work_done="x", note="", by="eng-wu", now=kit.NOW
        )
    assert exc.value.field == "on"


def test_progress_waits_for_the_start(kit) -> None:
    with pytest.raises(GateClosed) as exc:
        kit.at("paperwork").record_progress(
            on=kit.day(-1), percent_complete=1, work_done="x", note="", by="eng-wu", now=kit.NOW
        )
    assert items(exc) == ["works_start"]


# ------------------------------------------------------------------------------------------- R-EN-4


def test_acceptance_waits_for_the_four_preconditions(kit) -> None:
    project = kit.at("material")
    project.record_precondition(
        condition="scope_complete", met_on=kit.day(-40), document="d", note="", by="eng-wu", now=kit.NOW
    )
    with pytest.raises(GateClosed) as exc:
        kit.step(project, "self_check", kit.day(-38))
    assert exc.value.gate == "preconditions_met"
    assert items(exc) == [
        "precondition.self_inspection",
        "precondition.rectifications_closed",
        "precondition.archives_complete",
    ]
    assert project.status == "in_works" and project.steps == []


def test_steps_out_of_order_name_what_is_missing(kit) -> None:
    project = kit.at("in_acceptance")
    with pytest.raises(GateClosed) as exc:
        kit.step(project, "supervisor_signed", kit.day(-33))
    assert exc.value.gate == "acceptance_self_check"
    assert items(exc) == ["step.self_check", "step.application"]
    assert "the foreman's application" in str(exc.value)
    kit.step(project, "self_check", kit.day(-38))
    with pytest.raises(GateClosed) as exc:
        kit.step(project, "client_signed", kit.day(-30), design_unit_document="SJ")
    assert items(exc) == ["step.application", "step.supervisor_signed"]
    with pytest.raises(GateClosed) as exc:
        kit.step(project, "archive", kit.day(-30))
    assert items(exc) == [
        "step.application",
        "step.supervisor_signed",
        "step.client_signed",
        "step.settlement",
    ]
    with pytest.raises(IllegalTransition, match="recorded on"):
        kit.step(project, "self_check", kit.day(-37))


def test_settlement_and_archive_come_after_acceptance(kit) -> None:
    project = kit.at("supervisor_signed")
    with pytest.raises(GateClosed) as exc:
        kit.step(project, "settlement", kit.day(-28), payment_request="FK")
    assert items(exc) == ["step.client_signed"]


def test_the_design_unit_signs_too_when_there_is_one(kit) -> None:
    project = kit.at("supervisor_signed")
    with pytest.raises(InvalidInput) as exc:
        kit.step(project, "client_signed", kit.day(-30))
    assert exc.value.field == "design_unit_document" and project.status == "in_acceptance"


def test_a_step_cannot_be_dated_before_the_one_before_it(kit) -> None:
    project = kit.at("self_check")  # self-check on day -38
    with pytest.raises(InvalidInput) as exc:
        kit.step(project, "application", kit.day(-39))
    assert exc.value.field == "done_on"


def test_open_rectifications_block_the_precondition_and_the_steps(kit) -> None:
    project = kit.at("material")
    project.order_rectification(
        ordered_by="supervisor",
        ordered_on=kit.day(-45),
        issue="风管吊架间距过大",
        document="整改通知 ZG-1",
        by="eng-wu",
        now=kit.NOW,
    )
    with pytest.raises(GateClosed) as exc:
        project.record_precondition(
            condition="rectifications_closed",
            met_on=kit.day(-40),
            document="d",
            note="",
            by="eng-wu",
            now=kit.NOW,
        )
    assert items(exc) == ["rectification.R-1"]
    project.close_rectification(
        rectification_id="R-1", closed_on=kit.day(-42), document="整改回复 HF-1", by="eng-wu", now=kit.NOW
    )
    for c in ("scope_complete", "self_inspection", "rectifications_closed", "archives_complete"):
        project.record_precondition(
            condition=c, met_on=kit.day(-40), document="d", note="", by="eng-wu", now=kit.NOW
        )
    # The supervisor finds another problem during acceptance: no step until it is put right.
    project.order_rectification(
        ordered_by="authority",
        ordered_on=kit.day(-39),
        issue="消防验收意见",
        document=None,
        by="eng-wu",
        now=kit.NOW,
    )
    with pytest.raises(GateClosed) as exc:
        kit.step(project, "self_check", kit.day(-38))
    assert items(exc) == ["rectification.R-2"]
    checklist = checklist_view(project, min_installers=kit.MIN)
    self_check = next(g for g in checklist["gates"] if g["gate"] == "acceptance_self_check")
    assert [m["item"] for m in self_check["missing"]] == ["step.self_check", "rectification.R-2"]
    with pytest.raises(IllegalTransition):
        project.close_rectification(
            rectification_id="R-1", closed_on=kit.day(-38), document="x", by="eng-wu", now=kit.NOW
        )


def test_preconditions_are_recorded_once(kit) -> None:
    project = kit.at("in_works")
    project.record_precondition(
        condition="self_inspection", met_on=kit.day(-2), document="d", note="", by="eng-wu", now=kit.NOW
    )
    with pytest.raises(IllegalTransition, match="recorded as met"):
        project.record_precondition(
            condition="self_inspection", met_on=kit.day(-1), document="d", note="", by="eng-wu", now=kit.NOW
        )


# ------------------------------------------------------------------------------------------- opening


def test_a_project_needs_its_equipment_list(kit) -> None:
    with pytest.raises(InvalidInput) as exc:
        kit.new_project(units=[])
    assert exc.value.field == "units"
    project, _ = kit.new_project()
    with pytest.raises(InvalidInput, match="appears twice"):
        kit.new_project(units=project.units + project.units[:1])
    with pytest.raises(InvalidInput) as exc:
        kit.new_project(bid_won_on=date(2026, 11, 21))
    assert exc.value.field == "bid_won_on"


def test_the_checklist_of_a_new_project(kit) -> None:
    checklist = checklist_view(kit.at("opened"), min_installers=3)
    assert checklist["next_gate"] == "quotes_complete" and checklist["status_zh"] == "寻找安装公司、报价比价"
    first = checklist["gates"][0]
    assert first["zh"].startswith("至少 3 家") and [m["item"] for m in first["missing"]] == [
        "quotes",
        "submission",
    ]
    survey = next(g for g in checklist["gates"] if g["gate"] == "survey_done")
    assert survey["optional"] and survey["missing"] == []
    assert [g["gate"] for g in checklist["gates"]][-2:] == ["acceptance_settlement", "archived"]
