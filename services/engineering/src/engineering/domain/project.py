"""The installation project, from won bid to archived acceptance, and the gates it must pass (R-EN-1..5).

The project only moves forward:
  sourcing → awaiting_decision → contracting → preparing → in_works → in_acceptance → accepted → archived.
Every gate is computed from what has been recorded, so the checklist the console shows and the 409
an early move gets name the same missing items. Each operation changes the project and returns the
events it causes (type, payload); it never does I/O. Prices stay on the project, never in an event.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, Field, PlainSerializer

from engineering.domain.maintenance import PlannedVisit, plan_visits
from shared.contracts.base import Contract
from shared.contracts.engineering import (
    InstallationAccepted,
    InstalledUnit,
    MaintenanceVisitMissed,
    MaintenanceVisitRecorded,
    ProjectMilestone,
    ProjectOpened,
)
from shared.periods import china_today

Status = Literal[
    "sourcing",
    "awaiting_decision",
    "contracting",
    "preparing",
    "in_works",
    "in_acceptance",
    "accepted",
    "archived",
]
STATUSES: tuple[Status, ...] = (
    "sourcing",
    "awaiting_decision",
    "contracting",
    "preparing",
    "in_works",
    "in_acceptance",
    "accepted",
    "archived",
)
STATUS_ZH: dict[str, str] = {
    "sourcing": "寻找安装公司、报价比价",
    "awaiting_decision": "已呈报公司高层，待决定",
    "contracting": "已选定安装公司，待签合同",
    "preparing": "开工准备",
    "in_works": "施工中",
    "in_acceptance": "竣工验收中",
    "accepted": "竣工验收合格",
    "archived": "竣工资料已归档",
}
# 包工包料 / 包工不包料（清包） / 包工包辅料: who supplies what under the installer's contract.
ContractingMode = Literal["labour_and_materials", "labour_only", "labour_and_auxiliary_materials"]
Party = Literal["client", "supervisor"]
PARTIES: tuple[Party, ...] = ("client", "supervisor")
# §二.3.1(4): 设备辅料及设备合格证、施工队长及施工人员的证件信息、《工程开工报审表》.
PaperworkItem = Literal["equipment_certificates", "material_certificates", "crew_ids", "commencement_report"]
PAPERWORK: tuple[PaperworkItem, ...] = (
    "equipment_certificates",
    "material_certificates",
    "crew_ids",
    "commencement_report",
)
# §二.3.3(1): the four conditions of completion acceptance.
Condition = Literal["scope_complete", "self_inspection", "rectifications_closed", "archives_complete"]
CONDITIONS: tuple[Condition, ...] = (
    "scope_complete",
    "self_inspection",
    "rectifications_closed",
    "archives_complete",
)
# §二.3.3(2): the acceptance procedure, in this order and no other.
Step = Literal["self_check", "application", "supervisor_signed", "client_signed", "settlement", "archive"]
STEPS: tuple[Step, ...] = (
    "self_check",
    "application",
    "supervisor_signed",
    "client_signed",
    "settlement",
    "archive",
)
STEP_GATE: dict[str, str] = {s: ("archived" if s == "archive" else f"acceptance_{s}") for s in STEPS}
# The client's and design unit's stamps make the acceptance; open rectifications block every step up to it.
ACCEPTING_STEP: Step = "client_signed"
Orderer = Literal["supervisor", "authority"]
# Stages where preparation records (contacts, material, instructions) and works records are taken.
AFTER_CONTRACT: tuple[Status, ...] = ("preparing", "in_works", "in_acceptance")
DURING_WORKS: tuple[Status, ...] = ("in_works", "in_acceptance")
MaterialState = Literal["declared", "accepted", "rejected"]

Event = tuple[str, Contract]

_CENT = Decimal("0.01")


def money_text(value: Decimal) -> str:
    return str(value.quantize(_CENT, rounding=ROUND_HALF_UP))


def _quantity_text(value: Decimal) -> str:
    return format(value.normalize(), "f")


# Amounts are kept as exact decimal strings (readable by any client; floats would drift).
Money = Annotated[Decimal, PlainSerializer(money_text, return_type=str)]
Quantity = Annotated[Decimal, PlainSerializer(_quantity_text, return_type=str)]


# ----------------------------------------------------------------------------------------- refusals


@dataclass(frozen=True)
class Missing:
    """One thing a gate still needs, named for the console (zh) and for callers (en)."""

    item: str
    zh: str
    en: str


_LABELS: dict[str, tuple[str, str]] = {
    "submission": ("报价比价结果呈报公司高层", "the comparison submitted to management"),
    "decision": ("公司高层的决定（选定的报价及理由）", "management's decision (the chosen quote and why)"),
    "contract": ("与安装公司签订的合同", "the contract with the installer"),
    "site_lead": ("施工现场项目负责人", "the site lead"),
    "survey": ("会同施工队长勘察现场（视需要）", "a joint site survey (when needed)"),
    "contact.client": ("甲方（建设单位）负责人联系方式", "the client's contact"),
    "contact.supervisor": ("监理单位负责人联系方式", "the supervisor's contact"),
    "paperwork.equipment_certificates": ("设备合格证", "equipment certificates"),
    "paperwork.material_certificates": ("辅料合格证", "auxiliary material certificates"),
    "paperwork.crew_ids": ("施工队长及施工人员证件", "IDs of the foreman and the crew"),
    "paperwork.commencement_report": ("《工程开工报审表》", "the commencement report form (工程开工报审表)"),
    "works_start": ("开工", "the start of works"),
    "precondition.scope_complete": (
        "完成工程设计和合同约定的各项内容",
        "the design and contract scope completed",
    ),
    "precondition.self_inspection": ("施工单位完工自检", "the contractor's self-inspection"),
    "precondition.rectifications_closed": (
        "主管部门及监理责令整改的问题全部整改完毕",
        "every rectification ordered by the authorities or supervisor closed",
    ),
    "precondition.archives_complete": (
        "完整的技术档案和施工管理资料",
        "complete technical and management archives",
    ),
    "step.self_check": ("我方自检验收合格", "our self-check"),
    "step.application": (
        "施工工长向监理、建设单位提交验收申请",
        "the foreman's application to the supervisor and client",
    ),
    "step.supervisor_signed": ("监理单位验收合格并签字盖章", "the supervisor's signature and stamp"),
    "step.client_signed": (
        "建设单位、设计单位签字盖章",
        "the client's and design unit's signatures and stamps",
    ),
    "step.settlement": ("向甲方提交工程结算书和付款申请表", "the settlement statement and payment request"),
    "step.archive": ("竣工资料归档", "the completion records archived"),
}


def missing(item: str) -> Missing:
    zh, en = _LABELS[item]
    return Missing(item, zh, en)


def _quotes_missing(have: int, need: int) -> Missing:
    return Missing(
        "quotes",
        f"至少 {need} 家不同安装公司的报价（已有 {have} 家）",
        f"quotes from at least {need} different installers ({have} so far)",
    )


class GateClosed(Exception):
    """A gate is not passed yet; `missing` names every item it still needs."""

    def __init__(self, project_id: str, action: str, gate: str, items: list[Missing], status: str) -> None:
        super().__init__(
            f"project {project_id}: cannot {action} yet; missing: {'; '.join(m.en for m in items)}"
        )
        self.gate = gate
        self.missing = items
        self.status = status


class IllegalTransition(Exception):
    """The project is past the stage that allows this; the message names its current status."""

    def __init__(
        self,
        project_id: str,
        current: str,
        action: str,
        allowed: tuple[str, ...] | None = None,
        why: str | None = None,
    ) -> None:
        reason = why or f"only while {', '.join(allowed or ())}"
        super().__init__(f"project {project_id} is {current}: cannot {action} ({reason})")
        self.current = current


class InvalidInput(ValueError):
    """Well-formed input the project cannot take (a date in the future, an unknown quote): a 422 naming the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class UnknownItem(LookupError):
    """A quote, material or rectification id the project does not have."""


# ----------------------------------------------------------------------------------------- records


class Recorded(BaseModel):
    """Who recorded an entry, and when: every entry of a project says it."""

    by: str
    at: datetime


class Unit(BaseModel):
    serial_no: str
    model: str


class Schedule(BaseModel):
    """施工工期: the planned start and finish of the works."""

    starts_on: date
    finishes_on: date

    @property
    def days(self) -> int:
        return (self.finishes_on - self.starts_on).days + 1

    def planned_percent(self, day: date) -> int:
        """Where the works should be on `day`, spreading the work evenly over the period."""
        if day < self.starts_on:
            return 0
        if day >= self.finishes_on:
            return 100
        return round(100 * ((day - self.starts_on).days + 1) / self.days)


class QuotedLine(BaseModel):
    """One line of an installer's itemised price list (安装报价清单), as the installer wrote it."""

    item: str
    unit: str
    quantity: Quantity
    unit_price: Money


class PriceLine(QuotedLine):
    amount: Money


class InstallerQuote(Recorded):
    quote_id: str
    installer: str
    installer_key: str
    contracting_mode: ContractingMode
    items: list[PriceLine]
    total: Money
    scope: str
    drawings_signed_off: bool
    schedule: Schedule
    requirements: str
    payment_terms: str
    maintenance_terms: str
    quoted_on: date


class Decision(Recorded):
    quote_id: str
    installer: str
    reason: str


class InstallerContract(Recorded):
    contract_no: str
    quote_id: str
    installer: str
    signed_on: date
    amount: Money
    schedule: Schedule
    document: str | None = None


class Person(Recorded):
    name: str
    title: str | None = None
    phone: str | None = None


class Survey(Recorded):
    surveyed_on: date
    participants: list[str]
    findings: str
    obstacle_plan: str


class Paperwork(Recorded):
    document: str
    submitted_on: date
    note: str = ""


class Progress(Recorded):
    on: date
    percent_complete: int = Field(ge=0, le=100)
    work_done: str
    note: str = ""


class Inspection(Recorded):
    """The supervisor's inspection of material on site (材料进场报验)."""

    result: Literal["accepted", "rejected"]
    inspected_by: str
    inspected_on: date
    document: str
    note: str = ""


class MaterialUse(Recorded):
    quantity: Quantity
    used_on: date
    location: str


class Material(Recorded):
    material_id: str
    name: str
    spec: str = ""
    quantity: Quantity
    unit: str
    certificate: str
    state: MaterialState = "declared"
    inspection: Inspection | None = None
    uses: list[MaterialUse] = Field(default_factory=list)

    @property
    def used(self) -> Decimal:
        return sum((u.quantity for u in self.uses), Decimal(0))


class Instruction(Recorded):
    """An instruction of the client (建设单位指令), followed as §二.3.2(1) requires."""

    instruction_id: str
    received_on: date
    given_by: str
    instruction: str
    document: str | None = None
    action_taken: str = ""


class Rectification(Recorded):
    rectification_id: str
    ordered_by: Orderer
    ordered_on: date
    issue: str
    document: str | None = None
    closed_on: date | None = None
    closure_document: str | None = None
    closed_by: str | None = None

    @property
    def is_open(self) -> bool:
        return self.closed_on is None


class PreconditionMet(Recorded):
    condition: Condition
    met_on: date
    document: str
    note: str = ""


class AcceptanceStep(Recorded):
    step: Step
    done_on: date
    document: str
    performed_by: str | None = None
    note: str = ""
    design_unit_document: str | None = None
    payment_request: str | None = None
    amount: Money | None = None


class HistoryEntry(BaseModel):
    at: datetime
    by: str
    action: str
    detail: str


# ----------------------------------------------------------------------------------------- the project


@dataclass(frozen=True)
class GateState:
    gate: str
    zh: str
    en: str
    passed: bool
    passed_at: datetime | None
    missing: tuple[Missing, ...]
    optional: bool = False


def installer_key(name: str) -> str:
    """One company, however typed: full-width letters, spaces and case do not make a second installer."""
    return "".join(unicodedata.normalize("NFKC", name).split()).casefold()


class Project(BaseModel):
    project_id: str
    status: Status = "sourcing"
    client: str
    site: str
    supervisor: str = Field(description="The supervision unit (监理单位).")
    design_unit: str | None = None
    units: list[Unit]
    contract_value: Money = Field(description="The value of the won contract with the client. A price.")
    bid_won_on: date
    note: str = ""
    opened_by: str
    opened_at: datetime
    quotes: list[InstallerQuote] = Field(default_factory=list)
    submitted_at: datetime | None = None
    decision: Decision | None = None
    contract: InstallerContract | None = None
    site_lead: Person | None = None
    surveys: list[Survey] = Field(default_factory=list)
    contacts: dict[str, Person] = Field(default_factory=dict)
    paperwork: dict[str, Paperwork] = Field(default_factory=dict)
    works_started_on: date | None = None
    progress: list[Progress] = Field(default_factory=list)
    materials: list[Material] = Field(default_factory=list)
    instructions: list[Instruction] = Field(default_factory=list)
    rectifications: list[Rectification] = Field(default_factory=list)
    preconditions: dict[str, PreconditionMet] = Field(default_factory=dict)
    steps: list[AcceptanceStep] = Field(default_factory=list)
    accepted_on: date | None = None
    maintenance_visits: list[PlannedVisit] = Field(
        default_factory=list, description="Planned visits within the maintenance year (§二.3.4.1 正常保养)."
    )
    milestones: dict[str, datetime] = Field(default_factory=dict, description="Gate passed → when.")
    history: list[HistoryEntry] = Field(default_factory=list)

    # ------------------------------------------------------------------ derived views

    @property
    def installers(self) -> list[str]:
        """The distinct installers that quoted, in the order they first did."""
        seen: dict[str, str] = {}
        for q in self.quotes:
            seen.setdefault(q.installer_key, q.installer)
        return list(seen.values())

    @property
    def open_rectifications(self) -> list[Rectification]:
        return [r for r in self.rectifications if r.is_open]

    def step(self, step: str) -> AcceptanceStep | None:
        return next((s for s in self.steps if s.step == step), None)

    def quote(self, quote_id: str) -> InstallerQuote:
        for q in self.quotes:
            if q.quote_id == quote_id:
                return q
        raise UnknownItem(f"project {self.project_id} has no quote {quote_id}")

    def material(self, material_id: str) -> Material:
        for m in self.materials:
            if m.material_id == material_id:
                return m
        raise UnknownItem(f"project {self.project_id} has no material {material_id}")

    def rectification(self, rectification_id: str) -> Rectification:
        for r in self.rectifications:
            if r.rectification_id == rectification_id:
                return r
        raise UnknownItem(f"project {self.project_id} has no rectification {rectification_id}")

    def gate_missing(self, gate: str, min_installers: int | None) -> list[Missing]:
        """What `gate` still needs (nothing once it is passed).

        `min_installers` is configuration the project does not keep; where it is not at hand (a move
        far ahead of its time) the quotes gate names only its submission, which needs the quotes.
        """
        if gate in self.milestones:
            return []
        match gate:
            case "quotes_complete":
                have = len(self.installers)
                short = (
                    [_quotes_missing(have, min_installers)]
                    if min_installers and have < min_installers
                    else []
                )
                return [*short, missing("submission")]
            case "installer_chosen":
                return [missing("decision")]
            case "contract_signed":
                return [missing("contract")]
            case "site_lead_named":
                return [missing("site_lead")]
            case "survey_done":
                return [missing("survey")]
            case "contacts_recorded":
                return [missing(f"contact.{p}") for p in PARTIES if p not in self.contacts]
            case "paperwork_complete":
                return [missing(f"paperwork.{i}") for i in PAPERWORK if i not in self.paperwork]
            case "works_started":
                return [missing("works_start")]
            case "preconditions_met":
                return [missing(f"precondition.{c}") for c in CONDITIONS if c not in self.preconditions]
        for step, name in STEP_GATE.items():
            if name == gate:
                items = [missing(f"step.{step}")]
                if STEPS.index(step) <= STEPS.index(ACCEPTING_STEP):
                    items += [self._open_rectification_missing(r) for r in self.open_rectifications]
                return items
        raise KeyError(gate)

    @staticmethod
    def _open_rectification_missing(r: Rectification) -> Missing:
        return Missing(
            f"rectification.{r.rectification_id}",
            f"整改 {r.rectification_id} 未完成：{r.issue}",
            f"rectification {r.rectification_id} still open: {r.issue}",
        )

    def gates(self, min_installers: int) -> list[GateState]:
        """Every gate in order, passed or not, with what each still needs: the console's checklist."""
        out = []
        for gate, zh, en, optional in GATES:
            zh = zh.replace("{n}", str(min_installers))
            en = en.replace("{n}", str(min_installers))
            items = (
                [] if optional and gate not in self.milestones else self.gate_missing(gate, min_installers)
            )
            passed_at = self.milestones.get(gate)
            out.append(GateState(gate, zh, en, passed_at is not None, passed_at, tuple(items), optional))
        return out

    # ------------------------------------------------------------------ guards

    def _need(self, action: str, *gates: str) -> None:
        """Refuse `action` unless every gate named is passed; the refusal lists everything missing."""
        closed = [g for g in gates if g not in self.milestones]
        if closed:
            items = [m for g in closed for m in self.gate_missing(g, None)]
            raise GateClosed(self.project_id, action, closed[0], items, self.status)

    def _stage(self, action: str, *allowed: Status) -> None:
        if self.status not in allowed:
            raise IllegalTransition(self.project_id, self.status, action, allowed)

    def _log(self, by: str, now: datetime, action: str, detail: str) -> None:
        self.history.append(HistoryEntry(at=now, by=by, action=action, detail=detail))

    def _milestone(self, name: str, detail: str, by: str, now: datetime) -> Event:
        self.milestones[name] = now
        return (
            "project.milestone",
            ProjectMilestone(project_id=self.project_id, milestone=name, detail=detail, by=by),
        )

    @staticmethod
    def _not_future(field: str, day: date, now: datetime) -> None:
        if day > china_today(now):
            raise InvalidInput(field, f"{day} is in the future; record it when it has happened")

    # ------------------------------------------------------------------ R-EN-1: installers

    def add_quote(
        self,
        *,
        installer: str,
        contracting_mode: ContractingMode,
        items: list[QuotedLine],
        scope: str,
        drawings_signed_off: bool,
        schedule: Schedule,
        requirements: str,
        payment_terms: str,
        maintenance_terms: str,
        quoted_on: date,
        by: str,
        now: datetime,
    ) -> list[Event]:
        """An installer's quote (报价): mode, itemised prices, scope, schedule, terms. No event: prices stay here."""
        self._stage("add a quote", "sourcing")
        self._not_future("quoted_on", quoted_on, now)
        if not items:
            raise InvalidInput("items", "a quote needs its itemised price list")
        lines = [
            PriceLine(
                item=i.item,
                unit=i.unit,
                quantity=i.quantity,
                unit_price=i.unit_price,
                amount=(i.quantity * i.unit_price).quantize(_CENT, rounding=ROUND_HALF_UP),
            )
            for i in items
        ]
        quote_id = f"Q-{len(self.quotes) + 1}"
        self.quotes.append(
            InstallerQuote(
                quote_id=quote_id,
                installer=installer,
                installer_key=installer_key(installer),
                contracting_mode=contracting_mode,
                items=lines,
                total=sum((line.amount for line in lines), Decimal(0)),
                scope=scope,
                drawings_signed_off=drawings_signed_off,
                schedule=schedule,
                requirements=requirements,
                payment_terms=payment_terms,
                maintenance_terms=maintenance_terms,
                quoted_on=quoted_on,
                by=by,
                at=now,
            )
        )
        self._log(by, now, "quote_added", f"报价 {quote_id}：{installer} / quote {quote_id} from {installer}")
        return []

    def submit_for_decision(self, *, min_installers: int, by: str, now: datetime) -> list[Event]:
        """呈报公司高层: only with quotes from `min_installers` different installers; the comparison goes with it."""
        self._stage("submit the quotes to management", "sourcing")
        have = len(self.installers)
        if have < min_installers:
            raise GateClosed(
                self.project_id,
                "submit the quotes to management",
                "quotes_complete",
                [_quotes_missing(have, min_installers)],
                self.status,
            )
        self.status = "awaiting_decision"
        self.submitted_at = now
        names = "、".join(self.installers)
        self._log(
            by, now, "submitted", f"{have} 家报价呈报高层 / {have} installers' quotes submitted: {names}"
        )
        return [
            self._milestone(
                "quotes_complete",
                f"{have} 家安装公司报价已比价呈报 / {have} installers quoted: {names}",
                by,
                now,
            )
        ]

    def decide(self, *, quote_id: str, reason: str, by: str, now: datetime) -> list[Event]:
        """Management's final decision: the chosen quote and why (§二.3.1(1) 呈报公司高层作最终决定)."""
        self._need("decide", "quotes_complete")
        self._stage("decide", "awaiting_decision")
        try:
            chosen = self.quote(quote_id)
        except UnknownItem as exc:
            raise InvalidInput("quote_id", f"no quote {quote_id} on this project") from exc
        self.decision = Decision(quote_id=quote_id, installer=chosen.installer, reason=reason, by=by, at=now)
        self.status = "contracting"
        self._log(by, now, "installer_chosen", f"选定 {quote_id} {chosen.installer}：{reason}")
        return [self._milestone("installer_chosen", f"{quote_id} {chosen.installer}：{reason}", by, now)]

    def record_contract(
        self,
        *,
        contract_no: str,
        signed_on: date,
        amount: Decimal | None,
        schedule: Schedule | None,
        document: str | None,
        by: str,
        now: datetime,
    ) -> list[Event]:
        """The contract with the chosen installer; amount and schedule are the quote's unless negotiated."""
        self._need("record the contract", "quotes_complete", "installer_chosen")
        self._stage("record the contract", "contracting")
        self._not_future("signed_on", signed_on, now)
        assert self.decision is not None
        chosen = self.quote(self.decision.quote_id)
        self.contract = InstallerContract(
            contract_no=contract_no,
            quote_id=chosen.quote_id,
            installer=chosen.installer,
            signed_on=signed_on,
            amount=chosen.total if amount is None else amount,
            schedule=schedule or chosen.schedule,
            document=document,
            by=by,
            at=now,
        )
        self.status = "preparing"
        self._log(by, now, "contract_signed", f"合同 {contract_no}：{chosen.installer}")
        return [
            self._milestone(
                "contract_signed",
                f"合同 {contract_no} / contract {contract_no} with {chosen.installer}",
                by,
                now,
            )
        ]

    # ------------------------------------------------------------------ R-EN-2: before works

    def name_site_lead(
        self, *, name: str, title: str | None, phone: str | None, by: str, now: datetime
    ) -> list[Event]:
        """施工现场项目负责人; naming another later replaces them (the history keeps who it was)."""
        self._need("name the site lead", "contract_signed")
        self._stage("name the site lead", *AFTER_CONTRACT)
        previous = self.site_lead.name if self.site_lead else None
        self.site_lead = Person(name=name, title=title, phone=phone, by=by, at=now)
        self._log(
            by, now, "site_lead_named", f"现场负责人 {name}" + (f"（接替 {previous}）" if previous else "")
        )
        if "site_lead_named" in self.milestones:
            return []
        return [self._milestone("site_lead_named", f"现场负责人 {name} / site lead {name}", by, now)]

    def record_survey(
        self,
        *,
        surveyed_on: date,
        participants: list[str],
        findings: str,
        obstacle_plan: str,
        by: str,
        now: datetime,
    ) -> list[Event]:
        """A joint site survey with the foreman (optional): what was found and the plan for obstacles."""
        self._need("record a site survey", "contract_signed")
        self._stage("record a site survey", "preparing")
        self._not_future("surveyed_on", surveyed_on, now)
        self.surveys.append(
            Survey(
                surveyed_on=surveyed_on,
                participants=participants,
                findings=findings,
                obstacle_plan=obstacle_plan,
                by=by,
                at=now,
            )
        )
        self._log(by, now, "survey_recorded", f"现场勘察 {surveyed_on}：{findings}")
        if "survey_done" in self.milestones:
            return []
        return [self._milestone("survey_done", f"{surveyed_on} 会同勘察现场 / joint site survey", by, now)]

    def record_contact(
        self, *, party: Party, name: str, title: str | None, phone: str | None, by: str, now: datetime
    ) -> list[Event]:
        """The person to work with at the client (甲方) or the supervisor (监理); a later one replaces them."""
        self._need("record a contact", "contract_signed")
        self._stage("record a contact", *AFTER_CONTRACT)
        self.contacts[party] = Person(name=name, title=title, phone=phone, by=by, at=now)
        self._log(by, now, "contact_recorded", f"{'甲方' if party == 'client' else '监理'}联系人 {name}")
        if "contacts_recorded" in self.milestones or any(p not in self.contacts for p in PARTIES):
            return []
        return [
            self._milestone(
                "contacts_recorded", "甲方、监理联系人已确定 / client and supervisor contacts in", by, now
            )
        ]

    def record_paperwork(
        self, *, item: PaperworkItem, document: str, submitted_on: date, note: str, by: str, now: datetime
    ) -> list[Event]:
        """One item of the entry paperwork submitted to the supervisor; a corrected one replaces it."""
        self._need("record entry paperwork", "contract_signed")
        self._stage("record entry paperwork", "preparing")
        self._not_future("submitted_on", submitted_on, now)
        self.paperwork[item] = Paperwork(
            document=document, submitted_on=submitted_on, note=note, by=by, at=now
        )
        self._log(by, now, "paperwork_recorded", f"{missing('paperwork.' + item).zh}：{document}")
        if "paperwork_complete" in self.milestones or any(i not in self.paperwork for i in PAPERWORK):
            return []
        return [
            self._milestone(
                "paperwork_complete", "进场手续已齐全并报监理 / entry paperwork complete", by, now
            )
        ]

    def start_works(self, *, started_on: date, by: str, now: datetime) -> list[Event]:
        """开工: only with the contract, the site lead, both contacts and every item of the entry paperwork."""
        self._need(
            "start the works",
            "quotes_complete",
            "installer_chosen",
            "contract_signed",
            "site_lead_named",
            "contacts_recorded",
            "paperwork_complete",
        )
        self._stage("start the works", "preparing")
        self._not_future("started_on", started_on, now)
        assert self.contract is not None
        if started_on < self.contract.signed_on:
            raise InvalidInput("started_on", f"before the contract was signed ({self.contract.signed_on})")
        self.works_started_on = started_on
        self.status = "in_works"
        self._log(by, now, "works_started", f"{started_on} 开工")
        return [self._milestone("works_started", f"{started_on} 开工 / works started", by, now)]

    # ------------------------------------------------------------------ R-EN-3: during works

    def record_progress(
        self, *, on: date, percent_complete: int, work_done: str, note: str, by: str, now: datetime
    ) -> list[Event]:
        """Progress against the contract's schedule (§二.3.2(3))."""
        self._need("record progress", "works_started")
        self._stage("record progress", *DURING_WORKS)
        self._not_future("on", on, now)
        assert self.works_started_on is not None
        if on < self.works_started_on:
            raise InvalidInput("on", f"before the works started ({self.works_started_on})")
        self.progress.append(
            Progress(on=on, percent_complete=percent_complete, work_done=work_done, note=note, by=by, at=now)
        )
        self._log(by, now, "progress", f"{on} 完成 {percent_complete}%：{work_done}")
        return []

    def declare_material(
        self, *, name: str, spec: str, quantity: Decimal, unit: str, certificate: str, by: str, now: datetime
    ) -> list[Event]:
        """Material arrived on site and declared to the supervisor (申报) with its certificate."""
        self._need("declare material", "contract_signed")
        self._stage("declare material", *AFTER_CONTRACT)
        material_id = f"M-{len(self.materials) + 1}"
        self.materials.append(
            Material(
                material_id=material_id,
                name=name,
                spec=spec,
                quantity=quantity,
                unit=unit,
                certificate=certificate,
                by=by,
                at=now,
            )
        )
        self._log(
            by,
            now,
            "material_declared",
            f"{material_id} {name} {spec} × {_quantity_text(quantity)}{unit} 进场报验",
        )
        return []

    def inspect_material(
        self,
        *,
        material_id: str,
        result: Literal["accepted", "rejected"],
        inspected_by: str,
        inspected_on: date,
        document: str,
        note: str,
        by: str,
        now: datetime,
    ) -> list[Event]:
        """The supervisor's verdict on declared material (§二.3.2(2)); only accepted material may be used."""
        self._stage("record the supervisor's material inspection", *AFTER_CONTRACT)
        material = self.material(material_id)
        if material.state != "declared" and material.inspection is not None:
            raise IllegalTransition(
                self.project_id,
                self.status,
                f"inspect material {material_id} again",
                why=f"it was {material.state} on {material.inspection.inspected_on}",
            )
        self._not_future("inspected_on", inspected_on, now)
        material.inspection = Inspection(
            result=result,
            inspected_by=inspected_by,
            inspected_on=inspected_on,
            document=document,
            note=note,
            by=by,
            at=now,
        )
        material.state = result
        self._log(
            by,
            now,
            f"material_{result}",
            f"{material_id} {material.name} 监理{'验收合格' if result == 'accepted' else '验收不合格'}（{inspected_by}）",
        )
        if result == "rejected":
            return []
        # Not a gate: each accepted batch is its own milestone, so the milestones map keeps only gates.
        return [
            (
                "project.milestone",
                ProjectMilestone(
                    project_id=self.project_id,
                    milestone="material_accepted",
                    detail=f"{material_id} {material.name} 经监理 {inspected_by} 验收合格 / accepted by the supervisor",
                    by=by,
                ),
            )
        ]

    def use_material(
        self, *, material_id: str, quantity: Decimal, used_on: date, location: str, by: str, now: datetime
    ) -> list[Event]:
        """Material put to use; refused unless the supervisor accepted it first (§二.3.2(2) 验收合格后方可使用)."""
        self._need("use material", "works_started")
        self._stage("use material", *DURING_WORKS)
        material = self.material(material_id)
        if material.state != "accepted":
            why = (
                f"监理验收不合格，不得使用 / rejected by the supervisor on {material.inspection.inspected_on}"
                if material.state == "rejected" and material.inspection
                else None
            )
            item = Missing(
                f"material.{material_id}.acceptance",
                why or f"{material_id} {material.name} 须经监理验收合格后方可使用",
                why or f"the supervisor's acceptance of {material_id} {material.name}",
            )
            raise GateClosed(
                self.project_id, f"use material {material_id}", "material_accepted", [item], self.status
            )
        self._not_future("used_on", used_on, now)
        left = material.quantity - material.used
        if quantity > left:
            raise InvalidInput(
                "quantity", f"only {_quantity_text(left)} {material.unit} of {material_id} left"
            )
        material.uses.append(
            MaterialUse(quantity=quantity, used_on=used_on, location=location, by=by, at=now)
        )
        used = f"{_quantity_text(quantity)}{material.unit}"
        self._log(by, now, "material_used", f"{material_id} {material.name} 使用 {used}：{location}")
        return []

    def record_instruction(
        self,
        *,
        received_on: date,
        given_by: str,
        instruction: str,
        document: str | None,
        action_taken: str,
        by: str,
        now: datetime,
    ) -> list[Event]:
        """An instruction of the client (建设单位指令), kept with what was done about it."""
        self._need("record a client instruction", "contract_signed")
        self._stage("record a client instruction", *AFTER_CONTRACT)
        self._not_future("received_on", received_on, now)
        instruction_id = f"I-{len(self.instructions) + 1}"
        self.instructions.append(
            Instruction(
                instruction_id=instruction_id,
                received_on=received_on,
                given_by=given_by,
                instruction=instruction,
                document=document,
                action_taken=action_taken,
                by=by,
                at=now,
            )
        )
        self._log(by, now, "instruction", f"{instruction_id} 甲方指令（{given_by}）：{instruction}")
        return []

    def order_rectification(
        self,
        *,
        ordered_by: Orderer,
        ordered_on: date,
        issue: str,
        document: str | None,
        by: str,
        now: datetime,
    ) -> list[Event]:
        """A rectification ordered by the authorities or the supervisor (责令整改); it blocks acceptance while open."""
        self._need("record a rectification order", "works_started")
        self._stage("record a rectification order", *DURING_WORKS)
        self._not_future("ordered_on", ordered_on, now)
        rectification_id = f"R-{len(self.rectifications) + 1}"
        self.rectifications.append(
            Rectification(
                rectification_id=rectification_id,
                ordered_by=ordered_by,
                ordered_on=ordered_on,
                issue=issue,
                document=document,
                by=by,
                at=now,
            )
        )
        self._log(
            by,
            now,
            "rectification_ordered",
            f"{rectification_id} {'监理' if ordered_by == 'supervisor' else '主管部门'}责令整改：{issue}",
        )
        return []

    def close_rectification(
        self, *, rectification_id: str, closed_on: date, document: str, by: str, now: datetime
    ) -> list[Event]:
        self._stage("close a rectification", *DURING_WORKS)
        r = self.rectification(rectification_id)
        if not r.is_open:
            raise IllegalTransition(
                self.project_id,
                self.status,
                f"close {rectification_id}",
                why=f"it was closed on {r.closed_on}",
            )
        self._not_future("closed_on", closed_on, now)
        if closed_on < r.ordered_on:
            raise InvalidInput("closed_on", f"before the order ({r.ordered_on})")
        r.closed_on, r.closure_document, r.closed_by = closed_on, document, by
        self._log(by, now, "rectification_closed", f"{rectification_id} 整改完毕：{document}")
        return []

    # ------------------------------------------------------------------ R-EN-4: completion

    def record_precondition(
        self, *, condition: Condition, met_on: date, document: str, note: str, by: str, now: datetime
    ) -> list[Event]:
        """One of the four conditions of completion acceptance, recorded as met; the fourth opens acceptance."""
        self._need(
            "record a precondition of acceptance",
            "quotes_complete",
            "installer_chosen",
            "contract_signed",
            "works_started",
        )
        if condition in self.preconditions:
            raise IllegalTransition(
                self.project_id,
                self.status,
                f"record {condition} again",
                why=f"it was recorded as met on {self.preconditions[condition].met_on}",
            )
        self._stage("record a precondition of acceptance", "in_works")
        self._not_future("met_on", met_on, now)
        if condition == "rectifications_closed" and self.open_rectifications:
            raise GateClosed(
                self.project_id,
                "record every rectification as closed",
                "preconditions_met",
                [self._open_rectification_missing(r) for r in self.open_rectifications],
                self.status,
            )
        self.preconditions[condition] = PreconditionMet(
            condition=condition, met_on=met_on, document=document, note=note, by=by, at=now
        )
        self._log(by, now, "precondition_met", f"{missing('precondition.' + condition).zh}：{document}")
        if any(c not in self.preconditions for c in CONDITIONS):
            return []
        self.status = "in_acceptance"
        return [
            self._milestone(
                "preconditions_met", "竣工验收四项条件均已满足 / the four preconditions are met", by, now
            )
        ]

    def record_visit(
        self, *, visit_no: int, visited_on: date, notes: str, by: str, now: datetime
    ) -> list[Event]:
        """A planned maintenance visit was made."""
        visit = next((v for v in self.maintenance_visits if v.visit_no == visit_no), None)
        if visit is None:
            raise UnknownItem(f"maintenance visit {visit_no} is not planned on {self.project_id}")
        if not visit.open:
            raise IllegalTransition(
                self.project_id,
                self.status,
                f"record maintenance visit {visit_no} again",
                why=f"made on {visit.done_on} by {visit.by}",
            )
        self._not_future("visited_on", visited_on, now)
        if self.accepted_on is not None and visited_on < self.accepted_on:
            raise InvalidInput("visited_on", f"before the acceptance on {self.accepted_on}")
        visit.done_on, visit.by, visit.notes, visit.recorded_at = visited_on, by, notes, now
        self._log(by, now, "maintenance_visit", f"第 {visit_no} 次保养回访 {visited_on}：{notes}")
        return [
            (
                "maintenance.visit_recorded",
                MaintenanceVisitRecorded(
                    project_id=self.project_id,
                    visit_no=visit_no,
                    due_on=visit.due_on,
                    visited_on=visited_on,
                    by=by,
                    notes=notes,
                ),
            )
        ]

    def attach_file(
        self, *, attachment_id: str, filename: str, kind: str, note: str, by: str, now: datetime
    ) -> list[Event]:
        """A file (a signed form, a site photo, a certificate) was added; the project's history says who
        added what and when. Files are taken at every stage, archived projects included: papers arrive
        late."""
        detail = f"附件 {filename} / file {filename} ({kind}, {attachment_id})" + (
            f"：{note}" if note else ""
        )
        self._log(by, now, "file_attached", detail)
        return []

    def check_visits(self, *, today: date, grace_days: int, now: datetime) -> list[Event]:
        """Visits not made `grace_days` after they fell due are escalated, once each."""
        events: list[Event] = []
        for v in self.maintenance_visits:
            if v.open and v.missed_at is None and today >= v.escalate_on(grace_days):
                v.missed_at = now
                events.append(
                    (
                        "maintenance.visit_missed",
                        MaintenanceVisitMissed(
                            project_id=self.project_id,
                            client=self.client,
                            site=self.site,
                            visit_no=v.visit_no,
                            due_on=v.due_on,
                            overdue_days=(today - v.due_on).days,
                        ),
                    )
                )
        return events

    def next_visit_check(self, grace_days: int) -> date | None:
        """The first day the scan has something to escalate on this project."""
        days = [v.escalate_on(grace_days) for v in self.maintenance_visits if v.open and v.missed_at is None]
        return min(days) if days else None

    def record_step(
        self,
        step: Step,
        *,
        done_on: date,
        document: str,
        performed_by: str | None,
        note: str,
        by: str,
        now: datetime,
        design_unit_document: str | None = None,
        payment_request: str | None = None,
        amount: Decimal | None = None,
        maintenance_months: int = 12,
        visit_every_months: int = 0,
    ) -> list[Event]:
        """One step of the acceptance procedure, strictly in order; the client's stamps make the acceptance,
        which plans a maintenance visit every `visit_every_months` within the maintenance year."""
        action = f"record {step}"
        self._need(
            action,
            "quotes_complete",
            "installer_chosen",
            "contract_signed",
            "works_started",
            "preconditions_met",
        )
        done = self.step(step)
        if done is not None:
            raise IllegalTransition(
                self.project_id, self.status, action, why=f"recorded on {done.done_on} by {done.by}"
            )
        index = STEPS.index(step)
        earlier = [s for s in STEPS[:index] if self.step(s) is None]
        if earlier:
            raise GateClosed(
                self.project_id,
                action,
                STEP_GATE[earlier[0]],
                [missing(f"step.{s}") for s in earlier],
                self.status,
            )
        if index <= STEPS.index(ACCEPTING_STEP) and self.open_rectifications:
            raise GateClosed(
                self.project_id,
                action,
                STEP_GATE[step],
                [self._open_rectification_missing(r) for r in self.open_rectifications],
                self.status,
            )
        self._not_future("done_on", done_on, now)
        if index > 0 and done_on < (previous := self.steps[-1]).done_on:
            raise InvalidInput("done_on", f"before the previous step, {previous.step}, on {previous.done_on}")
        if step == ACCEPTING_STEP and self.design_unit and not design_unit_document:
            raise InvalidInput(
                "design_unit_document", f"the design unit ({self.design_unit}) signs and stamps too"
            )
        if step == "settlement" and not payment_request:
            raise InvalidInput(
                "payment_request", "the settlement goes to the client with the payment request form"
            )
        self.steps.append(
            AcceptanceStep(
                step=step,
                done_on=done_on,
                document=document,
                performed_by=performed_by,
                note=note,
                design_unit_document=design_unit_document if step == ACCEPTING_STEP else None,
                payment_request=payment_request if step == "settlement" else None,
                amount=amount if step == "settlement" else None,
                by=by,
                at=now,
            )
        )
        label = missing(f"step.{step}")
        self._log(by, now, STEP_GATE[step], f"{label.zh}：{document}")
        detail = f"{done_on} {label.zh}（{document}） / {label.en}"
        events = [self._milestone(STEP_GATE[step], detail, by, now)]
        if step == ACCEPTING_STEP:
            self.status, self.accepted_on = "accepted", done_on
            self.maintenance_visits = plan_visits(
                done_on, maintenance_months=maintenance_months, every_months=visit_every_months
            )
            # R-EN-5: acceptance starts the equipment and installation-maintenance clocks in warranty.
            events.append(
                (
                    "installation.accepted",
                    InstallationAccepted(
                        project_id=self.project_id,
                        client=self.client,
                        site=self.site,
                        accepted_on=done_on,
                        units=[InstalledUnit(serial_no=u.serial_no, model=u.model) for u in self.units],
                    ),
                )
            )
        elif step == "archive":
            self.status = "archived"
        return events


GATES: tuple[tuple[str, str, str, bool], ...] = (
    (
        "quotes_complete",
        "至少 {n} 家安装公司报价、比价并呈报高层",
        "Quotes from at least {n} different installers, compared and submitted to management",
        False,
    ),
    ("installer_chosen", "公司高层选定安装公司", "Management chose the installer", False),
    ("contract_signed", "与安装公司签订合同", "Contract signed with the installer", False),
    ("site_lead_named", "确定施工现场项目负责人", "Site lead named", False),
    ("survey_done", "会同施工队长勘察现场（视需要）", "Joint site survey (when needed)", True),
    ("contacts_recorded", "与甲方、监理负责人建立联系", "Contacts at the client and the supervisor", False),
    ("paperwork_complete", "向监理申报进场手续", "Entry paperwork submitted to the supervisor", False),
    ("works_started", "开工", "Works started", False),
    ("preconditions_met", "竣工验收四项条件", "The four preconditions of completion acceptance", False),
    ("acceptance_self_check", "我方自检验收合格", "Self-check passed", False),
    (
        "acceptance_application",
        "施工工长提交验收申请",
        "Foreman's application to the supervisor and client",
        False,
    ),
    ("acceptance_supervisor_signed", "监理单位验收合格签字盖章", "Supervisor signed and stamped", False),
    (
        "acceptance_client_signed",
        "建设单位、设计单位签字盖章（验收合格）",
        "Client and design unit signed and stamped (accepted)",
        False,
    ),
    (
        "acceptance_settlement",
        "提交工程结算书和付款申请表",
        "Settlement statement and payment request submitted",
        False,
    ),
    ("archived", "竣工资料归档", "Completion records archived", False),
)


def open_project(
    *,
    project_id: str,
    client: str,
    site: str,
    supervisor: str,
    design_unit: str | None,
    units: list[Unit],
    contract_value: Decimal,
    bid_won_on: date,
    note: str,
    by: str,
    now: datetime,
) -> tuple[Project, list[Event]]:
    """A won bid becomes a project (中标立项); project.opened tells the others, without the contract value."""
    if not units:
        raise InvalidInput("units", "the equipment list needs at least one unit with its serial number")
    seen: set[str] = set()
    for u in units:
        if u.serial_no in seen:
            raise InvalidInput("units", f"serial number {u.serial_no} appears twice")
        seen.add(u.serial_no)
    if bid_won_on > china_today(now):
        raise InvalidInput("bid_won_on", f"{bid_won_on} is in the future")
    project = Project(
        project_id=project_id,
        client=client,
        site=site,
        supervisor=supervisor,
        design_unit=design_unit,
        units=units,
        contract_value=contract_value,
        bid_won_on=bid_won_on,
        note=note,
        opened_by=by,
        opened_at=now,
    )
    project._log(
        by, now, "opened", f"中标立项：{client}，{len(units)} 台设备 / opened: {client}, {len(units)} units"
    )
    opened = ProjectOpened(
        project_id=project_id,
        client=client,
        site=site,
        supervisor=supervisor,
        design_unit=design_unit,
        units=[InstalledUnit(serial_no=u.serial_no, model=u.model) for u in units],
        opened_by=by,
    )
    return project, [("project.opened", opened)]
