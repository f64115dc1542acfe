"""Parts' handlers: open key-part requests from warranty decisions, walk them from path A to B,
quote consumables from stock and the price list, and tell purchasing what is missing."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from parts.adapters.repository import CaseContext, PartsRepository, PurchaseRequest, Quote
from parts.domain.pricing import PriceList, Wanted, consumable_lines, in_effect, repair_lines, total
from parts.domain.request import PartsRequest, Step
from shared.contracts.base import Contract
from shared.contracts.cases import CaseAssigned, CaseReassigned
from shared.contracts.envelope import Envelope, derived_event_id, envelopes_for
from shared.contracts.parts import PurchaseRequested, QuoteIssued
from shared.contracts.warranty import WarrantyDecided
from shared.kafka.consumer import TransientError
from shared.logging import get_logger
from shared.periods import china_date

log = get_logger(__name__)

NEEDS_A_PART = ("free_repair", "paid_repair")


def _envelopes(events: list[tuple[str, Contract]], *, correlation_id: str, now: datetime,
               cause: uuid.UUID | None = None) -> list[Envelope]:
    return envelopes_for(events, correlation_id=correlation_id, producer="parts", now=now, cause=cause)


@dataclass
class Parts:
    repo: PartsRepository
    regional_managers: dict[str, str]
    suppliers: dict[str, str]
    local_sourcing_hours: float
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
    await parts.repo.update_context(d.case_id, {"decision": d.decision, "remedy": d.remedy, "key_part": d.key_part})
    if d.decision == "needs_evidence" or d.remedy not in NEEDS_A_PART or d.key_part not in ("motor", "control_board"):
        return
    chargeable = d.decision == "chargeable"
    open_same = [r for r in await parts.repo.requests.find({"case_id": d.case_id, "part": d.key_part}) if r.is_open]
    if open_same:
        # A superseding decision: the request goes on; only who pays may have changed.
        def recharge(req: PartsRequest) -> list[Envelope]:
            req.chargeable = chargeable
            return []

        await parts.repo.requests.change(open_same[0].request_id, recharge)
        return
    await open_request(parts, ctx, d.key_part, chargeable=chargeable, by="warranty", cause=env.event_id)


async def open_request(
    parts: Parts, ctx: CaseContext, part: str, *, chargeable: bool, by: str, cause: uuid.UUID | None
) -> PartsRequest:
    now = parts.clock()
    seed = derived_event_id(cause, f"parts-request:{part}") if cause else uuid.uuid4()
    request = PartsRequest(
        request_id=f"PR-{seed.hex[:10].upper()}",
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
    if await parts.repo.requests.insert(request, _envelopes([request.opened_event()], correlation_id=ctx.case_id,
                                                          now=now, cause=cause)):
        log.info("parts request opened", case_id=ctx.case_id, request_id=request.request_id, part=part)
    await parts.repo.requests.outbox.flush(request.request_id)
    return request


async def _local_sourcer(parts: Parts, region: str | None) -> str:
    """Path A goes to the region's manager, else to a registered local repairer there."""
    if region and region in parts.regional_managers:
        return parts.regional_managers[region]
    repairers = await parts.repo.repairers_in(region)
    return repairers[0]["_id"] if repairers else "unassigned"


async def scan_deadlines(parts: Parts) -> int:
    """Path A requests past their deadline go to the supplier (path B)."""
    now = parts.clock()
    moved = 0
    for req in await parts.repo.requests.find({"state": "sourcing_locally", "deadline": {"$lt": now}}):
        await parts.repo.requests.change(
            req.request_id,
            lambda r: _envelopes(r.deadline_passed(now=now, supplier=parts.suppliers.get(r.part, "")),
                                correlation_id=r.case_id, now=now),
        )
        moved += 1
    return moved


def step(parts: Parts, operation: Callable[[PartsRequest, datetime], list[tuple[str, Contract]]]):
    """Adapt a domain step to AggregateStore.change: the events become envelopes."""
    now = parts.clock()
    return lambda req: _envelopes(operation(req, now), correlation_id=req.case_id, now=now)


# ------------------------------------------------------------------------------------ quotes


class QuoteRefused(Exception):
    pass


async def price_list_today(parts: Parts) -> PriceList | None:
    # Finance dates its lists in China: a list effective today is in effect from 00:00 China time.
    return in_effect(await parts.repo.price_list_versions(), china_date(parts.clock()))


async def quote_consumables(parts: Parts, case_id: str, wanted: list[Wanted], *, by: str) -> dict[str, Any]:
    """In stock: quoted at the list price in effect. Out of stock: purchasing is told at once (R-PA-3)."""
    prices = await price_list_today(parts)
    if prices is None:
        raise QuoteRefused("finance has no price list in effect today")
    in_stock = [w for w in wanted if await parts.repo.on_hand(w.item) >= w.quantity]
    short = [w for w in wanted if w not in in_stock]
    now = parts.clock()
    result: dict[str, Any] = {"quote": None, "purchase_requests": []}
    if in_stock:
        lines = consumable_lines(prices, in_stock)
        result["quote"] = await _issue(parts, case_id, "consumables", lines, prices, by=by, now=now)
    expected_by = china_date(now + timedelta(days=parts.restock_days))
    for w in short:
        result["purchase_requests"].append(
            await request_purchase(parts, case_id, w.item, w.quantity, reason=f"quote for {case_id}: out of stock",
                                   expected_by=expected_by)
        )
    if short:
        result["customer_told"] = (
            f"缺货，预计 {expected_by} 到货 / out of stock, expected by {expected_by}: "
            + ", ".join(w.item for w in short)
        )
    return result


async def quote_repair(parts: Parts, request: PartsRequest, *, by: str) -> Quote:
    """Out of warranty: the part at cost and freight both ways, paid by the customer."""
    if not request.chargeable:
        raise QuoteRefused(f"{request.request_id} is under warranty: nothing to charge")
    prices = await price_list_today(parts)
    if prices is None:
        raise QuoteRefused("finance has no price list in effect today")
    return await _issue(parts, request.case_id, "repair", repair_lines(prices, request.part), prices, by=by,
                        now=parts.clock())


async def _issue(parts: Parts, case_id: str, kind: str, lines: list, prices: PriceList, *, by: str, now: datetime) -> Quote:
    quote = Quote(
        quote_id=f"Q-{uuid.uuid4().hex[:10].upper()}",
        case_id=case_id,
        kind=kind,
        lines=lines,
        total=total(lines),
        valid_until=china_date(now + timedelta(days=parts.quote_valid_days)),
        issued_by=by,
        issued_at=now,
        price_list=prices.version,
    )
    event = QuoteIssued(case_id=case_id, quote_id=quote.quote_id, lines=lines, total=quote.total,
                        valid_until=quote.valid_until, issued_by=by)
    await parts.repo.quotes.insert(quote, _envelopes([("quote.issued", event)], correlation_id=case_id, now=now))
    await parts.repo.quotes.outbox.flush(quote.quote_id)
    return quote


async def request_purchase(
    parts: Parts, case_id: str | None, item: str, quantity: int, *, reason: str, expected_by: date | None
) -> PurchaseRequest:
    now = parts.clock()
    req = PurchaseRequest(request_id=f"PUR-{uuid.uuid4().hex[:10].upper()}", case_id=case_id, item=item,
                          quantity=quantity, reason=reason, expected_by=expected_by, requested_at=now)
    event = PurchaseRequested(case_id=case_id, request_id=req.request_id, item=item, quantity=quantity, reason=reason,
                              customer_told_expected_by=expected_by)
    await parts.repo.purchases.insert(req, _envelopes([("purchase.requested", event)],
                                                     correlation_id=case_id or req.request_id, now=now))
    await parts.repo.purchases.outbox.flush(req.request_id)
    return req

