"""The 三包 overdue-repair scanner against in-memory fakes: parts' events start the wait, the scanner
re-decides a repair past 30 days (the company's fault) or 90 (no parts) as a free exchange, once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from shared.contracts.base import Contract
from shared.contracts.cases import CaseAssigned
from shared.contracts.envelope import make_envelope
from shared.contracts.parts import PartRepaired, PartsRequestOpened, SupplierRmaOpened
from shared.contracts.registry import load_registry
from shared.testing.fakes import FakeAggregates, FakeStore
from shared.testing.identities import new_case_id
from shared.unit_of_work import ChangeKey
from warranty.config import WarrantySettings
from warranty.domain.engine import Installation
from warranty.domain.facts import CaseFacts
from warranty.domain.remedy import Remedy
from warranty.domain.rules import RuleBook
from warranty.domain.unit import Unit
from warranty.handlers import (
    Warranty,
    add_evidence,
    on_case_assigned,
    on_part_repaired,
    on_parts_request_opened,
    on_rma_opened,
    scan_overdue_repairs,
)

ASSIGNED = load_registry().get("dispatch.cases.v1").events[0].examples[0]["payload"]
RULES = RuleBook.from_directory(WarrantySettings.model_fields["rulesets_dir"].default)
# The customer reported the motor fault on 2026-11-19 (China), 8 months after the purchase: in warranty.
REPORTED = date(2026, 11, 19)


def china_morning(days_after_report: int) -> datetime:
    """10:00 in China, so the scanner's day is the one named."""
    day = REPORTED + timedelta(days=days_after_report)
    return datetime(day.year, day.month, day.day, 2, 0, tzinfo=UTC)


class Clock:
    """The warranty's clock, moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class UnitRecords:
    """Units by serial, made on first change as the repository does; none came with an installation."""

    def __init__(self) -> None:
        self.aggregates: FakeAggregates[Unit] = FakeAggregates(
            Unit, id_field="serial_no", producer="warranty"
        )

    async def installation_for(self, serial_no: str | None, project_ref: str | None) -> Installation | None:
        return None

    async def installations_for(self, wanted: list[Any]) -> dict[Any, Installation]:
        return {}

    async def get(self, serial_no: str | None) -> Unit | None:
        return await self.aggregates.get(serial_no) if serial_no else None

    async def load_many(self, serials: Any) -> dict[str, Unit]:
        return await self.aggregates.load_many(s for s in serials if s)

    async def change(
        self, serial_no: str, model: str | None, operation: Callable[[Unit], list[Any]], **kw: Any
    ) -> Unit:
        if serial_no not in self.aggregates.items:
            await self.aggregates.create(Unit.new(serial_no, model))
        return await self.aggregates.change(serial_no, operation, cause=kw.get("cause"))


class EveryCase:
    """The scanner's query without the store's index: every case comes back, so what is skipped is
    skipped by the handler's own check, not by the index."""

    def __init__(self, cases: FakeAggregates[CaseFacts]) -> None:
        self.cases = cases

    async def repairs_to_check(self, today: date) -> list[CaseFacts]:
        return await self.cases.find({})


@pytest.fixture
def clock() -> Clock:
    return Clock(china_morning(1))


@pytest.fixture
def w(clock: Clock) -> Warranty:
    cases: FakeAggregates[CaseFacts] = FakeAggregates(
        CaseFacts, id_field="case_id", producer="warranty", kind="case"
    )
    return Warranty(
        units=UnitRecords(),  # type: ignore[arg-type]
        cases=cases,
        queries=EveryCase(cases),  # type: ignore[arg-type]
        rules=RULES,
        remedies=FakeAggregates(Remedy, id_field="remedy_id", producer="warranty"),
        store=FakeStore(),  # type: ignore[arg-type]
        clock=clock,
    )


def parts_event(case_id: str, event_type: str, payload: Contract, at: datetime):
    return make_envelope(
        payload,
        event_type=event_type,
        schema_version=1,
        correlation_id=case_id,
        producer="parts",
        occurred_at=at,
    )


async def motor_case_in_repair(w: Warranty, clock: Clock) -> str:
    """A confirmed motor fault in warranty (free repair), whose key part parts starts sourcing the next day."""
    case_id = new_case_id()
    assigned = CaseAssigned.model_validate(ASSIGNED | {"case_id": case_id})
    await on_case_assigned(
        make_envelope(
            assigned,
            event_type="case.assigned",
            schema_version=1,
            correlation_id=case_id,
            producer="dispatch",
        ),
        assigned,
        w=w,
    )
    confirmed = {"confirmed": True, "confirmation": {"via": "phone"}}
    key = ChangeKey.of_request(caller="sp-liu", key=f"confirm-{case_id}", request=confirmed)
    await add_evidence(w, case_id, confirmed, by="sp-liu", role="specialist", note="电话确认", key=key)
    opened = PartsRequestOpened(
        case_id=case_id,
        request_id=f"PR-{case_id}",
        part="motor",
        sourcing_by="RM-SOUTH-01",
        deadline=clock.now + timedelta(hours=48),
        chargeable=False,
    )
    await on_parts_request_opened(
        parts_event(case_id, "parts.request_opened", opened, clock.now), opened, w=w
    )
    facts = await w.cases.require(case_id)
    assert (facts.repair_pending_since, facts.waiting_for_parts) == (REPORTED, False)
    assert (facts.decisions[-1]["decision"], facts.decisions[-1]["remedy"]) == ("covered", "free_repair")
    return case_id


def decisions(w: Warranty, case_id: str) -> list[dict[str, Any]]:
    return [e.payload for e in w.cases.events("warranty.decided") if e.correlation_id == case_id]


async def test_a_repair_pending_past_30_days_through_the_company_s_fault_is_a_free_exchange(w, clock) -> None:
    case_id = await motor_case_in_repair(w, clock)
    before = decisions(w, case_id)
    clock.now = china_morning(30)  # day 30: the repairer still has the day
    assert await scan_overdue_repairs(w) == 0
    assert decisions(w, case_id) == before

    clock.now = china_morning(31)
    assert await scan_overdue_repairs(w) == 1
    latest = decisions(w, case_id)[-1]
    assert (latest["decision"], latest["remedy"], latest["options"]) == ("covered", "exchange", ["exchange"])
    assert "sanbao_repair_overdue" in [r["code"] for r in latest["reasons"]]
    assert latest["supersedes"] == str(w.cases.events("warranty.decided")[-2].event_id)
    assert (await w.cases.require(case_id)).overdue_decided == ["sanbao_repair_overdue"]

    clock.now = china_morning(40)  # each rule re-decides a case once
    assert await scan_overdue_repairs(w) == 0
    assert len(decisions(w, case_id)) == len(before) + 1


async def test_waiting_for_the_supplier_s_part_past_90_days_is_a_free_exchange(w, clock) -> None:
    case_id = await motor_case_in_repair(w, clock)
    clock.now = china_morning(3)
    rma = SupplierRmaOpened(
        case_id=case_id,
        request_id=f"PR-{case_id}",
        reason="not_found_locally",
        supplier="宁波某电机",
        by="RM",
    )
    await on_rma_opened(parts_event(case_id, "parts.rma_opened", rma, clock.now), rma, w=w)
    facts = await w.cases.require(case_id)
    assert (facts.repair_pending_since, facts.waiting_for_parts) == (REPORTED, True)
    before = decisions(w, case_id)
    for day in (31, 90):  # waiting for parts is the 90-day rule, not the 30-day one
        clock.now = china_morning(day)
        assert await scan_overdue_repairs(w) == 0, day
    assert decisions(w, case_id) == before

    clock.now = china_morning(91)
    assert await scan_overdue_repairs(w) == 1
    latest = decisions(w, case_id)[-1]
    assert (latest["decision"], latest["remedy"], latest["options"]) == ("covered", "exchange", ["exchange"])
    assert "sanbao_parts_unavailable" in [r["code"] for r in latest["reasons"]]
    assert (await w.cases.require(case_id)).overdue_decided == ["sanbao_parts_unavailable"]
    assert await scan_overdue_repairs(w) == 0


async def test_a_repair_done_within_the_limit_or_never_waited_for_changes_nothing(w, clock) -> None:
    repaired = await motor_case_in_repair(w, clock)
    clock.now = china_morning(20)
    done = PartRepaired(
        case_id=repaired,
        request_id=f"PR-{repaired}",
        part="motor",
        path="A",
        technician="李师傅",
        repaired_on=REPORTED + timedelta(days=20),
    )
    await on_part_repaired(parts_event(repaired, "parts.repaired", done, clock.now), done, w=w)
    # A case no key part was ever sourced for has no repair to wait for.
    untouched = new_case_id()
    assigned = CaseAssigned.model_validate(ASSIGNED | {"case_id": untouched})
    await on_case_assigned(
        make_envelope(
            assigned,
            event_type="case.assigned",
            schema_version=1,
            correlation_id=untouched,
            producer="dispatch",
        ),
        assigned,
        w=w,
    )
    before = list(w.cases.published)
    for day in (31, 91, 200):
        clock.now = china_morning(day)
        assert await scan_overdue_repairs(w) == 0, day
    assert w.cases.published == before
    assert (await w.cases.require(repaired)).overdue_decided == []
