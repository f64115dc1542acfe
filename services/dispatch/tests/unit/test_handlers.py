"""Dispatch's command and event handlers against in-memory fakes: no broker, no store, milliseconds."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dispatch.adapters.workload import WorkloadBoard
from dispatch.domain.case import Case, MissingResolution
from dispatch.domain.closure import ClosurePolicy, ClosureRefused
from dispatch.domain.routing import AssignmentPolicy, Specialist
from dispatch.domain.targets import TargetPolicy
from dispatch.handlers import (
    CaseNotFound,
    Dispatch,
    NotAssignable,
    NotTheWindow,
    NotYourCase,
    close_case,
    on_complaint_received,
    on_complaints_received,
    on_parts_event,
    on_warranty_decisions,
    reply_to_customer,
    resolve_case,
)
from shared.contracts.complaints import ComplaintReceived
from shared.contracts.envelope import Envelope, make_envelope
from shared.contracts.parts import RepairRecorded
from shared.contracts.registry import load_registry
from shared.contracts.warranty import WarrantyDecided
from shared.http.auth import Principal
from shared.http.ratelimit import RateLimiter
from shared.testing.fakes import FakeAggregates
from shared.testing.identities import new_case_id
from shared.unit_of_work import ChangeKey, IdempotencyConflict

REG = load_registry()
COMPLAINT = REG.get("intake.complaints.v1").events[0].examples[0]["payload"]
DECIDED = REG.get("warranty.decisions.v1").events[0].examples[0]["payload"]
POLICY = TargetPolicy.from_mapping(
    {"targets": {"*": {"*": {"assign": 4, "first_reply": 24, "close": 168}}}, "follow_up_after_days": 7}
)
ROSTER = [
    Specialist("sp-liu", "刘工", "quality", ("product_fault",), ("south_china",)),
    Specialist("sp-ma", "马工", "quality", ("product_fault",), ("east_china",)),
    Specialist("eng-wu", "吴工", "engineering_installation", ("installation",), ()),
]
MANAGER = Principal(role="manager", id="mgr-zhou")
LIU = Principal(role="specialist", id="sp-liu")
MA = Principal(role="specialist", id="sp-ma")
DEALER = Principal(role="dealer", id="D-SZ-009", dealer_code="D-SZ-009")


class FakeRoster:
    async def all(self, tx: Any = None) -> list[Specialist]:
        return list(ROSTER)


class FakeQueries:
    def __init__(self, cases: FakeAggregates[Case]) -> None:
        self.cases = cases

    async def open_workloads(self, ids: list[str]) -> dict[str, int]:
        found = await self.cases.find(
            {"status": {"$in": ["received", "assigned", "in_progress", "resolved"]}}
        )
        return {i: sum(c.assignee == i for c in found) for i in ids}


class FakeTimeline:
    def __init__(self) -> None:
        self.entries: dict[str, str] = {}

    async def add(self, envelope: Envelope, *, topic: str, summary: str, recorded_at: datetime) -> bool:
        return self.entries.setdefault(str(envelope.event_id), summary) == summary

    async def add_many(self, entries: list[tuple[Envelope, str, str]], *, recorded_at: datetime) -> None:
        for envelope, _topic, summary in entries:
            self.entries.setdefault(str(envelope.event_id), summary)


class FakeSettings:
    async def assignment(self) -> AssignmentPolicy | None:
        return None  # the defaults: assign at once, online complaints watched


class FakeFigures:
    def __init__(self) -> None:
        self.recorded: list[str] = []

    async def record_cases(self, case_ids: list[str]) -> None:
        self.recorded += case_ids


@pytest.fixture
def d() -> Dispatch:
    cases: FakeAggregates[Case] = FakeAggregates(Case, id_field="case_id", producer="dispatch", kind="case")
    queries = FakeQueries(cases)
    return Dispatch(
        cases=cases,
        queries=queries,
        figures=FakeFigures(),
        timeline=FakeTimeline(),  # type: ignore[arg-type]
        roster=FakeRoster(),
        settings=FakeSettings(),
        policy=POLICY,  # type: ignore[arg-type]
        closure=ClosurePolicy(),
        reports=None,
        quality_pdf_font=Path("/nonexistent.ttc"),  # type: ignore[arg-type]
        unknown_case_grace_s=120,
        workload=WorkloadBoard(FakeRoster(), queries, FakeSettings()),  # type: ignore[arg-type]
        limiter=RateLimiter(),
        public_rate_limit="30/minute",
    )


def complaint(case_id: str | None = None, **changes: Any) -> tuple[Envelope, ComplaintReceived]:
    payload = ComplaintReceived.model_validate(
        COMPLAINT
        | {"case_id": case_id or new_case_id(), "received_at": datetime.now(UTC).isoformat()}
        | changes
    )
    return make_envelope(
        payload,
        event_type="complaint.received",
        schema_version=1,
        correlation_id=payload.case_id,
        producer="intake",
    ), payload


async def opened(d: Dispatch) -> Case:
    env, payload = complaint()
    await on_complaint_received(env, payload, d=d)
    return await d.cases.require(payload.case_id)


async def test_a_complaint_opens_one_case_assigned_by_the_rules_however_often_it_arrives(d) -> None:
    env, payload = complaint()
    for _ in range(3):  # redelivered twice
        await on_complaint_received(env, payload, d=d)
    case = await d.cases.require(payload.case_id)
    assert (case.status, case.department, case.assignee) == ("assigned", "quality", "sp-liu")
    assert [e.event_type for e in d.cases.published] == ["case.assigned"]
    assert d.figures.recorded == []  # an assigned case's figures come with its case.assigned, read back


async def test_a_batch_of_complaints_opens_each_case_once_and_spreads_them_by_load(d) -> None:
    batch = [complaint(region=None) for _ in range(4)]
    await on_complaints_received([*batch, batch[0]], d=d)
    cases = await d.cases.find({})
    assert len(cases) == 4 and len(d.cases.events("case.assigned")) == 4
    assert {c.assignee for c in cases} <= {"sp-liu", "sp-ma"}


async def test_a_retried_reply_is_one_reply_and_the_same_key_with_another_message_is_refused(d) -> None:
    case = await opened(d)
    key = ChangeKey.of_request(caller=LIU.id, key="reply-1", request={"message": "已安排上门"})
    first, reply_id = await reply_to_customer(
        d, case.case_id, message="已安排上门", via="phone", by=LIU, key=key
    )
    again, same_id = await reply_to_customer(
        d, case.case_id, message="已安排上门", via="phone", by=LIU, key=key
    )
    assert reply_id == same_id and len(again.replies) == 1 and again.status == "in_progress"
    assert len(d.cases.events("case.replied")) == 1
    other = ChangeKey.of_request(caller=LIU.id, key="reply-1", request={"message": "改期"})
    with pytest.raises(IdempotencyConflict):
        await reply_to_customer(d, case.case_id, message="改期", via="phone", by=LIU, key=other)


async def test_only_the_assignee_or_the_manager_acts_and_a_dealer_cannot_see_another_s_case(d) -> None:
    case = await opened(d)
    with pytest.raises(NotYourCase):
        await resolve_case(d, case.case_id, resolution="我来处理", outcome="advice_given", by=MA)
    with pytest.raises(NotTheWindow):  # only the one who answers the case tells the customer (§一.2)
        await reply_to_customer(d, case.case_id, message="我来处理", via="phone", by=MA)
    with pytest.raises(CaseNotFound):
        await reply_to_customer(d, case.case_id, message="hi", via="phone", by=DEALER)
    _, _ = await reply_to_customer(d, case.case_id, message="经理答复", via="phone", by=MANAGER)


async def test_closing_in_progress_needs_a_resolution_and_a_refusal_changes_nothing(d) -> None:
    case = await opened(d)
    await reply_to_customer(d, case.case_id, message="已安排上门", via="phone", by=LIU)
    before = len(d.cases.published)
    with pytest.raises(MissingResolution):
        await close_case(d, case.case_id, resolution=None, outcome=None, by=LIU)
    assert (await d.cases.require(case.case_id)).status == "in_progress" and len(d.cases.published) == before
    # Nothing is closed while the warranty decision or the repair record is missing (R-DS-5).
    with pytest.raises(ClosureRefused) as refused:
        await close_case(d, case.case_id, resolution="更换电机", outcome="repaired", by=LIU)
    assert [i.item for i in refused.value.items] == ["warranty: no decision", "repair record"]
    assert (await d.cases.require(case.case_id)).status == "in_progress" and len(d.cases.published) == before
    await on_warranty_decisions([decision(case.case_id, datetime.now(UTC), "covered")], d=d)
    recorded = RepairRecorded(case_id=case.case_id, record_id="RR-1", repaired_on=date.today())
    await on_parts_event(
        make_envelope(
            recorded,
            event_type="repair.recorded",
            schema_version=1,
            correlation_id=case.case_id,
            producer="parts",
        ),
        recorded,
        d=d,
    )
    closed = await close_case(d, case.case_id, resolution="更换电机", outcome="repaired", by=LIU)
    assert closed.status == "closed" and [e.event_type for e in d.cases.published[before:]] == [
        "case.resolved",
        "case.closed",
    ]


async def test_a_specialist_of_another_department_cannot_take_the_case(d) -> None:
    from dispatch.handlers import assign_case

    case = await opened(d)
    with pytest.raises(NotAssignable):
        await assign_case(d, case.case_id, specialist_id="eng-wu", reason="试试", by=MANAGER)
    moved = await assign_case(d, case.case_id, specialist_id="sp-ma", reason="刘工休假", by=MANAGER)
    assert moved.assignee == "sp-ma" and d.cases.events("case.reassigned")


def decision(case_id: str, at: datetime, decision_: str) -> tuple[Envelope, WarrantyDecided]:
    payload = WarrantyDecided.model_validate(
        DECIDED | {"case_id": case_id, "decided_at": at.isoformat(), "decision": decision_}
    )
    return make_envelope(
        payload,
        event_type="warranty.decided",
        schema_version=1,
        correlation_id=case_id,
        producer="warranty",
        event_id=uuid.uuid4(),
    ), payload


async def test_decisions_show_the_latest_and_leave_unknown_cases_for_one_at_a_time(d) -> None:
    case = await opened(d)
    now = datetime.now(UTC)
    newer, older = (
        decision(case.case_id, now, "covered"),
        decision(case.case_id, now - timedelta(hours=1), "chargeable"),
    )
    unknown = decision(new_case_id(), now, "covered")
    left = await on_warranty_decisions([newer, older, unknown], d=d)
    assert left == [unknown[0]]
    assert (await d.cases.require(case.case_id)).warranty["decision"] == "covered"
