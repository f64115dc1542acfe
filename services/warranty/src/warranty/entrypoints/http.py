"""Warranty's HTTP API: the engine as a dry run, evidence that re-decides, units and rule sets."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, HTTPException, Path, Request, status
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from shared.attachments import MAX_BYTES, UPLOAD_OVERHEAD_BYTES
from shared.contracts.ids import CaseId
from shared.http.app import JsonRoute, invalid
from shared.http.auth import Principal, require_roles
from shared.http.commands import IdempotencyKey, change_key
from shared.periods import china_date
from shared.reference import canonical_product, check_sale_date, normalise_serial
from shared.roles import WARRANTY_READERS
from shared.service import service_app
from warranty import bootstrap
from warranty.config import WarrantySettings
from warranty.domain.access import sees_prices
from warranty.domain.engine import (
    EXCLUSIONS,
    Assessment,
    Fault,
    FaultKind,
    History,
    Installation,
    Product,
    Repair,
    assess,
    clocks_for,
)
from warranty.domain.facts import CaseFacts, ConfirmVia, RepairIn
from warranty.domain.unit import Sale, Unit, UnitRefused
from warranty.entrypoints import attachments, remedies
from warranty.handlers import CaseUnknown, NotYourCase, Warranty, add_evidence, register_sale

Cause = Literal[EXCLUSIONS]  # type: ignore[valid-type]
Part = Literal["motor", "control_board", "filter", "fan", "heat_exchanger", "sensor", "other"]
CaseIdPath = Annotated[CaseId, Path(description="The case number, YD-…")]
Staff = Annotated[Principal, require_roles(*WARRANTY_READERS)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# A sale (purchase or invoice) date: not before the catalogue's first launch; the model's own launch
# is checked where the model is known (beside it, or on the case).
SaleDate = Annotated[date, AfterValidator(check_sale_date)]


def _after_launch(day: date | None, info: ValidationInfo) -> date | None:
    return check_sale_date(day, info.data.get("model"), info.data.get("serial_no")) if day else day


class ProductIn(Body):
    serial_no: Annotated[str, StringConstraints(max_length=40)] | None = None
    model: Annotated[str, StringConstraints(max_length=40)] | None = None
    purchase_date: SaleDate | None = Field(
        default=None, description="The sale date (7/15-day windows run from it)."
    )
    invoice_date: SaleDate | None = Field(
        default=None, description="The warranty runs from it; the sale date if absent."
    )
    invoice_no: Annotated[str, StringConstraints(max_length=40)] | None = None
    service_card_stamped: bool | None = None
    sale_recorded: bool = Field(default=False, description="A dealer's sale record proves the purchase date.")

    _sale_after_launch = field_validator("purchase_date", "invoice_date")(_after_launch)


class InstallationIn(Body):
    accepted_on: date


class FaultIn(Body):
    kind: FaultKind
    part: Part | None = None
    cause: Cause | None = Field(default=None, description="An exclusion code, or null when none applies.")
    reported_on: date
    remote_update_possible: bool | None = None
    confirmed: bool = Field(default=True, description="Confirmed with customer and dealer (§三.2.1).")


class HistoryIn(Body):
    earlier_repairs: list[RepairIn] = Field(default_factory=list)
    exchange_date: date | None = None


class AssessIn(Body):
    product: ProductIn
    installation: InstallationIn | None = None
    fault: FaultIn
    history: HistoryIn | None = None


class DocumentsIn(Body):
    invoice_no: Annotated[str, StringConstraints(min_length=1, max_length=40)] | None = None
    invoice_date: SaleDate | None = None
    purchase_date: SaleDate | None = None
    service_card_stamped: bool | None = None


class ConfirmationIn(Body):
    via: ConfirmVia
    with_customer: bool = True
    with_dealer: bool = True


class EvidenceIn(Body):
    documents: DocumentsIn | None = None
    cause: Cause | Literal["none"] | None = Field(
        default=None, description="A cause confirmed by the customer or on inspection; 'none' clears one."
    )
    part: Part | None = None
    fault_kind: FaultKind | None = None
    remote_update_possible: bool | None = None
    sale_recorded: bool | None = None
    confirmation: ConfirmationIn | None = None
    history: HistoryIn | None = None
    reported_on: date | None = Field(
        default=None,
        description="The day the customer reported the fault, when the case has it wrong "
        "(the 三包 7/15-day windows count to it).",
    )
    attachments: list[Annotated[str, StringConstraints(pattern=r"^F-[0-9A-Z]{16}$")]] = Field(
        default_factory=list,
        max_length=20,
        description="Files on the case or its unit that prove something: an invoice or service card stands for "
        "the document, a damage photo, voltage reading or signed form backs the cause found.",
    )
    note: Annotated[str, StringConstraints(max_length=2000)] = ""

    def changes(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.documents:
            out |= self.documents.model_dump(exclude_none=True)
        if self.cause is not None:
            out["cause"] = None if self.cause == "none" else self.cause
        for name in ("part", "fault_kind", "remote_update_possible", "sale_recorded", "reported_on"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.confirmation:
            out["confirmed"] = self.confirmation.with_customer and self.confirmation.with_dealer
            out["confirmation"] = self.confirmation.model_dump()
        if self.history:
            out["repairs"] = [r.model_dump() for r in self.history.earlier_repairs]
            if self.history.exchange_date:
                out["exchange_date"] = self.history.exchange_date
        return out


def _w(request: Request) -> Warranty:
    return request.app.state.runtime.components["warranty"]


def assessment_view(a: Assessment) -> dict[str, Any]:
    return {
        "decision": a.decision,
        "remedy": a.remedy,
        "options": a.options,
        "reasons": [r.model_dump() for r in a.reasons],
        "warranty": [asdict(c) for c in a.clocks],
        "key_part": a.key_part,
        "charge_hint": a.charge_hint,
        "depreciation_rate": a.depreciation_rate,
        "freight_both_ways": a.freight_both_ways,
        "earlier_repairs": a.earlier_repairs,
        "rule_set": a.rule_set,
    }


router = APIRouter(tags=["warranty"], route_class=JsonRoute)


@router.post("/v1/warranty/assess", summary="The decision engine as a dry run: no record, no event")
async def dry_run(request: Request, body: AssessIn, principal: Staff) -> dict[str, Any]:
    w = _w(request)
    history = body.history or HistoryIn()
    a = assess(
        Product(**body.product.model_dump()),
        Fault(**body.fault.model_dump()),
        w.rules.for_day(china_date(w.clock())),
        installation=Installation(body.installation.accepted_on) if body.installation else None,
        history=History(
            repairs=tuple(Repair(r.on, r.part, r.days) for r in history.earlier_repairs),
            exchange_date=history.exchange_date,
        ),
    )
    return assessment_view(a)


@router.post(
    "/v1/cases/{case_id}/evidence",
    status_code=201,
    summary="Add documents, a confirmed cause or repair history; the case is decided again",
)
async def post_evidence(
    request: Request,
    case_id: CaseIdPath,
    body: EvidenceIn,
    principal: Staff,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    w = _w(request)
    facts = await w.cases.get(case_id)
    if facts is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"case {case_id} not known to warranty")
    for name in ("purchase_date", "invoice_date"):
        day = getattr(body.documents, name) if body.documents else None
        try:
            if day:
                check_sale_date(day, facts.model, facts.serial_no)
        except ValueError as exc:
            raise invalid(f"documents.{name}", str(exc)) from exc
    if body.reported_on and body.reported_on > china_date(w.clock()):
        raise invalid("reported_on", "the day the customer reported it is in the future")
    changes = body.changes() | await _attached(request, facts, body.attachments)
    if not changes:
        raise HTTPException(
            422,
            detail="evidence: nothing to add (documents, cause, part, confirmation, history or attachments)",
        )
    try:
        facts = await add_evidence(
            _w(request),
            case_id,
            changes,
            by=principal.id,
            role=principal.role,
            note=body.note,
            key=change_key(principal, idempotency_key, action=f"evidence {case_id}", body=body),
        )
    except CaseUnknown as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from exc
    except NotYourCase as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=str(exc)) from exc
    return case_view(facts)


# What a file of each kind proves, as evidence on a case.
PROVES = {
    "invoice": "invoice_attached",
    "service_card": "service_card_attached",
    "damage": "cause_evidenced",
    "voltage_reading": "cause_evidenced",
    "signed_form": "cause_evidenced",
}


async def _attached(request: Request, facts: CaseFacts, ids: list[str]) -> dict[str, Any]:
    """The facts the cited files prove; each must be on this case or its unit (422 naming it otherwise)."""
    store = request.app.state.runtime.components["attachments"]
    changes: dict[str, Any] = {}
    for i, attachment_id in enumerate(ids):
        found = await store.get(attachment_id)
        owners = {("case", facts.case_id), ("unit", facts.serial_no)}
        if found is None or (found.owner_kind, found.owner_id) not in owners:
            raise invalid(f"attachments.{i}", f"{attachment_id} is not a file of this case or its unit")
        if found.kind in PROVES:
            changes[PROVES[found.kind]] = True
    if ids:
        changes["attachments"] = ids
    return changes


def case_view(facts: Any) -> dict[str, Any]:
    data = facts.model_dump(mode="json")
    data["latest_decision"] = data["decisions"][-1] if data["decisions"] else None
    return data


@router.get("/v1/cases/{case_id}", summary="The warranty side of a case: facts, evidence, decisions")
async def get_case(request: Request, case_id: CaseIdPath, principal: Staff) -> dict[str, Any]:
    facts = await _w(request).cases.get(case_id)
    if facts is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"case {case_id} not known to warranty")
    return case_view(facts)


SerialNo = Annotated[str, Path(max_length=60)]
PHONE_READERS = ("manager", "specialist")


def _serial(raw: str) -> str:
    try:
        return normalise_serial(raw)
    except ValueError as exc:
        raise invalid("serial_no", str(exc)) from exc


@router.get(
    "/v1/warranty/units/{serial_no}",
    summary="A unit's record: sale, installation, clocks, and every case, decision, repair, exchange and return",
)
async def get_unit(request: Request, serial_no: SerialNo, principal: Staff) -> dict[str, Any]:
    w = _w(request)
    serial = _serial(serial_no)
    unit = await w.units.get(serial)
    cases = sorted(await w.queries.for_serial(serial), key=lambda f: (f.reported_on, f.case_id))
    if unit is None and not cases:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail=f"unit {serial} has no registration and no case"
        )
    installation = await w.units.installation_for(serial, None)
    today = china_date(w.clock())
    # The unit's own view: the latest case's facts, none of its repairs set aside.
    facts = (
        cases[-1].model_copy(update={"case_id": "-"})
        if cases
        else CaseFacts(case_id="-", serial_no=serial, fault_kind="hardware", reported_on=today)
    )
    product, _fault, history, inst = facts.engine_input(installation, unit)
    unit_clocks = clocks_for(product, inst, history, w.rules.for_day(today))
    clocks = [asdict(c) | {"covers_today": c.covers(today)} for c in unit_clocks]
    deciding = next(
        (c for c in unit_clocks if c.kind == "installed_equipment"),
        next((c for c in unit_clocks if c.kind == "product"), None),
    )
    record = unit.model_dump(mode="json") if unit else Unit.new(serial).model_dump(mode="json")
    if record.get("sale") and principal.role not in PHONE_READERS:
        record["sale"].pop("customer_phone", None)
    # The invoice price: finance, and the specialist of one of the unit's cases.
    if record.get("sale") and not (
        principal.role == "finance" or any(sees_prices(principal, f) for f in cases)
    ):
        record["sale"].pop("invoice_amount", None)
    entries = [e for e in record.pop("history")]
    for f in cases:
        entries.append(
            {
                "on": str(f.reported_on),
                "at": None,
                "kind": "case_reported",
                "case_id": f.case_id,
                "detail": {"fault_kind": f.fault_kind, "part": f.part},
            }
        )
        for d in f.decisions:
            at = d["decided_at"]
            entries.append(
                {
                    "on": str(china_date(at)),
                    "at": at.isoformat(),
                    "kind": "decided",
                    "case_id": f.case_id,
                    "detail": {k: d.get(k) for k in ("decision", "remedy", "options", "reasons", "rule_set")},
                }
            )
        if f.closed_on:
            entries.append(
                {
                    "on": str(f.closed_on),
                    "at": None,
                    "kind": "case_closed",
                    "case_id": f.case_id,
                    "detail": {"outcome": f.outcome},
                }
            )
    entries.sort(key=lambda e: (e["on"], e["at"] or ""))
    return {
        **record,
        "model": record.get("model") or (cases[-1].model if cases else None),
        "clocks": clocks,
        "repairs_in_period": history.repair_visits(deciding, today) if deciding else len(history.repairs),
        "cases": [
            {
                "case_id": f.case_id,
                "reported_on": f.reported_on,
                "fault_kind": f.fault_kind,
                "latest_decision": f.decisions[-1] if f.decisions else None,
                "closed_on": f.closed_on,
                "outcome": f.outcome,
            }
            for f in cases
        ],
        "decisions": [{"case_id": f.case_id, **d} for f in cases for d in f.decisions],
        "history": entries,
    }


class SaleIn(Body):
    dealer_code: Annotated[str, StringConstraints(min_length=1, max_length=40)] | None = Field(
        default=None, description="The selling dealer: the caller's own code (another dealer's is a 403)."
    )
    model: Annotated[str, StringConstraints(max_length=40)] | None = None
    invoice_no: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    invoice_date: SaleDate
    invoice_amount: Decimal | None = Field(
        default=None,
        ge=0,
        le=10_000_000,
        decimal_places=2,
        description="The invoice price: what a return refunds.",
    )
    purchase_date: SaleDate | None = Field(
        default=None, description="The day of the sale; the invoice date if absent."
    )
    service_card_no: Annotated[str, StringConstraints(min_length=1, max_length=40)] | None = None
    service_card_stamped: bool = Field(default=True, description="The dealer stamped the service card.")


@router.post(
    "/v1/warranty/units/{serial_no}/sale",
    status_code=201,
    summary="A dealer registers a sale: the unit's proof of purchase for every later case",
)
async def post_sale(
    request: Request,
    serial_no: SerialNo,
    body: SaleIn,
    principal: Annotated[Principal, require_roles("dealer")],
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    w = _w(request)
    serial = _serial(serial_no)
    if body.dealer_code and body.dealer_code != principal.dealer_code:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, detail=f"this key registers sales of {principal.dealer_code} only"
        )
    today = china_date(w.clock())
    for name in ("invoice_date", "purchase_date"):
        day = getattr(body, name)
        if day is None:
            continue
        if day > today:
            raise invalid(name, "the date is in the future")
        try:
            check_sale_date(day, body.model, serial)
        except ValueError as exc:
            raise invalid(name, str(exc)) from exc
    catalogue = canonical_product(body.model) if body.model else None
    if body.model and catalogue is None:
        raise invalid("model", f"{body.model} is not in the catalogue")
    sale = Sale(
        source="dealer",
        dealer_code=principal.dealer_code,
        invoice_no=body.invoice_no,
        invoice_date=body.invoice_date,
        invoice_amount=body.invoice_amount,
        purchase_date=body.purchase_date or body.invoice_date,
        service_card_no=body.service_card_no,
        service_card_stamped=body.service_card_stamped,
        recorded_by=principal.id,
        recorded_at=w.clock(),
    )
    try:
        unit = await register_sale(
            w,
            serial,
            sale,
            model=catalogue.model if catalogue else None,
            key=change_key(principal, idempotency_key, action=f"sale {serial}", body=body),
        )
    except UnitRefused as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from exc
    data = unit.model_dump(mode="json")
    data["sale"].pop("customer_phone", None)
    return data


@router.get("/v1/warranty/rule-sets", summary="Every rule set and the numbers it decides with")
async def rule_sets(request: Request, principal: Staff) -> dict[str, Any]:
    w = _w(request)
    current = w.rules.for_day(china_date(w.clock()))
    return {"in_effect": current.version, "rule_sets": [asdict(s) for s in w.rules.sets]}


def create_app(settings: WarrantySettings | None = None) -> FastAPI:
    settings = settings or WarrantySettings()
    return service_app(
        settings,
        title="英德售后 · Warranty",
        description=(
            "Warranty registrations and explainable 三包 decisions: three clocks per unit (purchase, acceptance, "
            "workmanship), the exclusions of the regulation, the national 7/15-day and repaired-twice rules, "
            "each decision naming every rule that applied and the rule-set version that decided."
        ),
        routers=[router, attachments.router, attachments.public, remedies.router],
        wire=bootstrap.wire,
        uploads=(attachments.UPLOAD_PATHS, MAX_BYTES + UPLOAD_OVERHEAD_BYTES),
    )
