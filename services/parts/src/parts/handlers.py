"""Parts' handlers: open key-part requests from warranty decisions, walk them from path A to B,
quote consumables from stock and the price list, and tell purchasing what is missing.

Every change goes through the unit of work (shared.unit_of_work). What a request creates (a parts
request, a quote, purchase requests) takes its id from the caller's Idempotency-Key, or from the
consumed event, so a retry finds what the first attempt made instead of making it again.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from parts.adapters.repository import CaseContext, PartsRepository, PurchaseRequest, Quote
from parts.domain.pricing import (
    PriceList,
    Wanted,
    consumable_lines,
    in_effect,
    installation_lines,
    paid_repair_lines,
    replacement_lines,
    total,
)
from parts.domain.repair_record import PartUsed, RepairRecord, Signature
from parts.domain.request import LegHours, PartsRequest, Step
from shared.contracts.base import Contract
from shared.contracts.cases import CaseAssigned, CaseReassigned
from shared.contracts.envelope import Envelope, derived_event_id
from shared.contracts.parts import PurchaseRequested, QuoteIssued
from shared.contracts.warranty import RemedyCancelled, RemedyChosen, RemedyCompleted, WarrantyDecided
from shared.kafka.consumer import TransientError
from shared.logging import get_logger
from shared.periods import china_date
from shared.unit_of_work import ChangeKey, Transaction

log = get_logger(__name__)

NEEDS_A_PART = ("free_repair", "paid_repair")


@dataclass
class Parts:
    repo: PartsRepository
    regional_managers: dict[str, str]
    suppliers: dict[str, str]
    local_sourcing_hours: float
    leg_hours: LegHours
    quote_valid_days: int
    restock_days: int
    unknown_case_grace_s: float
    pdf_font: Path
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)


# ------------------------------------------------------------------------------------ consumed events


async def on_case_assigned(env: Envelope, a: CaseAssigned, *, parts: Parts) -> None:
    p = a.product
    await parts.repo.update_context(
        a.case_id,
        {
            "specialist_id": a.specialist_id,
            "region": a.region,
            "dealer_code": a.dealer_code,
            "customer_name": a.customer_name,
            "customer_address": a.customer_address,
            "model": p.model,
            "serial_no": p.serial_no,
            "purchase_date": p.purchase_date.isoformat() if p.purchase_date else None,
            "invoice_no": p.invoice_no,
            "description": a.description,
            "received_at": a.received_at,
            "reported_at": a.reported_at,
            "customer_phone": a.customer_phone,
        },
    )


async def on_case_reassigned(env: Envelope, r: CaseReassigned, *, parts: Parts) -> None:
    await parts.repo.update_context(r.case_id, {"specialist_id": r.to_specialist_id})


async def on_warranty_decided(env: Envelope, d: WarrantyDecided, *, parts: Parts) -> None:
    """A decision whose remedy needs a motor or control board opens a request, once (R-PA-1)."""
    ctx = await parts.repo.context(d.case_id)
    if ctx is None or ctx.specialist_id is None:
        age = (parts.clock() - env.occurred_at).total_seconds()
        if age < parts.unknown_case_grace_s:
            raise TransientError(f"case {d.case_id}'s assignment not seen yet; waiting")
        ctx = CaseContext(case_id=d.case_id)  # source without a region: the specialist names someone
    await parts.repo.update_context(
        d.case_id,
        {
            "decision": d.decision,
            "remedy": d.remedy,
            "key_part": d.key_part,
            "freight_both_ways": d.freight_both_ways,
            "depreciation_rate": d.depreciation_rate,
            "earlier_repairs": d.earlier_repairs,
        },
    )
    if (
        d.decision == "needs_evidence"
        or d.remedy not in NEEDS_A_PART
        or d.key_part not in ("motor", "control_board")
    ):
        return
    chargeable = d.decision == "chargeable"
    open_same = [
        r for r in await parts.repo.requests.find({"case_id": d.case_id, "part": d.key_part}) if r.is_open
    ]
    if open_same:
        # A superseding decision: the request goes on; only who pays may have changed.
        def recharge(req: PartsRequest) -> list[Envelope]:
            req.chargeable = chargeable
            return []

        await parts.repo.requests.change(open_same[0].request_id, recharge, cause=env.event_id)
        return
    await open_request(parts, ctx, d.key_part, chargeable=chargeable, by="warranty", cause=env.event_id)


async def open_request(
    parts: Parts,
    ctx: CaseContext,
    part: str,
    *,
    chargeable: bool,
    by: str,
    cause: uuid.UUID | None,
    key: ChangeKey | None = None,
) -> PartsRequest:
    """A key-part request, path A first. Its id comes from the decision that needs it, or from the
    caller's Idempotency-Key, so opening it again finds the same request."""
    now = parts.clock()
    if key is not None:
        request_id = key.derived_id("PR-")
    else:
        request_id = f"PR-{(derived_event_id(cause, f'parts-request:{part}') if cause else uuid.uuid4()).hex[:10].upper()}"
    request = PartsRequest(
        request_id=request_id,
        case_id=ctx.case_id,
        part=part,  # type: ignore[arg-type]
        model=ctx.model,
        chargeable=chargeable,
        sourcing_by=await _local_sourcer(parts, ctx.region),
        deadline=now + timedelta(hours=parts.local_sourcing_hours),
        opened_at=now,
        decision_event_id=str(cause) if cause else "",
    )
    request.steps.append(Step(step="opened", by=by, at=now, detail={"sourcing_by": request.sourcing_by}))
    made = await parts.repo.requests.create(request, [request.opened_event()], cause=cause, key=key)
    if made.created:
        log.info("parts request opened", case_id=ctx.case_id, request_id=request.request_id, part=part)
    return made.item


async def _local_sourcer(parts: Parts, region: str | None) -> str:
    """Path A goes to the region's manager, else to a registered local repairer there."""
    if region and region in parts.regional_managers:
        return parts.regional_managers[region]
    repairers = await parts.repo.repairers_in(region)
    return repairers[0]["_id"] if repairers else "unassigned"


def _timed(
    parts: Parts, operation: Callable[[PartsRequest], list[Any]]
) -> Callable[[PartsRequest], list[Any]]:
    """A step on a request, with path B's leg deadlines as configured now."""

    def run(req: PartsRequest) -> list[Any]:
        req.hours = parts.leg_hours
        return operation(req)

    return run


async def scan_deadlines(parts: Parts) -> int:
    """Path A requests past their deadline go to the supplier (path B); path B legs past theirs are
    escalated once each (parts.leg_overdue). Returns the requests changed."""
    now = parts.clock()
    moved = 0
    for req in await parts.repo.requests.find({"state": "sourcing_locally", "deadline": {"$lt": now}}):
        # Another replica's scan, or a step by hand, may get there first: the step then refuses on
        # the fresh request, and there is nothing left to do.
        def to_supplier(r: PartsRequest) -> list[tuple[str, Contract]]:
            if r.state != "sourcing_locally":
                return []
            return r.deadline_passed(now=now, supplier=parts.suppliers.get(r.part, ""))

        await parts.repo.requests.change(req.request_id, _timed(parts, to_supplier))
        moved += 1
    for request_id in await parts.repo.legs_due(now):
        try:
            await parts.repo.requests.change(request_id, lambda r: r.overdue_legs(now))
        except TransientError:
            continue  # the next scan sees it again
        moved += 1
    return moved


async def advance_request(
    parts: Parts,
    request_id: str,
    operation: Callable[[PartsRequest, datetime], list[tuple[str, Contract]]],
    *,
    key: ChangeKey | None = None,
) -> PartsRequest:
    """One step of a request (path A report, RMA, shipment, arrival, repair), once per Idempotency-Key."""
    now = parts.clock()
    return await parts.repo.requests.change(
        request_id, _timed(parts, lambda req: operation(req, now)), key=key
    )


# ------------------------------------------------------------------------------------ quotes


class QuoteRefused(Exception):
    pass


async def price_list_today(parts: Parts) -> PriceList | None:
    # Finance dates its lists in China: a list effective today is in effect from 00:00 China time.
    return in_effect(await parts.repo.price_list_versions(), china_date(parts.clock()))


async def quote_consumables(
    parts: Parts, case_id: str, wanted: list[Wanted], *, by: str, key: ChangeKey | None = None
) -> dict[str, Any]:
    """In stock: quoted at the list price in effect. Out of stock: purchasing is told at once (R-PA-3).
    The quote and its purchase requests are made together, in one transaction, or not at all."""
    ids = _consumable_ids(case_id, wanted, key)
    if key is not None:
        earlier = await _made_earlier(parts, ids, key)
        if earlier is not None:
            return earlier
    prices = await price_list_today(parts)
    if prices is None:
        raise QuoteRefused("finance has no price list in effect today")
    in_stock = [w for w in wanted if await parts.repo.on_hand(w.item) >= w.quantity]
    short = [w for w in wanted if w not in in_stock]
    now = parts.clock()
    expected_by = china_date(now + timedelta(days=parts.restock_days))

    async def work(tx: Transaction) -> dict[str, Any]:
        result: dict[str, Any] = {"quote": None, "purchase_requests": []}
        if in_stock:
            result["quote"] = await _issue(
                parts,
                ids["quote"],
                case_id,
                "consumables",
                consumable_lines(prices, in_stock),
                prices,
                by=by,
                now=now,
                key=key,
                tx=tx,
            )
        for w in short:
            result["purchase_requests"].append(
                await request_purchase(
                    parts,
                    ids[w.item],
                    case_id,
                    w.item,
                    w.quantity,
                    reason=f"quote for {case_id}: out of stock",
                    expected_by=expected_by,
                    key=key,
                    tx=tx,
                )
            )
        return result

    return _told(await parts.repo.store.transaction(work))


def _consumable_ids(case_id: str, wanted: list[Wanted], key: ChangeKey | None) -> dict[str, str]:
    """The quote's id and one purchase request id per item: from the key when there is one."""
    if key is None:
        return {
            "quote": f"Q-{uuid.uuid4().hex[:10].upper()}",
            **{w.item: f"PUR-{uuid.uuid4().hex[:10].upper()}" for w in wanted},
        }
    return {
        "quote": key.derived_id("Q-"),
        **{
            w.item: f"PUR-{uuid.uuid5(uuid.NAMESPACE_OID, f'{key.digest}:{w.item}').hex[:10].upper()}"
            for w in wanted
        },
    }


async def _made_earlier(parts: Parts, ids: dict[str, str], key: ChangeKey) -> dict[str, Any] | None:
    """What the first attempt of this request made (a retry answers the same), if it made anything."""
    quote = await parts.repo.quotes.made_by(ids["quote"], key)
    purchases = [
        p
        for item, pid in ids.items()
        if item != "quote"
        if (p := await parts.repo.purchases.made_by(pid, key)) is not None
    ]
    if quote is None and not purchases:
        return None
    return _told({"quote": quote, "purchase_requests": purchases})


def _told(result: dict[str, Any]) -> dict[str, Any]:
    short: list[PurchaseRequest] = result["purchase_requests"]
    if short:
        expected_by = short[0].expected_by
        result["customer_told"] = (
            f"缺货，预计 {expected_by} 到货 / out of stock, expected by {expected_by}: "
            + ", ".join(p.item for p in short)
        )
    return result


async def quote_repair(
    parts: Parts,
    request: PartsRequest,
    *,
    by: str,
    key: ChangeKey | None = None,
    labour_hours: Decimal = Decimal(0),
    remedy_id: str | None = None,
) -> Quote:
    """A chargeable key-part repair: the part at cost, labour by the rate card, freight both ways only where
    the decision puts it on the customer (权益 2.7: past the period)."""
    if not request.chargeable:
        raise QuoteRefused(f"{request.request_id} is under warranty: nothing to charge")
    ctx = await parts.repo.context(request.case_id)
    freight = ctx.freight_both_ways if ctx else True
    return await _quote(
        parts,
        request.case_id,
        "repair",
        lambda prices: paid_repair_lines(prices, [request.part], labour_hours, freight=freight),
        by=by,
        key=key,
        remedy_id=remedy_id,
    )


QUOTE_OF_REMEDY = {
    "paid_repair": "repair",
    "replacement": "replacement",
    "paid_installation_maintenance": "installation_maintenance",
}


async def quote_remedy(
    parts: Parts,
    ctx: CaseContext,
    remedy_id: str,
    *,
    by: str,
    key: ChangeKey | None = None,
    parts_used: list[str] = (),
    labour_hours: Decimal = Decimal(0),
    replacement_item: str | None = None,
    materials: list[Wanted] = (),  # type: ignore[assignment]
) -> Quote:
    """The quote a remedy needs (R-WA-8): a paid repair (any part at cost, labour, freight only past the
    period), a replacement (the new product's cost times the depreciation decided), or paid installation
    maintenance (labour and materials). Warranty learns of it from quote.issued and waits for the agreement."""
    kind = ctx.remedies.get(remedy_id)
    if kind is None:
        raise QuoteRefused(f"remedy {remedy_id} is not an open remedy of case {ctx.case_id}")
    if kind not in QUOTE_OF_REMEDY:
        raise QuoteRefused(f"a {kind} is free: nothing to quote")
    if kind == "replacement":
        if not replacement_item:
            raise QuoteInvalid("replacement_item", "a replacement names the product (its price-list item)")
        rate = ctx.depreciation_rate if ctx.depreciation_rate is not None else 1.0
        return await _quote(
            parts,
            ctx.case_id,
            "replacement",
            lambda prices: replacement_lines(prices, replacement_item, rate),
            by=by,
            key=key,
            remedy_id=remedy_id,
        )
    if kind == "paid_repair":
        if not parts_used and not labour_hours:
            raise QuoteInvalid("parts", "a paid repair quotes parts, labour hours or both")
        return await _quote(
            parts,
            ctx.case_id,
            "repair",
            lambda prices: paid_repair_lines(
                prices, list(parts_used), labour_hours, freight=ctx.freight_both_ways
            ),
            by=by,
            key=key,
            remedy_id=remedy_id,
        )
    if not labour_hours:
        raise QuoteInvalid("labour_hours", "installation maintenance quotes its labour hours")
    return await _quote(
        parts,
        ctx.case_id,
        "installation_maintenance",
        lambda prices: installation_lines(prices, labour_hours, list(materials)),
        by=by,
        key=key,
        remedy_id=remedy_id,
    )


class QuoteInvalid(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


async def _quote(
    parts: Parts,
    case_id: str,
    kind: str,
    lines_of: Callable[[PriceList], list],
    *,
    by: str,
    key: ChangeKey | None,
    remedy_id: str | None,
) -> Quote:
    quote_id = key.derived_id("Q-") if key else f"Q-{uuid.uuid4().hex[:10].upper()}"
    if key is not None and (earlier := await parts.repo.quotes.made_by(quote_id, key)) is not None:
        return earlier
    prices = await price_list_today(parts)
    if prices is None:
        raise QuoteRefused("finance has no price list in effect today")
    return await _issue(
        parts,
        quote_id,
        case_id,
        kind,
        lines_of(prices),
        prices,
        by=by,
        now=parts.clock(),
        key=key,
        remedy_id=remedy_id,
    )


async def _issue(
    parts: Parts,
    quote_id: str,
    case_id: str,
    kind: str,
    lines: list,
    prices: PriceList,
    *,
    by: str,
    now: datetime,
    key: ChangeKey | None,
    tx: Transaction | None = None,
    remedy_id: str | None = None,
) -> Quote:
    quote = Quote(
        quote_id=quote_id,
        case_id=case_id,
        kind=kind,
        lines=lines,
        total=total(lines),
        valid_until=china_date(now + timedelta(days=parts.quote_valid_days)),
        issued_by=by,
        issued_at=now,
        price_list=prices.version,
        remedy_id=remedy_id,
    )
    event = QuoteIssued(
        case_id=case_id,
        quote_id=quote.quote_id,
        kind=kind,
        remedy_id=remedy_id,
        lines=lines,
        total=quote.total,
        valid_until=quote.valid_until,
        issued_by=by,
    )
    return (await parts.repo.quotes.create(quote, [("quote.issued", event)], key=key, tx=tx)).item


async def request_purchase(
    parts: Parts,
    request_id: str,
    case_id: str | None,
    item: str,
    quantity: int,
    *,
    reason: str,
    expected_by: date | None,
    key: ChangeKey | None = None,
    tx: Transaction | None = None,
) -> PurchaseRequest:
    req = PurchaseRequest(
        request_id=request_id,
        case_id=case_id,
        item=item,
        quantity=quantity,
        reason=reason,
        expected_by=expected_by,
        requested_at=parts.clock(),
    )
    event = PurchaseRequested(
        case_id=case_id,
        request_id=req.request_id,
        item=item,
        quantity=quantity,
        reason=reason,
        customer_told_expected_by=expected_by,
    )
    return (await parts.repo.purchases.create(req, [("purchase.requested", event)], key=key, tx=tx)).item


class PurchaseClosed(Exception):
    pass


async def update_purchase(
    parts: Parts,
    request_id: str,
    *,
    status: str,
    expected_by: date | None,
    by: str,
    key: ChangeKey | None = None,
) -> PurchaseRequest:
    """Purchasing: ordered, or received. Receipt and the stock it brings in commit together."""
    now = parts.clock()

    def update(req: PurchaseRequest) -> list[Any]:
        if req.status == "received":
            raise PurchaseClosed(f"purchase request {request_id} was received already")
        req.status = status
        req.expected_by = expected_by or req.expected_by
        req.history.append({"status": status, "by": by, "at": now})
        return []

    if status != "received":
        return await parts.repo.purchases.change(request_id, update, key=key)

    async def receive(tx: Transaction) -> PurchaseRequest:
        req = await parts.repo.purchases.change(request_id, update, key=key, tx=tx)
        await parts.repo.move_stock(
            req.item,
            req.quantity,
            move_id=f"receipt:{request_id}",
            reason=f"received for {request_id}",
            by=by,
            at=now,
            name=None,
            tx=tx,
        )
        return req

    return await parts.repo.store.transaction(receive)


# ------------------------------------------------------------------------------------ remedies


async def on_remedy_chosen(env: Envelope, chosen: RemedyChosen, *, parts: Parts) -> None:
    """An open remedy may be quoted by the case's specialist."""
    await parts.repo.update_context(chosen.case_id, {f"remedies.{chosen.remedy_id}": chosen.remedy})


async def on_remedy_ended(env: Envelope, ended: RemedyCompleted | RemedyCancelled, *, parts: Parts) -> None:
    await parts.repo.unset_context(ended.case_id, f"remedies.{ended.remedy_id}")


# ------------------------------------------------------------------------------------ repair records


class RecordRefused(Exception):
    pass


async def record_repair(
    parts: Parts,
    ctx: CaseContext,
    *,
    request: PartsRequest | None,
    repaired_on: date,
    technician: str,
    fault_found: str,
    cause: str,
    parts_used: list[PartUsed],
    labour: str,
    labour_hours: Decimal,
    customer_signature: Signature | None,
    technician_signature: Signature | None,
    attachment: str | None,
    by: str,
    key: ChangeKey | None = None,
    tx: Transaction | None = None,
) -> RepairRecord:
    """The repair record of one repair (附件 1), from the request repaired (if a key part was) and the case:
    repair.recorded tells warranty (the unit's history) and dispatch (the case may close)."""
    now = parts.clock()
    if key is not None:
        record_id = key.derived_id("RR-")
    elif request is not None:
        record_id = f"RR-{request.request_id.removeprefix('PR-')}"
    else:
        record_id = f"RR-{uuid.uuid4().hex[:10].upper()}"
    reported = (
        china_date(ctx.reported_at or ctx.received_at) if (ctx.reported_at or ctx.received_at) else None
    )
    record = RepairRecord(
        record_id=record_id,
        case_id=ctx.case_id,
        request_id=request.request_id if request else None,
        serial_no=ctx.serial_no,
        model=ctx.model or (request.model if request else None),
        customer_name=ctx.customer_name,
        customer_phone=ctx.customer_phone,
        customer_address=ctx.customer_address,
        dealer_code=ctx.dealer_code,
        reported_on=reported,
        repaired_on=repaired_on,
        technician=technician,
        fault_found=fault_found,
        cause=cause,
        parts=parts_used,
        labour=labour,
        labour_hours=labour_hours,
        earlier_repairs=ctx.earlier_repairs,
        warranty=f"{ctx.decision or '—'} / {ctx.remedy or '—'}",
        chargeable=bool(request.chargeable) if request else ctx.decision == "chargeable",
        customer_signature=customer_signature,
        technician_signature=technician_signature,
        signed_form_attachment=attachment,
        recorded_by=by,
        recorded_at=now,
    )
    made = await parts.repo.records.create(record, [record.recorded_event()], key=key, tx=tx)
    return made.item


async def repair_with_record(
    parts: Parts,
    request_id: str,
    operation: Callable[[PartsRequest, datetime], list],
    record_of: Callable[[PartsRequest, CaseContext], Any],
    *,
    key: ChangeKey | None = None,
) -> tuple[PartsRequest, RepairRecord]:
    """A key-part repair and its record, written together."""
    current = await parts.repo.requests.require(request_id)
    ctx = await parts.repo.context(current.case_id) or CaseContext(case_id=current.case_id)
    if key is not None:
        earlier = await parts.repo.records.made_by(key.derived_id("RR-"), key)
        if earlier is not None:
            return current, earlier

    async def work(tx: Transaction) -> tuple[PartsRequest, RepairRecord]:
        now = parts.clock()
        req = await parts.repo.requests.change(request_id, lambda r: operation(r, now), key=key, tx=tx)
        return req, await record_of(req, ctx, tx)

    return await parts.repo.store.transaction(work)
