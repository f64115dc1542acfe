"""Warranty's handlers against in-memory fakes: decided once, evidence re-decides and supersedes."""

from __future__ import annotations

from typing import Any

import pytest

from shared.contracts.cases import CaseAssigned, CaseReassigned
from shared.contracts.envelope import Envelope, make_envelope
from shared.contracts.registry import load_registry
from shared.testing.fakes import FakeAggregates, FakeStore
from shared.testing.identities import new_case_id
from shared.unit_of_work import ChangeKey
from warranty.config import WarrantySettings
from warranty.domain.engine import Installation
from warranty.domain.facts import CaseFacts
from warranty.domain.remedy import Remedy
from warranty.domain.rules import RuleBook
from warranty.handlers import (
    NotYourCase,
    Warranty,
    add_evidence,
    on_case_assigned,
    on_case_changed,
    on_cases_assigned,
)

ASSIGNED = load_registry().get("dispatch.cases.v1").events[0].examples[0]["payload"]
RULES = RuleBook.from_directory(WarrantySettings.model_fields["rulesets_dir"].default)


class NoInstallations:
    """Units with no accepted installation and no record of their own."""

    async def installation_for(self, serial_no: str | None, project_ref: str | None) -> Installation | None:
        return None

    async def installations_for(self, wanted: list[Any]) -> dict[Any, Installation]:
        return {}

    async def get(self, serial_no: str | None) -> None:
        return None

    async def load_many(self, serials: Any) -> dict[str, Any]:
        return {}


@pytest.fixture
def w() -> Warranty:
    cases: FakeAggregates[CaseFacts] = FakeAggregates(
        CaseFacts, id_field="case_id", producer="warranty", kind="case"
    )
    remedies: FakeAggregates[Remedy] = FakeAggregates(Remedy, id_field="remedy_id", producer="warranty")
    return Warranty(
        units=NoInstallations(),
        cases=cases,
        queries=None,
        rules=RULES,  # type: ignore[arg-type]
        remedies=remedies,
        store=FakeStore(),
    )  # type: ignore[arg-type]


def assigned(case_id: str, specialist: str = "sp-liu") -> tuple[Envelope, CaseAssigned]:
    payload = CaseAssigned.model_validate(ASSIGNED | {"case_id": case_id, "specialist_id": specialist})
    return make_envelope(
        payload, event_type="case.assigned", schema_version=1, correlation_id=case_id, producer="dispatch"
    ), payload


async def test_an_assigned_case_is_decided_once_however_often_it_arrives(w) -> None:
    env, payload = assigned(new_case_id())
    for _ in range(2):
        await on_case_assigned(env, payload, w=w)
    await on_cases_assigned([(env, payload)], w=w)
    assert len(w.cases.events("warranty.decided")) == 1
    facts = await w.cases.require(payload.case_id)
    assert facts.decisions[0]["decision"] == "needs_evidence"  # not yet confirmed with customer and dealer


async def test_evidence_is_the_assignee_s_or_the_manager_s_and_its_decision_supersedes_the_first(w) -> None:
    env, payload = assigned(new_case_id())
    await on_case_assigned(env, payload, w=w)
    confirmed = {"confirmed": True, "confirmation": {"via": "phone"}}
    with pytest.raises(NotYourCase):
        await add_evidence(w, payload.case_id, confirmed, by="sp-ma", role="specialist", note="")
    key = ChangeKey.of_request(caller="sp-liu", key="ev-1", request=confirmed)
    for _ in range(2):  # retried: one piece of evidence, one new decision
        facts = await add_evidence(
            w, payload.case_id, confirmed, by="sp-liu", role="specialist", note="电话确认", key=key
        )
    first, second = w.cases.events("warranty.decided")
    assert len(facts.evidence) == 1 and second.payload["decision"] == "covered"
    assert second.payload["supersedes"] == str(first.event_id)


async def test_a_reassignment_moves_who_may_add_evidence(w) -> None:
    case_id = new_case_id()
    env, payload = assigned(case_id)
    await on_case_assigned(env, payload, w=w)
    moved = CaseReassigned(
        case_id=case_id,
        from_specialist_id="sp-liu",
        to_specialist_id="sp-ma",
        department="quality",
        by="mgr-zhou",
        reason="休假",
    )
    await on_case_changed(
        make_envelope(
            moved, event_type="case.reassigned", schema_version=1, correlation_id=case_id, producer="dispatch"
        ),
        moved,
        w=w,
    )
    assert (await w.cases.require(case_id)).specialist_id == "sp-ma"
    with pytest.raises(NotYourCase):
        await add_evidence(w, case_id, {"part": "motor"}, by="sp-liu", role="specialist", note="")
