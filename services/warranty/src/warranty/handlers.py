"""Warranty's handlers: decide on assigned cases, register accepted installations, re-decide on evidence."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from shared.contracts.cases import CaseAssigned, CaseClosed, CaseReassigned, CaseTriaged
from shared.contracts.engineering import InstallationAccepted
from shared.contracts.envelope import Envelope, derived_event_id, make_envelope
from shared.contracts.parts import (
    PartRepaired,
    PartsRequestOpened,
    QuoteIssued,
    RepairRecorded,
    SupplierRmaOpened,
)
from shared.contracts.warranty import WarrantyClock, WarrantyDecided
from shared.kafka.consumer import TransientError
from shared.logging import get_logger
from shared.periods import china_date
from shared.unit_of_work import Aggregates, ChangeKey, NotFound, Store, Transaction
from warranty.adapters.repository import CaseFactsQueries, UnitRepository
from warranty.domain.engine import Assessment, assess
from warranty.domain.facts import KIND_OF_CATEGORY, SALE_FIELDS, CaseFacts, part_named_in
from warranty.domain.remedy import QUOTED, Remedy, RemedyKind, RemedyRefused, StepName, remedy_choices
from warranty.domain.rules import RuleBook
from warranty.domain.unit import Sale, Unit, UnitRefused, UnitRepair

log = get_logger(__name__)


class CaseUnknown(NotFound):
    def __init__(self, case_id: str) -> None:
        super().__init__("case", case_id)
        self.args = (f"warranty knows no case {case_id} (it is learnt from case.assigned)",)


class NotYourCase(Exception):
    def __init__(self, facts: CaseFacts) -> None:
        super().__init__(
            f"only the assigned specialist ({facts.specialist_id}) or the manager may add evidence"
        )


@dataclass
class Warranty:
    units: UnitRepository
    cases: Aggregates[CaseFacts]
    queries: CaseFactsQueries
    rules: RuleBook
    remedies: Aggregates[Remedy]
    store: Store
    unknown_case_grace_s: float = 120
    public_rate_limit: str = "30/minute"
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)


def decide(w: Warranty, facts: CaseFacts, installation: Any, unit: Unit | None = None) -> Assessment:
    """The decision from the unit's record and the case's facts, by the rule set in effect today."""
    today = china_date(w.clock())
    product, fault, history, inst = facts.engine_input(installation, unit)
    return assess(product, fault, w.rules.for_day(today), installation=inst, history=history, today=today)


def decision_event(
    facts: CaseFacts, a: Assessment, *, now: datetime, event_id: uuid.UUID | None, cause: uuid.UUID | None
) -> Envelope:
    supersedes = facts.latest_decision_id
    payload = WarrantyDecided(
        case_id=facts.case_id,
        serial_no=facts.serial_no,
        decision=a.decision,
        remedy=a.remedy,
        reasons=a.reasons,
        warranty=[WarrantyClock(basis=c.basis, kind=c.kind, start=c.start, end=c.end) for c in a.clocks],
        options=a.options,
        key_part=a.key_part,
        charge_hint=a.charge_hint,
        depreciation_rate=a.depreciation_rate,
        freight_both_ways=a.freight_both_ways,
        earlier_repairs=a.earlier_repairs,
        rule_set=a.rule_set,
        supersedes=uuid.UUID(supersedes) if supersedes else None,
        decided_at=now,
    )
    return make_envelope(
        payload,
        event_type="warranty.decided",
        schema_version=1,
        correlation_id=facts.case_id,
        producer="warranty",
        event_id=event_id,
        causation_id=cause,
        occurred_at=now,
    )


def _remember(facts: CaseFacts, env: Envelope, a: Assessment) -> None:
    facts.decisions.append(
        {
            "event_id": str(env.event_id),
            "decision": a.decision,
            "remedy": a.remedy,
            "options": list(a.options),
            "key_part": a.key_part,
            "reasons": [r.code for r in a.reasons],
            "rule_set": a.rule_set,
            "decided_at": env.occurred_at,
            "supersedes": env.payload.get("supersedes"),
        }
    )


async def on_case_assigned(env: Envelope, assigned: CaseAssigned, *, w: Warranty) -> None:
    """Decide every case it can; the decision asks for evidence otherwise (R-WA-6). Idempotent."""
    if await w.cases.get(assigned.case_id) is not None:
        return  # a redelivery: decided already (the relay publishes whatever is left)
    facts = _facts_of(assigned)
    installation = await w.units.installation_for(facts.serial_no, facts.project_ref)
    unit = await w.units.get(facts.serial_no) if facts.serial_no else None
    decision = _first_decision(w, env, facts, installation, unit)
    if (await w.cases.create(facts, [decision], cause=env.event_id)).created:
        log.info("warranty decided", case_id=facts.case_id, decision=facts.decisions[-1]["decision"])


async def on_cases_assigned(batch: list[tuple[Envelope, Any]], *, w: Warranty) -> list[Envelope]:
    """Decide a batch of newly assigned cases: one read of what is known, one of the units' installations,
    one insert, one publish. Reassignments and triages in the batch go one at a time, in order."""
    firsts = [(env, a) for env, a in batch if isinstance(a, CaseAssigned)]
    known = await w.cases.existing(a.case_id for _, a in firsts)
    fresh = {a.case_id: (env, _facts_of(a)) for env, a in firsts if a.case_id not in known}
    installations = await w.units.installations_for(
        [(f.serial_no, f.project_ref) for _env, f in fresh.values()]
    )
    units = await w.units.load_many([f.serial_no for _env, f in fresh.values()])
    made = [
        (
            facts,
            [
                _first_decision(
                    w,
                    env,
                    facts,
                    installations.get((facts.serial_no, facts.project_ref)),
                    units.get(facts.serial_no or ""),
                )
            ],
            env.event_id,
        )
        for env, facts in fresh.values()
    ]
    if made:
        await w.cases.create_many(made)
        log.info("warranty decided", cases=len(made))
    return [env for env, a in batch if not isinstance(a, CaseAssigned)]


def _first_decision(
    w: Warranty, env: Envelope, facts: CaseFacts, installation: Any, unit: Unit | None
) -> Envelope:
    a = decide(w, facts, installation, unit)
    decision = decision_event(
        facts,
        a,
        now=w.clock(),
        event_id=derived_event_id(env.event_id, "warranty.decided"),
        cause=env.event_id,
    )
    _remember(facts, decision, a)
    return decision


def _facts_of(assigned: CaseAssigned) -> CaseFacts:
    p = assigned.product
    return CaseFacts(
        case_id=assigned.case_id,
        specialist_id=assigned.specialist_id,
        department=assigned.department,
        channel=assigned.channel,
        submitted_by=assigned.submitted_by
        or (assigned.dealer_code if assigned.channel == "dealer" else None),
        dealer_code=assigned.dealer_code,
        phone_last4=assigned.customer_phone[-4:] if assigned.customer_phone else None,
        serial_no=p.serial_no,
        model=p.model,
        project_ref=assigned.project_ref,
        purchase_date=p.purchase_date,
        invoice_no=p.invoice_no,
        service_card_stamped=p.service_card_stamped,
        fault_kind=KIND_OF_CATEGORY[assigned.category],
        part=part_named_in(assigned.description),
        # The 三包 windows count to the day the customer reported it (the call, the day told to the dealer).
        reported_on=china_date(assigned.reported_at or assigned.received_at),
    )


async def on_case_changed(env: Envelope, payload: Any, *, w: Warranty) -> None:
    """A reassignment changes who may add evidence; a triage to another category re-decides."""
    facts = await w.cases.get(env.correlation_id)
    if facts is None:
        # case.assigned comes first on the topic, but several events are handled at once: wait for it.
        raise TransientError(f"case {env.correlation_id}: {env.event_type} before its case.assigned; waiting")
    installation = await w.units.installation_for(facts.serial_no, facts.project_ref)
    unit = await w.units.get(facts.serial_no) if facts.serial_no else None

    def apply(facts: CaseFacts) -> list[Envelope]:
        if isinstance(payload, CaseReassigned):
            facts.specialist_id = payload.to_specialist_id
        elif isinstance(payload, CaseTriaged):
            kind = KIND_OF_CATEGORY[payload.category]
            facts.department = payload.department
            if kind != facts.fault_kind:
                facts.fault_kind = kind
                return [_redecide(w, facts, installation, unit, cause=env.event_id)]
        return []

    await w.cases.change(env.correlation_id, apply, cause=env.event_id)


def _redecide(
    w: Warranty, facts: CaseFacts, installation: Any, unit: Unit | None, *, cause: uuid.UUID | None
) -> Envelope:
    a = decide(w, facts, installation, unit)
    event_id = derived_event_id(cause, "warranty.decided") if cause else None
    env = decision_event(facts, a, now=w.clock(), event_id=event_id, cause=cause)
    _remember(facts, env, a)
    if cause:
        facts.decisions[-1]["cause_event"] = str(cause)
    return env


async def add_evidence(
    w: Warranty,
    case_id: str,
    changes: dict[str, Any],
    *,
    by: str,
    role: str,
    note: str,
    key: ChangeKey | None = None,
) -> CaseFacts:
    """Documents, a confirmed cause or history change the facts; the case is decided again (R-WA-6).
    Only the assigned specialist or the manager adds evidence; a retried request adds it once."""
    current = await w.cases.get(case_id)
    if current is None:
        raise CaseUnknown(case_id)
    installation = await w.units.installation_for(current.serial_no, current.project_ref)
    unit = await w.units.get(current.serial_no) if current.serial_no else None

    def apply(facts: CaseFacts) -> list[Envelope]:
        if role != "manager" and facts.specialist_id != by:
            raise NotYourCase(facts)
        for name, value in changes.items():
            if name == "attachments":
                value = [*facts.attachments, *(a for a in value if a not in facts.attachments)]
            setattr(facts, name, value)
        facts.corrected = sorted(set(facts.corrected) | {n for n in changes if n in SALE_FIELDS})
        facts.evidence.append({"by": by, "at": w.clock(), "changes": changes, "note": note})
        return [_redecide(w, facts, installation, unit, cause=None)]

    return await w.cases.change(case_id, apply, key=key)


async def on_installation_accepted(env: Envelope, accepted: InstallationAccepted, *, w: Warranty) -> None:
    """Acceptance starts the equipment and workmanship clocks of every unit (R-EN-5)."""
    count = await w.units.register_installation(accepted, str(env.event_id))
    log.info(
        "installation registered",
        project_id=accepted.project_id,
        units=count,
        accepted_on=str(accepted.accepted_on),
    )


# ------------------------------------------------------------------------------ the unit's history


async def _case_of(w: Warranty, env: Envelope) -> CaseFacts:
    """The case an event is about; an event that overtook its case.assigned waits for it a while."""
    facts = await w.cases.get(env.correlation_id)
    if facts is None:
        age = (w.clock() - env.occurred_at).total_seconds()
        if age < w.unknown_case_grace_s:
            raise TransientError(
                f"case {env.correlation_id}: {env.event_type} before its case.assigned; waiting"
            )
        raise CaseUnknown(env.correlation_id)
    return facts


async def on_parts_request_opened(env: Envelope, opened: PartsRequestOpened, *, w: Warranty) -> None:
    """A key part is being sourced: the unit is in repair since the fault was reported (30-day rule)."""
    await _case_of(w, env)

    def apply(facts: CaseFacts) -> list[Envelope]:
        facts.repair_pending_since = facts.repair_pending_since or facts.reported_on
        return []

    await w.cases.change(env.correlation_id, apply, cause=env.event_id)


async def on_rma_opened(env: Envelope, rma: SupplierRmaOpened, *, w: Warranty) -> None:
    """Local sourcing failed: the repair waits for the supplier's part (the 90-day rule, not the 30-day one)."""
    await _case_of(w, env)

    def apply(facts: CaseFacts) -> list[Envelope]:
        facts.repair_pending_since = facts.repair_pending_since or facts.reported_on
        facts.waiting_for_parts = True
        return []

    await w.cases.change(env.correlation_id, apply, cause=env.event_id)


async def on_part_repaired(env: Envelope, repaired: PartRepaired, *, w: Warranty) -> None:
    await _repaired(
        w,
        env,
        repair_id=repaired.request_id,
        parts=[repaired.part] if repaired.part else [],
        repaired_on=repaired.repaired_on,
        source="parts.repaired",
    )


async def on_repair_recorded(env: Envelope, recorded: RepairRecorded, *, w: Warranty) -> None:
    await _repaired(
        w,
        env,
        repair_id=recorded.request_id or recorded.record_id,
        parts=recorded.parts,
        repaired_on=recorded.repaired_on,
        source="repair.recorded",
        record_id=recorded.record_id,
    )


async def _repaired(
    w: Warranty,
    env: Envelope,
    *,
    repair_id: str,
    parts: list[str],
    repaired_on: date,
    source: str,
    record_id: str | None = None,
) -> None:
    """A repair on the case: into the unit's history with its days in repair (R-WA-7), and the case's
    pending repair ends. Told twice (parts.repaired, then its record) it is one repair."""
    facts = await _case_of(w, env)
    if facts.serial_no:
        repair = UnitRepair(
            repair_id=repair_id,
            case_id=facts.case_id,
            part=parts[0] if parts else facts.part,
            reported_on=facts.reported_on,
            repaired_on=repaired_on,
            days=max(0, (repaired_on - facts.reported_on).days),
            source=source,  # type: ignore[arg-type]
            record_id=record_id,
        )
        await w.units.change(
            facts.serial_no,
            facts.model,
            lambda u: u.record_repair(repair, at=env.occurred_at),
            cause=env.event_id,
        )

    def apply(facts: CaseFacts) -> list[Envelope]:
        facts.repaired_on = facts.repaired_on or repaired_on
        return []

    await w.cases.change(facts.case_id, apply, cause=env.event_id)
    # A repair remedy under way ends with the repair (a paid one only once the customer agreed).
    for remedy in await w.remedies.find({"case_id": facts.case_id, "status": "open"}):
        if remedy.allows("repaired"):
            await w.remedies.change(
                remedy.remedy_id,
                lambda r: (
                    r.progress(
                        "repaired",
                        by="parts",
                        at=env.occurred_at,
                        on=repaired_on,
                        public={"repair": repair_id},
                    )
                    if r.allows("repaired")
                    else []
                ),
                cause=env.event_id,
            )


async def on_case_closed(env: Envelope, closed: CaseClosed, *, w: Warranty) -> None:
    """结案: a case closed as repaired is a repair of the unit even when no part was replaced."""
    facts = await _case_of(w, env)
    closed_on = china_date(closed.closed_at)
    if closed.outcome == "repaired" and facts.serial_no:
        repair = UnitRepair(
            repair_id=f"close:{facts.case_id}",
            case_id=facts.case_id,
            part=facts.part,
            reported_on=facts.reported_on,
            repaired_on=facts.repaired_on or closed_on,
            days=max(0, ((facts.repaired_on or closed_on) - facts.reported_on).days),
            source="case.closed",
        )
        await w.units.change(
            facts.serial_no,
            facts.model,
            lambda u: u.record_repair(repair, at=env.occurred_at),
            cause=env.event_id,
        )

    def apply(facts: CaseFacts) -> list[Envelope]:
        facts.closed_on, facts.outcome = closed_on, closed.outcome
        return []

    await w.cases.change(facts.case_id, apply, cause=env.event_id)


async def scan_overdue_repairs(w: Warranty) -> int:
    """Cases whose repair is past 30 days (the repairer's fault) or 90 (for want of parts) are decided
    again: a free exchange (三包). Each rule re-decides a case once. Returns how many were decided again."""
    today = china_date(w.clock())
    rules = w.rules.for_day(today)
    changed = 0
    for due in await w.queries.repairs_to_check(today):
        installation = await w.units.installation_for(due.serial_no, due.project_ref)
        unit = await w.units.get(due.serial_no) if due.serial_no else None
        decided: list[str] = []

        def apply(
            facts: CaseFacts,
            installation: Any = installation,
            unit: Unit | None = unit,
            decided: list[str] = decided,
        ) -> list[Envelope]:
            decided.clear()  # the store may run the operation again on a newer version: count the last run
            check = facts.repair_check_on(rules.repair_days_limit, rules.parts_wait_days_limit)
            if check is None or check > today:
                return []
            decided.append("sanbao_parts_unavailable" if facts.waiting_for_parts else "sanbao_repair_overdue")
            facts.overdue_decided.append(decided[0])
            return [_redecide(w, facts, installation, unit, cause=None)]

        await w.cases.change(due.case_id, apply)
        # A case the index found but whose facts say not yet (or already decided) is not counted.
        changed += bool(decided)
    return changed


# ------------------------------------------------------------------------------ sales and activations


async def register_sale(
    w: Warranty, serial_no: str, sale: Sale, *, model: str | None, key: ChangeKey | None = None
) -> Unit:
    """A dealer's sale record, or the customer's activation: proof of the purchase for every later case."""
    return await w.units.change(serial_no, model, lambda u: u.register_sale(sale, model=model), key=key)


# ------------------------------------------------------------------------------ remedies (R-WA-8)


class RemedyInvalid(Exception):
    """A remedy request that can never succeed as given; the message starts with the field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


async def choose_remedy(
    w: Warranty,
    facts: CaseFacts,
    remedy: RemedyKind,
    *,
    by: str,
    via: str | None,
    note: str,
    key: ChangeKey | None = None,
) -> Remedy:
    """The customer's choice among the options the decision offers; one remedy at a time on a case."""
    decision = facts.decisions[-1] if facts.decisions else None
    if decision is None or decision["decision"] == "needs_evidence":
        raise RemedyRefused(f"case {facts.case_id} has no decision to carry out yet (it needs evidence)")
    choices = remedy_choices(decision)
    if remedy not in choices:
        raise RemedyInvalid("remedy", f"the decision offers {', '.join(choices) or 'nothing to choose'}")
    earlier = await w.remedies.find({"case_id": facts.case_id})
    if any(r.status == "open" for r in earlier):
        raise RemedyRefused(f"case {facts.case_id} has a remedy under way; cancel it before choosing another")
    if key is not None:
        remedy_id = key.derived_id("RM-")
    else:
        # One choice per decision (and per cancelled one before it): a double submission is one remedy.
        seed = f"{facts.case_id}:{decision['event_id']}:{len(earlier)}"
        remedy_id = f"RM-{uuid.uuid5(uuid.NAMESPACE_OID, seed).hex[:10].upper()}"
    now = w.clock()
    item = Remedy(
        remedy_id=remedy_id,
        case_id=facts.case_id,
        serial_no=facts.serial_no,
        remedy=remedy,
        options=list(decision.get("options") or []),
        decision_event_id=decision["event_id"],
        chosen_by=by,
        chosen_at=now,
        via=via,
        note=note,
    )
    made = await w.remedies.create(item, [item.chosen_event()], key=key)
    if not made.created and not made.replayed and made.item.remedy != remedy:
        raise RemedyRefused(f"case {facts.case_id} has a {made.item.remedy} chosen already")
    return made.item


async def progress_remedy(
    w: Warranty,
    remedy: Remedy,
    step: StepName,
    *,
    by: str,
    on: date,
    detail: dict[str, Any],
    key: ChangeKey | None = None,
) -> Remedy:
    """One step of a remedy. An exchange's new unit and a return's goods change the units in the same
    transaction: the old unit is closed, the new one starts its own clock."""
    now = w.clock()
    public = {k: v for k, v in detail.items() if k != "amount"}
    if step == "refunded":
        detail = await _refund(w, remedy, detail)
    if step == "new_unit_issued":
        return await w.store.transaction(
            lambda tx: _issue_new_unit(w, remedy, detail, by=by, on=on, key=key, tx=tx)
        )
    if step == "goods_received" and remedy.remedy == "return":

        async def back(tx: Transaction) -> Remedy:
            changed = await w.remedies.change(
                remedy.remedy_id,
                lambda r: r.progress(step, by=by, at=now, on=on, detail=detail, public=public),
                key=key,
                tx=tx,
            )
            await w.units.change(
                remedy.serial_no or "",
                None,
                lambda u: u.returned(on=on, case_id=remedy.case_id, at=now),
                key=key,
                tx=tx,
            )
            return changed

        if not remedy.serial_no:
            raise RemedyInvalid("step", "the case names no unit to take back")
        return await w.store.transaction(back)

    def apply(r: Remedy) -> list[Any]:
        if step == "refunded":
            r.refund_amount = detail["amount"]
        if step == "quote_issued":
            r.quote_id = detail.get("quote_id")
        return r.progress(
            step, by=by, at=now, on=on, detail={k: str(v) for k, v in detail.items()}, public=public
        )

    return await w.remedies.change(remedy.remedy_id, apply, key=key)


async def _refund(w: Warranty, remedy: Remedy, detail: dict[str, Any]) -> dict[str, Any]:
    """A return is refunded at the invoice price (三包): the one recorded with the sale, or the one given."""
    unit = await w.units.get(remedy.serial_no) if remedy.serial_no else None
    known = unit.sale.invoice_amount if unit and unit.sale else None
    given = detail.get("amount")
    if given is None and known is None:
        raise RemedyInvalid(
            "amount", "the invoice price is not recorded with the sale: give it from the invoice"
        )
    if given is not None and known is not None and given != known:
        raise RemedyInvalid("amount", "a return is refunded at the invoice price recorded with the sale")
    return detail | {"amount": given if given is not None else known}


async def _issue_new_unit(
    w: Warranty,
    remedy: Remedy,
    detail: dict[str, Any],
    *,
    by: str,
    on: date,
    key: ChangeKey | None,
    tx: Transaction,
) -> Remedy:
    old_serial, new_serial = remedy.serial_no, detail.get("new_serial")
    if not old_serial:
        raise RemedyInvalid("step", "the case names no unit to exchange")
    if not new_serial or new_serial == old_serial:
        raise RemedyInvalid("new_serial", "an exchange issues a unit with a new serial number")
    now = w.clock()
    old = await w.units.change(
        old_serial,
        None,
        lambda u: u.exchange_out(new_serial, on=on, case_id=remedy.case_id, at=now),
        key=key,
        tx=tx,
    )
    new_model = Unit.new(new_serial).model
    if old.model and new_model != old.model:
        raise RemedyInvalid(
            "new_serial",
            f"an exchange is the same model ({old.model}); {new_serial} is "
            f"{new_model or 'no model in the catalogue'}",
        )
    try:
        await w.units.change(
            new_serial,
            old.model,
            lambda u: u.exchange_in(old, on=on, case_id=remedy.case_id, at=now),
            key=key,
            tx=tx,
        )
    except UnitRefused as exc:
        raise RemedyInvalid("new_serial", str(exc)) from exc

    def apply(r: Remedy) -> list[Any]:
        r.new_serial = new_serial
        return r.progress(
            "new_unit_issued",
            by=by,
            at=now,
            on=on,
            detail={"new_serial": new_serial},
            public={"new_serial": new_serial, "old_serial": old_serial},
        )

    return await w.remedies.change(remedy.remedy_id, apply, key=key, tx=tx)


async def cancel_remedy(
    w: Warranty, remedy_id: str, *, reason: str, by: str, key: ChangeKey | None = None
) -> Remedy:
    return await w.remedies.change(remedy_id, lambda r: r.cancel(reason=reason, by=by, at=w.clock()), key=key)


async def on_quote_issued(env: Envelope, quote: QuoteIssued, *, w: Warranty) -> None:
    """The specialist's quote for a remedy (parts): the remedy can now be agreed. No amount is kept here."""
    if not quote.remedy_id or await w.remedies.get(quote.remedy_id) is None:
        return

    def apply(r: Remedy) -> list[Any]:
        if r.remedy not in QUOTED or not r.allows("quote_issued"):
            return []
        r.quote_id = quote.quote_id
        return r.progress(
            "quote_issued",
            by=quote.issued_by,
            at=env.occurred_at,
            on=china_date(env.occurred_at),
            detail={"quote_id": quote.quote_id},
            public={"quote_id": quote.quote_id},
        )

    await w.remedies.change(quote.remedy_id, apply, cause=env.event_id)
