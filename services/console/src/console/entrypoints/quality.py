"""The quality department's figures page (R-DS-7): dispatch's /v1/quality figures drawn as charts, with
the CSV and XLSX exports and the monthly PDF report fetched through the console with the user's key."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, date, datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from console import access, labels
from console.charts import Bar, hbars
from console.entrypoints.web import console_of, problem, render, require
from shared.periods import add_months, china_date

router = APIRouter(include_in_schema=False)
CHARTED = ("model", "part", "batch", "region", "dealer", "exclusion", "cause")


def _day(text: str | None) -> str | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        return None


def _label(dimension: str, key: str) -> tuple[str, str]:
    table = {"region": "region", "part": "part", "exclusion": "cause"}.get(dimension)
    if key == "none":
        return ("未注明", "not given")
    return labels.pair(table, key) if table else (key, key)


@router.get("/quality", response_class=HTMLResponse)
async def quality_page(request: Request) -> Response:
    user = require(request, access.QUALITY_READERS)
    q = request.query_params
    today = china_date(datetime.now(UTC))
    start = _day(q.get("from")) or today.replace(day=1).isoformat()
    end = _day(q.get("to")) or today.isoformat()
    by = q.get("by") if q.get("by") in labels.DIMENSION else "model"
    span = {"from": start, "to": end}
    d = console_of(request).services.dispatch
    calls = [d.get("/v1/quality/figures", key=user.key, params=span | {"by": dim}) for dim in CHARTED]
    results = await asyncio.gather(
        *calls,
        d.get("/v1/quality/repeat-units", key=user.key, params=span),
        d.get("/v1/quality/reports", key=user.key),
    )
    *by_dimension, repeats, kept = results
    failed = [a for a in results if not a.ok]
    if failed:
        return render(
            request,
            "quality.html",
            {"error": problem(failed[0])[0], "span": span, "by": by},
            user=user,
            status=failed[0].status,
        )
    figures = {dim: api.data for dim, api in zip(CHARTED, by_dimension, strict=True)}
    overall = figures["model"]["overall"]
    charts = {
        dim: hbars(
            [Bar(*_label(dim, g["key"]), (float(g["faults"]),)) for g in figures[dim]["groups"][:10]],
            title=f"{labels.pair('dimension', dim)[0]} / faults by {labels.pair('dimension', dim)[1]}",
        )
        for dim in CHARTED
    }
    paths = overall["paths"]
    charts["paths"] = hbars(
        [
            Bar("A 本地采购", "A local sourcing", (float(paths["A"]["requests"]), paths["A"]["mean_days"])),
            Bar("B 供应商返修", "B supplier RMA", (float(paths["B"]["requests"]), paths["B"]["mean_days"])),
        ],
        title="配件路径 / parts path",
        legend=[("申请数", "requests"), ("平均天数", "mean days")],
    )
    months = [add_months(today.replace(day=1), -n).strftime("%Y-%m") for n in range(0, 3)]
    return render(
        request,
        "quality.html",
        {
            "span": span,
            "by": by,
            "overall": overall,
            "charts": charts,
            "table": figures.get(by) or figures["model"],
            "table_by": by if by in figures else "model",
            "repeats": repeats.data["items"],
            "months": months,
            "kept": kept.data["items"],
            "label": _label,
        },
        user=user,
    )


def _span_params(request: Request) -> dict[str, str]:
    q = request.query_params
    return {k: v for k in ("from", "to") if (v := _day(q.get(k)))}


async def _proxy(request: Request, path: str, params: dict[str, str] | None = None) -> Response:
    user = require(request, access.QUALITY_READERS)
    api = await console_of(request).services.dispatch.get(path, key=user.key, params=params)
    if not api.ok:
        return render(
            request, "not_found.html", {"what": path, "error": problem(api)[0]}, status=api.status, user=user
        )
    headers = {"Cache-Control": "no-store"}
    if disposition := api.headers.get("content-disposition"):
        headers["Content-Disposition"] = disposition
    return Response(api.raw, media_type=api.content_type or "application/octet-stream", headers=headers)


@router.get("/quality/export.csv")
async def export_csv(request: Request) -> Response:
    return await _proxy(request, "/v1/quality/export.csv", _span_params(request))


@router.get("/quality/export.xlsx")
async def export_xlsx(request: Request) -> Response:
    return await _proxy(request, "/v1/quality/export.xlsx", _span_params(request))


@router.get("/quality/reports/{month}.pdf")
async def report_pdf(request: Request, month: str) -> Response:
    if not re.fullmatch(r"\d{4}-\d{2}", month):
        user = require(request, access.QUALITY_READERS)
        return render(request, "not_found.html", {"what": month}, status=404, user=user)
    return await _proxy(request, f"/v1/quality/reports/{month}.pdf")
