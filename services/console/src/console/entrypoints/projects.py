"""Installation projects: the list, one project as a checklist of gates (each naming what is still
missing), the installers' quotes side by side, and the forms that move a project through its gates.

Engineering refuses a gate with 409 and the list of what is missing; the console shows that list.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response

from console import access
from console.entrypoints.web import after, console_of, form_of, new_key, problem, redirect, render, require

router = APIRouter(include_in_schema=False)
ProjectId = Annotated[str, Path(pattern=r"^P-\d{4}-\d{3,6}$")]
ACTORS = ("engineering",)


def _lines(text: str, cells: int) -> tuple[list[list[str]], list[str]]:
    rows, errors = [], []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        sep = "|" if "|" in line else ("\t" if "\t" in line else ",")
        parts = [p.strip() for p in line.split(sep)]
        if len(parts) != cells:
            errors.append(f"第 {n} 行应有 {cells} 项 / line {n} needs {cells} cells")
            continue
        rows.append(parts)
    return rows, errors


@router.get("/projects", response_class=HTMLResponse)
async def projects_page(request: Request) -> Response:
    user = require(request, access.PROJECT_READERS)
    q = request.query_params
    api = await console_of(request).services.engineering.get(
        "/v1/projects", key=user.key, params={"status": q.get("status"), "page_size": 50}
    )
    data = api.json({}) or {}
    return render(
        request,
        "projects.html",
        {
            "projects": data.get("items", []),
            "total": data.get("total", 0),
            "error": None if api.ok else problem(api)[0],
        },
        user=user,
    )


@router.post("/projects")
async def open_project(request: Request) -> Response:
    user = require(request, ACTORS)
    form = await form_of(request)
    rows, errors = _lines(form.get("units", ""), 2)
    if errors or not rows:
        return redirect(
            "/projects",
            flash=("error", "设备清单格式有误 / the equipment list is not in the expected form"),
            items=[{"zh": e, "en": ""} for e in errors or ["至少一台 / at least one unit"]],
        )
    body: dict[str, Any] = {
        k: form[k]
        for k in (
            "project_id",
            "client",
            "site",
            "supervisor",
            "design_unit",
            "contract_value",
            "bid_won_on",
            "note",
        )
        if form.get(k)
    }
    body["units"] = [{"model": m, "serial_no": s} for m, s in rows]
    api = await console_of(request).services.engineering.post("/v1/projects", key=user.key, json=body)
    if api.ok:
        return redirect(
            f"/projects/{api.data['project_id']}",
            flash=("ok", f"项目 {api.data['project_id']} 已立项 / project opened"),
        )
    return after(api, "/projects", "", "")


@router.get("/projects/{project_id}", response_class=HTMLResponse)
async def project_page(request: Request, project_id: ProjectId) -> Response:
    user = require(request, access.PROJECT_READERS)
    e = console_of(request).services.engineering
    project, checklist, comparison, files = await asyncio.gather(
        e.get(f"/v1/projects/{project_id}", key=user.key),
        e.get(f"/v1/projects/{project_id}/checklist", key=user.key),
        e.get(f"/v1/projects/{project_id}/comparison", key=user.key),
        e.get(f"/v1/projects/{project_id}/attachments", key=user.key),
    )
    if project.status == 404:
        return render(request, "not_found.html", {"what": project_id}, status=404, user=user)
    if not project.ok:
        return render(
            request,
            "not_found.html",
            {"what": project_id, "error": problem(project)[0]},
            status=project.status,
            user=user,
        )
    return render(
        request,
        "project.html",
        {
            "p": project.data,
            "checklist": checklist.json({}) or {},
            "cmp": comparison.json({}) or {},
            "can_act": user.role in ACTORS,
            "can_decide": user.role == "management",
            "files": (files.json({}) or {}).get("items", []) if files.ok else [],
            "files_error": None if files.ok else problem(files)[0],
            "can_attach": user.role in access.PROJECT_FILE_UPLOADERS,
            "attach_key": new_key("attach"),
        },
        user=user,
    )


# ------------------------------------------------------------------------------------ gate actions


@dataclass(frozen=True)
class Action:
    """One form on the project page: which call it makes, with which body, and what to say after."""

    method: str
    path: Callable[[dict[str, str]], str]
    body: Callable[[dict[str, str]], Any]
    zh: str
    en: str
    roles: tuple[str, ...] = ACTORS


def _opt(form: dict[str, str], *names: str) -> dict[str, str]:
    return {n: form[n] for n in names if form.get(n)}


def _quote_body(form: dict[str, str]) -> dict[str, Any]:
    rows, _ = _lines(form.get("items", ""), 4)
    return {
        "installer": form.get("installer", ""),
        "contracting_mode": form.get("contracting_mode", ""),
        "items": [{"item": i, "unit": u, "quantity": q, "unit_price": p} for i, u, q, p in rows],
        "scope": form.get("scope", ""),
        "drawings_signed_off": form.get("drawings_signed_off") == "on",
        "schedule": {"starts_on": form.get("starts_on", ""), "finishes_on": form.get("finishes_on", "")},
        "requirements": form.get("requirements", ""),
        "payment_terms": form.get("payment_terms", ""),
        "maintenance_terms": form.get("maintenance_terms", ""),
    }


def _seg(form: dict[str, str], name: str) -> str:
    return quote(form.get(name, "") or "-", safe="")


ACTIONS: dict[str, Action] = {
    "quote": Action("POST", lambda f: "quotes", _quote_body, "安装报价已录入", "installer quote added"),
    "submission": Action(
        "POST", lambda f: "submission", lambda f: None, "已呈报公司高层", "submitted to management"
    ),
    "decision": Action(
        "POST",
        lambda f: "decision",
        lambda f: _opt(f, "quote_id", "reason"),
        "决定已记录",
        "decision recorded",
        roles=("management",),
    ),
    "contract": Action(
        "POST",
        lambda f: "contract",
        lambda f: _opt(f, "contract_no", "signed_on", "amount", "document"),
        "合同已记录",
        "contract recorded",
    ),
    "site_lead": Action(
        "PUT",
        lambda f: "site-lead",
        lambda f: _opt(f, "name", "title", "phone"),
        "现场负责人已记录",
        "site lead named",
    ),
    "contact": Action(
        "PUT",
        lambda f: f"contacts/{_seg(f, 'party')}",
        lambda f: _opt(f, "name", "title", "phone"),
        "联系人已记录",
        "contact recorded",
    ),
    "paperwork": Action(
        "PUT",
        lambda f: f"paperwork/{_seg(f, 'item')}",
        lambda f: _opt(f, "document", "submitted_on", "note"),
        "资料已记录",
        "paperwork recorded",
    ),
    "works_start": Action(
        "POST", lambda f: "works-start", lambda f: _opt(f, "started_on"), "已开工", "works started"
    ),
    "progress": Action(
        "POST",
        lambda f: "progress",
        lambda f: _opt(f, "on", "percent_complete", "work_done", "note"),
        "进度已记录",
        "progress recorded",
    ),
    "material": Action(
        "POST",
        lambda f: "materials",
        lambda f: _opt(f, "name", "spec", "quantity", "unit", "certificate"),
        "材料已申报",
        "material declared",
    ),
    "inspection": Action(
        "POST",
        lambda f: f"materials/{_seg(f, 'material_id')}/inspection",
        lambda f: _opt(f, "result", "inspected_by", "inspected_on", "document", "note"),
        "材料验收已记录",
        "material inspection recorded",
    ),
    "precondition": Action(
        "PUT",
        lambda f: f"preconditions/{_seg(f, 'condition')}",
        lambda f: _opt(f, "met_on", "document", "note"),
        "验收条件已记录",
        "precondition recorded",
    ),
    "acceptance": Action(
        "POST",
        lambda f: f"acceptance/{_seg(f, 'step')}",
        lambda f: _opt(f, "done_on", "document", "performed_by", "note", "design_unit_document"),
        "验收步骤已记录",
        "acceptance step recorded",
    ),
}


@router.post("/projects/{project_id}/act/{action}")
async def project_action(request: Request, project_id: ProjectId, action: str) -> Response:
    spec = ACTIONS.get(action)
    if spec is None:
        return render(request, "not_found.html", {"what": action}, status=404)
    user = require(request, spec.roles)
    form = await form_of(request)
    e = console_of(request).services.engineering
    path = f"/v1/projects/{project_id}/{spec.path(form)}"
    api = await e.call(spec.method, path, key=user.key, json=spec.body(form))
    back = f"/projects/{project_id}"
    if not api.ok:
        message, items = problem(api)
        return redirect(back + f"#act-{action}", flash=("error", message), items=items)
    return redirect(back, flash=("ok", f"{spec.zh} / {spec.en}"))
