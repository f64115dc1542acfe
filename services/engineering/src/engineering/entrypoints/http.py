"""Engineering's HTTP API: projects from won bid to archived acceptance, their gates, installation complaints."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, HTTPException, Path, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

from engineering import bootstrap
from engineering.config import EngineeringSettings
from engineering.domain.access import ACTORS, DECIDERS, READERS, for_role
from engineering.domain.case_work import InstallationCase
from engineering.domain.periods import maintenance_months, maintenance_year_end
from engineering.domain.project import (
    STATUSES,
    Condition,
    ContractingMode,
    GateClosed,
    IllegalTransition,
    InvalidInput,
    Orderer,
    PaperworkItem,
    Party,
    Project,
    QuotedLine,
    Schedule,
    Unit,
    UnknownItem,
)
from engineering.domain.views import checklist_view, comparison_view, project_view, summary_view
from engineering.handlers import (
    CaseNotFound,
    Engineering,
    ProjectExists,
    ProjectNotFound,
    UnitsInstalledElsewhere,
    change_project,
    create_project,
    get_project,
    record_maintenance,
)
from shared.attachments import MAX_BYTES, UPLOAD_OVERHEAD_BYTES
from shared.contracts.ids import CaseId
from shared.http.app import JsonRoute
from shared.http.auth import Principal, require_roles
from shared.http.commands import IdempotencyKey, change_key
from shared.http.paging import Page, PageSize
from shared.periods import china_today
from shared.reference import canonical_product, normalise_phone, normalise_serial
from shared.service import service_app

PROJECT_ID = r"^P-\d{4}-\d{3,6}$"
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
DocRef = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=500)]
UnitOfMeasure = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)]
MoneyIn = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]
QuantityIn = Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=3)]
ProjectId = Annotated[str, Path(pattern=PROJECT_ID, description="The project number, P-<year>-<nnn>")]
CaseIdPath = Annotated[CaseId, Path(description="The case number, YD-…")]

Reader = Annotated[Principal, require_roles(*READERS)]
Actor = Annotated[Principal, require_roles(*ACTORS)]
Decider = Annotated[Principal, require_roles(*DECIDERS)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _phone(value: str | None) -> str | None:
    return normalise_phone(value) if value else None


class UnitIn(Body):
    serial_no: Annotated[str, StringConstraints(max_length=60)]
    model: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]

    @field_validator("serial_no")
    @classmethod
    def _serial(cls, value: str) -> str:
        return normalise_serial(value)

    @field_validator("model")
    @classmethod
    def _model(cls, value: str) -> str:
        product = canonical_product(value)
        return product.model if product else value.upper()


class ProjectIn(Body):
    project_id: Annotated[str, StringConstraints(pattern=PROJECT_ID)] | None = Field(
        default=None, description="The company's own project number, P-<year>-<nnn>; drawn when absent."
    )
    client: Name = Field(description="甲方（建设单位） / the client.")
    site: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    supervisor: Name = Field(description="监理单位 / the supervision unit.")
    design_unit: Name | None = Field(
        default=None, description="设计单位 / the design unit, when there is one."
    )
    units: list[UnitIn] = Field(
        min_length=1, max_length=2000, description="The equipment list: model and serial."
    )
    contract_value: MoneyIn = Field(
        description="The won contract's value (CNY); engineering and management see it."
    )
    bid_won_on: date | None = Field(default=None, description="中标日期; today when absent.")
    note: Note = ""

    @field_validator("project_id", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("units")
    @classmethod
    def _distinct(cls, units: list[UnitIn]) -> list[UnitIn]:
        seen: set[str] = set()
        for u in units:
            if u.serial_no in seen:
                raise ValueError(f"serial number {u.serial_no} appears twice")
            seen.add(u.serial_no)
        return units


class ScheduleIn(Body):
    starts_on: date
    finishes_on: date

    @field_validator("finishes_on")
    @classmethod
    def _after_start(cls, value: date, info: ValidationInfo) -> date:
        start = info.data.get("starts_on")
        if start and value < start:
            raise ValueError(f"before the start ({start})")
        return value

    def to_domain(self) -> Schedule:
        return Schedule(starts_on=self.starts_on, finishes_on=self.finishes_on)


class PriceLineIn(Body):
    item: Name
    unit: UnitOfMeasure = Field(description="台, 米, 项, m² …")
    quantity: QuantityIn
    unit_price: MoneyIn


class QuoteIn(Body):
    installer: Name = Field(description="The installation company (安装公司/施工队).")
    contracting_mode: ContractingMode = Field(description="包工包料 / 包工不包料 / 包工包辅料")
    items: list[PriceLineIn] = Field(min_length=1, max_length=500, description="安装报价清单, line by line.")
    scope: Text = Field(description="施工范围.")
    drawings_signed_off: bool = Field(description="施工图纸已确认签字.")
    schedule: ScheduleIn = Field(description="施工工期.")
    requirements: Text = Field(description="施工安装要求.")
    payment_terms: Text = Field(description="付款方式.")
    maintenance_terms: Text = Field(description="工程售后维护、维修.")
    quoted_on: date | None = Field(default=None, description="Today when absent.")


class DecisionIn(Body):
    quote_id: Annotated[str, StringConstraints(pattern=r"^Q-\d+$")]
    reason: Reason


class ContractIn(Body):
    contract_no: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
    signed_on: date
    amount: MoneyIn | None = Field(default=None, description="The chosen quote's total when absent.")
    schedule: ScheduleIn | None = Field(default=None, description="The chosen quote's schedule when absent.")
    document: DocRef | None = None


class PersonIn(Body):
    name: Name
    title: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = None
    phone: Annotated[str, StringConstraints(max_length=30)] | None = None

    @field_validator("phone")
    @classmethod
    def _normalised(cls, value: str | None) -> str | None:
        return _phone(value)


class SurveyIn(Body):
    surveyed_on: date
    participants: list[Name] = Field(min_length=1, max_length=50)
    findings: Text = Field(description="现场状况.")
    obstacle_plan: Text = Field(description="障碍物件的处理方案.")


class PaperworkIn(Body):
    document: DocRef
    submitted_on: date
    note: Note = ""


class WorksStartIn(Body):
    started_on: date


class ProgressIn(Body):
    on: date
    percent_complete: int = Field(ge=0, le=100)
    work_done: Text
    note: Note = ""


class MaterialIn(Body):
    name: Name
    spec: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""
    quantity: QuantityIn
    unit: UnitOfMeasure
    certificate: DocRef = Field(description="合格证 of the batch.")


class InspectionIn(Body):
    result: Literal["accepted", "rejected"] = "accepted"
    inspected_by: Name = Field(description="The supervisor's inspector (监理).")
    inspected_on: date
    document: DocRef = Field(description="材料进场报验单.")
    note: Note = ""


class MaterialUseIn(Body):
    quantity: QuantityIn
    used_on: date
    location: Text


class InstructionIn(Body):
    received_on: date
    given_by: Name
    instruction: Text
    document: DocRef | None = None
    action_taken: Note = ""


class RectificationIn(Body):
    ordered_by: Orderer = Field(description="supervisor (监理) or authority (建设主管部门).")
    ordered_on: date
    issue: Text
    document: DocRef | None = None


class ClosureIn(Body):
    closed_on: date
    document: DocRef


class PreconditionIn(Body):
    met_on: date
    document: DocRef
    note: Note = ""


class StepIn(Body):
    done_on: date | None = Field(default=None, description="Today when absent.")
    document: DocRef
    performed_by: Name | None = Field(
        default=None, description="Who did it: the foreman, the supervisor's signatory …"
    )
    note: Note = ""
    design_unit_document: DocRef | None = Field(
        default=None, description="client_signed only: the design unit's signed and stamped form."
    )


class SettlementIn(Body):
    done_on: date | None = None
    statement: DocRef = Field(description="工程结算书.")
    payment_request: DocRef = Field(description="付款申请表.")
    amount: MoneyIn | None = Field(
        default=None, description="The settled amount; engineering and management see it."
    )
    note: Note = ""


class ArchiveIn(Body):
    done_on: date | None = None
    document: DocRef = Field(description="The archive reference or location (档案号).")
    note: Note = ""


class VisitIn(Body):
    visited_on: date
    notes: Note = ""


class MaintenanceIn(Body):
    work_done: Text
    done_on: date
    note: Note = ""


# ------------------------------------------------------------------------------------------- plumbing


def _e(request: Request) -> Engineering:
    return request.app.state.runtime.components["engineering"]


def _now(request: Request) -> datetime:
    return _e(request).clock()


def _gate_refused(exc: GateClosed) -> HTTPException:
    return HTTPException(
        status.HTTP_409_CONFLICT,
        detail={
            "message": str(exc),
            "gate": exc.gate,
            "status": exc.status,
            "missing": [{"item": m.item, "zh": m.zh, "en": m.en} for m in exc.missing],
        },
    )


async def _change(
    request: Request,
    project_id: str,
    principal: Principal,
    idempotency_key: str | None,
    body: BaseModel | None,
    operation: Any,
    *,
    result_of: Any = None,
) -> Project:
    project, _ = await _changed(
        request, project_id, principal, idempotency_key, body, operation, result_of=result_of
    )
    return project


async def _changed(
    request: Request,
    project_id: str,
    principal: Principal,
    idempotency_key: str | None,
    body: BaseModel | None,
    operation: Any,
    *,
    result_of: Any = None,
) -> tuple[Project, Any]:
    """A command on a project: the domain's refusals become 409/422/404; a retry under the same
    Idempotency-Key answers as the first attempt."""
    key = change_key(principal, idempotency_key, action=f"{request.method} {request.url.path}", body=body)
    try:
        return await change_project(_e(request), project_id, operation, key=key, result_of=result_of)
    except GateClosed as exc:
        raise _gate_refused(exc) from exc
    except IllegalTransition as exc:
        detail = {"message": str(exc), "current_status": exc.current}
        raise HTTPException(status.HTTP_409_CONFLICT, detail=detail) from exc
    except InvalidInput as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from exc
    except (ProjectNotFound, UnknownItem) as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from exc


async def _project(request: Request, project_id: str) -> Project:
    try:
        return await get_project(_e(request), project_id)
    except ProjectNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from exc


def _case_summary(case: InstallationCase) -> dict[str, Any]:
    return {
        "case_id": case.case_id,
        "serial_no": case.serial_no,
        "linked_via": case.linked_via,
        "description": case.description,
        "received_at": case.received_at,
        "maintenance": len(case.maintenance),
    }


async def _view(request: Request, project: Project, principal: Principal) -> dict[str, Any]:
    e = _e(request)
    cases, _ = await e.case_queries.find({"project_id": project.project_id}, skip=0, limit=200)
    return project_view(
        project,
        role=principal.role,
        min_installers=e.min_installers,
        today=china_today(_now(request)),
        cases=[_case_summary(c) for c in cases],
    )


def _day(value: date | None, request: Request) -> date:
    return value or china_today(_now(request))


# ------------------------------------------------------------------------------------------- projects

projects = APIRouter(prefix="/v1/projects", tags=["projects"], route_class=JsonRoute)


@projects.post(
    "", status_code=201, summary="中标立项: open a project for a won bid (publishes project.opened)"
)
async def open_(
    request: Request, body: ProjectIn, principal: Actor, idempotency_key: IdempotencyKey = None
) -> dict[str, Any]:
    try:
        project = await create_project(
            _e(request),
            project_id=body.project_id,
            client=body.client,
            site=body.site,
            supervisor=body.supervisor,
            design_unit=body.design_unit,
            units=[Unit(serial_no=u.serial_no, model=u.model) for u in body.units],
            contract_value=body.contract_value,
            bid_won_on=body.bid_won_on,
            note=body.note,
            by=principal.id,
            key=change_key(principal, idempotency_key, action="open project", body=body),
        )
    except InvalidInput as exc:
        raise HTTPException(422, detail=str(exc)) from exc
    except (ProjectExists, UnitsInstalledElsewhere) as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from exc
    return await _view(request, project, principal)


@projects.get("", summary="Projects, newest first (prices only for engineering and management)")
async def list_projects(
    request: Request,
    principal: Reader,
    status_: Annotated[Literal[STATUSES] | None, Query(alias="status")] = None,  # type: ignore[valid-type]
    serial_no: Annotated[str | None, Query(max_length=60)] = None,
    client: Annotated[str | None, Query(max_length=200)] = None,
    page: Page = 1,
    page_size: PageSize = 20,
) -> dict[str, Any]:
    e = _e(request)
    query: dict[str, Any] = {}
    if status_:
        query["status"] = status_
    if client:
        query["client"] = client.strip()
    if serial_no:
        try:
            query["serials"] = normalise_serial(serial_no)
        except ValueError as exc:
            raise HTTPException(422, detail=f"serial_no: {exc}") from exc
    found, total = await e.project_queries.find(query, skip=(page - 1) * page_size, limit=page_size)
    return {
        "items": [summary_view(p, role=principal.role, min_installers=e.min_installers) for p in found],
        "page": page,
        "page_size": page_size,
        "total": total,
    }


@projects.get("/{project_id}", summary="One project with everything recorded and its full history")
async def get_one(request: Request, project_id: ProjectId, principal: Reader) -> dict[str, Any]:
    return await _view(request, await _project(request, project_id), principal)


@projects.get("/{project_id}/checklist", summary="The gates in order: what is passed, what is still missing")
async def checklist(request: Request, project_id: ProjectId, principal: Reader) -> dict[str, Any]:
    project = await _project(request, project_id)
    return checklist_view(project, min_installers=_e(request).min_installers)


# R-EN-1 ---------------------------------------------------------------------------------------------


@projects.post("/{project_id}/quotes", status_code=201, summary="An installer's quote (R-EN-1)")
async def add_quote(
    request: Request,
    project_id: ProjectId,
    body: QuoteIn,
    principal: Actor,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    now = _now(request)
    project, quote_id = await _changed(
        request,
        project_id,
        principal,
        idempotency_key,
        body,
        lambda p: p.add_quote(
            installer=body.installer,
            contracting_mode=body.contracting_mode,
            items=[QuotedLine(**line.model_dump()) for line in body.items],
            scope=body.scope,
            drawings_signed_off=body.drawings_signed_off,
            schedule=body.schedule.to_domain(),
            requirements=body.requirements,
            payment_terms=body.payment_terms,
            maintenance_terms=body.maintenance_terms,
            quoted_on=_day(body.quoted_on, request),
            by=principal.id,
            now=now,
        ),
        result_of=lambda p: p.quotes[-1].quote_id,
    )
    return {"quote_id": quote_id, "project": await _view(request, project, principal)}


@projects.get(
    "/{project_id}/comparison", summary="The quotes side by side (比价); prices for engineering, management"
)
async def comparison(request: Request, project_id: ProjectId, principal: Reader) -> dict[str, Any]:
    project = await _project(request, project_id)
    return comparison_view(project, role=principal.role, min_installers=_e(request).min_installers)


@projects.post(
    "/{project_id}/submission", summary="呈报: submit the comparison to management (needs enough installers)"
)
async def submit(
    request: Request, project_id: ProjectId, principal: Actor, idempotency_key: IdempotencyKey = None
) -> dict[str, Any]:
    now, n = _now(request), _e(request).min_installers
    project = await _change(
        request,
        project_id,
        principal,
        idempotency_key,
        None,
        lambda p: p.submit_for_decision(min_installers=n, by=principal.id, now=now),
    )
    return await _view(request, project, principal)


@projects.post("/{project_id}/decision", summary="Management: the chosen quote and the reason")
async def decide(
    request: Request,
    project_id: ProjectId,
    body: DecisionIn,
    principal: Decider,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    now = _now(request)
    project = await _change(
        request,
        project_id,
        principal,
        idempotency_key,
        body,
        lambda p: p.decide(quote_id=body.quote_id, reason=body.reason, by=principal.id, now=now),
    )
    return await _view(request, project, principal)


@projects.post("/{project_id}/contract", summary="The contract signed with the chosen installer")
async def contract(
    request: Request,
    project_id: ProjectId,
    body: ContractIn,
    principal: Actor,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    now = _now(request)
    project = await _change(
        request,
        project_id,
        principal,
        idempotency_key,
        body,
        lambda p: p.record_contract(
            contract_no=body.contract_no,
            signed_on=body.signed_on,
            amount=body.amount,
            schedule=body.schedule.to_domain() if body.schedule else None,
            document=body.document,
            by=principal.id,
            now=now,
        ),
    )
    return await _view(request, project, principal)


# R-EN-2 ---------------------------------------------------------------------------------------------


@projects.put("/{project_id}/site-lead", summary="Name the site lead (施工现场项目负责人)")
async def site_lead(
    request: Request,
    project_id: ProjectId,
    body: PersonIn,
    principal: Actor,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    now = _now(request)
    project = await _change(
        request,
        project_id,
        principal,
        idempotency_key,
        body,
        lambda p: p.name_site_lead(
            name=body.name, title=body.title, phone=body.phone, by=principal.id, now=now
        ),
    )
    return await _view(request, project, principal)


@projects.post(
    "/{project_id}/surveys", status_code=201, summary="A joint site survey: findings, plan for obstacles"
)
async def survey(
    request: Request,
    project_id: ProjectId,
    body: SurveyIn,
    principal: Actor,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    now = _now(request)
    project = await _change(
        request,
        project_id,
        principal,
        idempotency_key,
        body,
        lambda p: p.record_survey(
            surveyed_on=body.surveyed_on,
            participants=body.participants,
            findings=body.findings,
            obstacle_plan=body.obstacle_plan,
            by=principal.id,
            now=now,
        ),
    )
    return await _view(request, project, principal)


@projects.put(
    "/{project_id}/contacts/{party}", summary="The contact at the client (甲方) or the supervisor (监理)"
)
async def contact(
    request: Request,
    project_id: ProjectId,
    party: Party,
    body: PersonIn,
    principal: Actor,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    now = _now(request)
    project = await _change(
        request,
        project_id,
        principal,
        idempotency_key,
        body,
        lambda p: p.record_contact(
            party=party, name=body.name, title=body.title, phone=body.phone, by=principal.id, now=now
        ),
    )
    return await _view(request, project, principal)


@projects.put(
    "/{project_id}/paperwork/{item}", summary="One item of the entry paperwork submitted to the supervisor"
)
async def paperwork(
    request: Request,
    project_id: ProjectId,
    item: PaperworkItem,
    body: PaperworkIn,
    principal: Actor,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    now = _now(request)
    project = await _change(
        request,
        project_id,
        principal,
        idempotency_key,
        body,
        lambda p: p.record_paperwork(
            item=item,
            document=body.document,
            submitted_on=body.submitted_on,
            note=body.note,
            by=principal.id,
            now=now,
        ),
    )
    return await _view(request, project, principal)


@projects.post("/{project_id}/works-start", summary="开工: only when every preparation item is in")
async def start_works(
    request: Request,
    project_id: ProjectId,
    body: WorksStartIn,
    principal: Actor,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    now = _now(request)
    project = await _change(
        request,
        project_id,
        principal,
        idempotency_key,
        body,
        lambda p: p.start_works(started_on=body.started_on, by=principal.id, now=now),
    )
    return await _view(request, project, principal)


# R-EN-3 ---------------------------------------------------------------------------------------------


@projects.post("/{project_id}/progress", status_code=201, summary="Progress against the contract's schedule")
async def progress(
    request: Request,
    project_id: ProjectId,
    body: ProgressIn,
    principal: Actor,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    now = _now(request)
    project = await _change(
        request,
        project_id,
        principal,
        idempotency_key,
        body,
        lambda p: p.record_progress(
            on=body.on,
            percent_complete=body.percent_complete,
            work_done=body.work_done,
            note=body.note,
            by=principal.id,
            now=now,
        ),
    )
    return await _view(request, project, principal)


@projects.post(
    "/{project_id}/materials", status_code=201, summary="Material on site, declared to the supervisor"
)
async def declare_material(
    request: Request,
    project_id: ProjectId,
    body: MaterialIn,
    principal: Actor,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    now = _now(request)
    project, material_id = await _changed(
        request,
        project_id,
        principal,
        idempotency_key,
        body,
        lambda p: p.declare_material(
            name=body.name,
            spec=body.spec,
            quantity=body.quantity,
            unit=body.unit,
            certificate=body.certificate,
            by=principal.id,
            now=now,
        ),
        result_of=lambda p: p.materials[-1].material_id,
    )
    return {"material_id": material_id, "project": await _view(request, project, principal)}


MaterialId = Annotated[str, Path(pattern=r"^M-\d+$")]


@projects.post(
    "/{project_id}/materials/{material_id}/inspection",
    summary="The supervisor accepted (or rejected) the material",
)
async def inspect_material(
    request: Request,
    project_id: ProjectId,
    material_id: MaterialId,
    body: InspectionIn,
    principal: Actor,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    now = _now(request)
    project = await _change(
        request,
        project_id,
        principal,
        idempotency_key,
        body,
        lambda p: p.inspect_material(
            material_id=material_id,
            result=body.result,
            inspected_by=body.inspected_by,
            inspected_on=body.inspected_on,
            document=body.document,
            note=body.note,
            by=principal.id,
            now=now,
        ),
    )
    return await _view(request, project, principal)


@projects.post(
    "/{project_id}/materials/{material_id}/uses",
    status_code=201,
    summary="Material used (refused unless the supervisor accepted it)",
)
async def use_material(
    request: Request,
    project_id: ProjectId,
    material_id: MaterialId,
    body: MaterialUseIn,
    principal: Actor,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    now = _now(request)
    project = await _change(
        request,
        project_id,
        principal,
        idempotency_key,
        body,
        lambda p: p.use_material(
            material_id=material_id,
            quantity=body.quantity,
            used_on=body.used_on,
            location=body.location,
            by=principal.id,
            now=now,
        ),
    )
    return await _view(request, project, principal)


@projects.post(
    "/{project_id}/instructions", status_code=201, summary="An instruction from the client (建设单位指令)"
)
async def instruction(
    request: Request,
    project_id: ProjectId,
    body: InstructionIn,
    principal: Actor,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    now = _now(request)
    project, instruction_id = await _changed(
        request,
        project_id,
        principal,
        idempotency_key,
        body,
        lambda p: p.record_instruction(
            received_on=body.received_on,
            given_by=body.given_by,
            instruction=body.instruction,
            document=body.document,
            action_taken=body.action_taken,
            by=principal.id,
            now=now,
        ),
        result_of=lambda p: p.instructions[-1].instruction_id,
    )
    return {"instruction_id": instruction_id, "project": await _view(request, project, principal)}


@projects.post(
    "/{project_id}/rectifications",
    status_code=201,
    summary="A rectification ordered by the supervisor or the authorities (blocks acceptance while open)",
)
async def rectification(
    request: Request,
    project_id: ProjectId,
    body: RectificationIn,
    principal: Actor,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    now = _now(request)
    project, rectification_id = await _changed(
        request,
        project_id,
        principal,
        idempotency_key,
        body,
        lambda p: p.order_rectification(
            ordered_by=body.ordered_by,
            ordered_on=body.ordered_on,
            issue=body.issue,
            document=body.document,
            by=principal.id,
            now=now,
        ),
        result_of=lambda p: p.rectifications[-1].rectification_id,
    )
    return {"rectification_id": rectification_id, "project": await _view(request, project, principal)}


@projects.post(
    "/{project_id}/rectifications/{rectification_id}/closure", summary="A rectification done (整改完毕)"
)
async def close_rectification(
    request: Request,
    project_id: ProjectId,
    rectification_id: Annotated[str, Path(pattern=r"^R-\d+$")],
    body: ClosureIn,
    principal: Actor,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    now = _now(request)
    project = await _change(
        request,
        project_id,
        principal,
        idempotency_key,
        body,
        lambda p: p.close_rectification(
            rectification_id=rectification_id,
            closed_on=body.closed_on,
            document=body.document,
            by=principal.id,
            now=now,
        ),
    )
    return await _view(request, project, principal)


# R-EN-4 ---------------------------------------------------------------------------------------------


@projects.put(
    "/{project_id}/preconditions/{condition}", summary="One of the four conditions of acceptance, met"
)
async def precondition(
    request: Request,
    project_id: ProjectId,
    condition: Condition,
    body: PreconditionIn,
    principal: Actor,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    now = _now(request)
    project = await _change(
        request,
        project_id,
        principal,
        idempotency_key,
        body,
        lambda p: p.record_precondition(
            condition=condition,
            met_on=body.met_on,
            document=body.document,
            note=body.note,
            by=principal.id,
            now=now,
        ),
    )
    return await _view(request, project, principal)


@projects.post(
    "/{project_id}/acceptance/{step}",
    summary="An acceptance step, in order: self_check → application → supervisor_signed → client_signed (accepted)",
)
async def acceptance_step(
    request: Request,
    project_id: ProjectId,
    step: Literal["self_check", "application", "supervisor_signed", "client_signed"],
    body: StepIn,
    principal: Actor,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    now, done_on = _now(request), _day(body.done_on, request)
    e = _e(request)
    months = maintenance_months(e.periods, china_today(now))  # the maintenance year of the rule set in effect
    project = await _change(
        request,
        project_id,
        principal,
        idempotency_key,
        body,
        lambda p: p.record_step(
            step,
            done_on=done_on,
            document=body.document,
            performed_by=body.performed_by,
            note=body.note,
            design_unit_document=body.design_unit_document,
            by=principal.id,
            now=now,
            maintenance_months=months,
            visit_every_months=e.visit_every_months,
        ),
    )
    return await _view(request, project, principal)


@projects.post(
    "/{project_id}/settlement", summary="The settlement statement and payment request to the client"
)
async def settlement(
    request: Request,
    project_id: ProjectId,
    body: SettlementIn,
    principal: Actor,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    now, done_on = _now(request), _day(body.done_on, request)
    project = await _change(
        request,
        project_id,
        principal,
        idempotency_key,
        body,
        lambda p: p.record_step(
            "settlement",
            done_on=done_on,
            document=body.statement,
            performed_by=None,
            note=body.note,
            payment_request=body.payment_request,
            amount=body.amount,
            by=principal.id,
            now=now,
        ),
    )
    return await _view(request, project, principal)


@projects.post("/{project_id}/archive", summary="The completion records archived (竣工资料归档)")
async def archive(
    request: Request,
    project_id: ProjectId,
    body: ArchiveIn,
    principal: Actor,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    now, done_on = _now(request), _day(body.done_on, request)
    project = await _change(
        request,
        project_id,
        principal,
        idempotency_key,
        body,
        lambda p: p.record_step(
            "archive",
            done_on=done_on,
            document=body.document,
            performed_by=None,
            note=body.note,
            by=principal.id,
            now=now,
        ),
    )
    return await _view(request, project, principal)


@projects.post(
    "/{project_id}/maintenance-visits/{visit_no}",
    summary="A planned maintenance visit within the maintenance year was made (§二.3.4.1 正常保养)",
)
async def maintenance_visit(
    request: Request,
    project_id: ProjectId,
    visit_no: Annotated[int, Path(ge=1, le=100)],
    body: VisitIn,
    principal: Actor,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    now = _now(request)
    project = await _change(
        request,
        project_id,
        principal,
        idempotency_key,
        body,
        lambda p: p.record_visit(
            visit_no=visit_no, visited_on=body.visited_on, notes=body.notes, by=principal.id, now=now
        ),
    )
    return await _view(request, project, principal)


visits = APIRouter(prefix="/v1/maintenance-visits", tags=["maintenance visits"], route_class=JsonRoute)


@visits.get(
    "/due", summary="Planned maintenance visits due within the next days, and those overdue or escalated"
)
async def visits_due(
    request: Request, principal: Reader, within_days: Annotated[int, Query(ge=0, le=120)] = 14
) -> dict[str, Any]:
    e = _e(request)
    today = china_today(_now(request))
    items = [
        {
            "project_id": p.project_id,
            "client": p.client,
            "site": p.site,
            "accepted_on": p.accepted_on,
            "visit_no": v.visit_no,
            "due_on": v.due_on,
            "overdue_days": max(0, (today - v.due_on).days),
            "escalated": v.missed_at is not None,
        }
        for p in await e.project_queries.with_visits_due(today + timedelta(days=within_days))
        for v in p.maintenance_visits
        if v.open and v.due_on <= today + timedelta(days=within_days)
    ]
    items.sort(key=lambda i: (i["due_on"], i["project_id"], i["visit_no"]))
    return {"items": items, "total": len(items), "today": today}


# ------------------------------------------------------------------------------------------- installation complaints

cases = APIRouter(prefix="/v1/installation-cases", tags=["installation complaints"], route_class=JsonRoute)


async def _case_view(request: Request, case: InstallationCase, principal: Principal) -> dict[str, Any]:
    view = case.model_dump(mode="json")
    project = None
    if case.project_id:
        project = await _e(request).projects.get(case.project_id)
    view["project"] = None
    if project is not None:
        accepted_on = project.accepted_on
        view["project"] = for_role(
            {
                "project_id": project.project_id,
                "client": project.client,
                "site": project.site,
                "status": project.status,
                "accepted_on": accepted_on,
                "maintenance_year_ends_on": maintenance_year_end(
                    accepted_on, maintenance_months(_e(request).periods, china_today(_e(request).clock()))
                )
                if accepted_on
                else None,
            },
            principal.role,
        )
    return view


@cases.get("", summary="Installation complaints engineering linked, newest first")
async def list_cases(
    request: Request,
    principal: Reader,
    project_id: Annotated[str | None, Query(pattern=PROJECT_ID)] = None,
    unlinked: bool = False,
    page: Page = 1,
    page_size: PageSize = 20,
) -> dict[str, Any]:
    query: dict[str, Any] = (
        {"project_id": None} if unlinked else ({"project_id": project_id} if project_id else {})
    )
    found, total = await _e(request).case_queries.find(query, skip=(page - 1) * page_size, limit=page_size)
    return {
        "items": [c.model_dump(mode="json") for c in found],
        "page": page,
        "page_size": page_size,
        "total": total,
    }


@cases.get("/{case_id}", summary="One installation complaint: its project, its maintenance work")
async def get_case(request: Request, case_id: CaseIdPath, principal: Reader) -> dict[str, Any]:
    case = await _e(request).cases.get(case_id)
    if case is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(CaseNotFound(case_id)))
    return await _case_view(request, case, principal)


@cases.post(
    "/{case_id}/maintenance",
    status_code=201,
    summary="Maintenance work done on the complaint (publishes installation.maintenance_recorded)",
)
async def maintenance(
    request: Request,
    case_id: CaseIdPath,
    body: MaintenanceIn,
    principal: Actor,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    try:
        case, record_id = await record_maintenance(
            _e(request),
            case_id,
            work_done=body.work_done,
            done_on=body.done_on,
            note=body.note,
            by=principal.id,
            key=change_key(principal, idempotency_key, action=f"maintenance {case_id}", body=body),
        )
    except CaseNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from exc
    except InvalidInput as exc:
        raise HTTPException(422, detail=str(exc)) from exc
    return {"record_id": record_id, "case": await _case_view(request, case, principal)}


def create_app(settings: EngineeringSettings | None = None) -> FastAPI:
    # The files' routes build on this module's plumbing, so they are imported once it is whole.
    from engineering.entrypoints import attachments

    settings = settings or EngineeringSettings()
    return service_app(
        settings,
        title="英德售后 · Engineering",
        description=(
            "工程安装部: installation projects from the won bid to the archived acceptance (R-EN-1..5). Installers "
            "quote and are compared before management decides; works start only with the entry paperwork in; "
            "material is used only once the supervisor accepted it; acceptance follows the regulation's steps in "
            "order and starts the warranties. Installation complaints are linked to the project that installed "
            "the unit."
        ),
        routers=[projects, attachments.router, visits, cases],
        wire=bootstrap.wire,
        uploads=(attachments.UPLOAD_PATHS, MAX_BYTES + UPLOAD_OVERHEAD_BYTES),
    )
