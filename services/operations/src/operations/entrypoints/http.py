"""The operations page and API: topics, consumer lag, dead letters and their replay, a case's events."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ConfigDict, Field

from operations import bootstrap
from operations.config import OperationsSettings
from operations.handlers import Selection, replay, replay_log
from operations.selections import InvalidSelection
from shared.http.app import JsonRoute
from shared.http.auth import Principal, require_roles
from shared.reference import regional_manager_gaps, regions
from shared.roles import OPERATIONS_WATCHERS
from shared.service import service_app

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
Watcher = Annotated[Principal, require_roles(*OPERATIONS_WATCHERS)]
Operator = Annotated[Principal, require_roles("operations")]


class SelectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dead_letter_topic: str = Field(pattern=r"^[a-z]+\.dead-letters\.v\d+$", max_length=100)
    partition: int = Field(ge=0, le=2**31 - 1)
    offset: int = Field(ge=0, le=2**63 - 1)


class ReplayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dead_letters: list[SelectionIn] = Field(min_length=1, max_length=1000)


def _ops(request: Request) -> bootstrap.Operations:
    return request.app.state.runtime.components["operations"]


async def topics_report(ops: bootstrap.Operations) -> list[dict[str, Any]]:
    offsets = await ops.view.end_offsets()
    sizes = await ops.view.average_sizes()
    rates = ops.sampler.rates()
    specs = {t.name: t for t in ops.view.registry.topics}
    return [
        {
            "topic": name,
            "owner": specs[name].owner,
            "partitions": len(parts),
            "messages": sum(end - first for first, end in parts.values()),
            "end_offset": sum(end for _, end in parts.values()),
            "rate_per_s": round(rates[name], 2) if name in rates else None,
            "avg_size_bytes": round(sizes.get(name, 0.0)),
        }
        for name, parts in sorted(offsets.items())
    ]


async def lag_report(ops: bootstrap.Operations) -> list[dict[str, Any]]:
    rows = await ops.view.lag()
    return [r | {"trend": ops.sampler.trend(r["group"], r["topic"], r["partition"])} for r in rows]


router = APIRouter(tags=["operations"], route_class=JsonRoute)


@router.get("/", response_class=HTMLResponse, summary="The operations page")
async def page(request: Request, principal: Watcher) -> HTMLResponse:
    ops = _ops(request)
    return TEMPLATES.TemplateResponse(
        request,
        "ops.html",
        {
            "topics": await topics_report(ops),
            "lag": await lag_report(ops),
            "dead_letters": await ops.view.dead_letters(limit=50),
            "replays": await replay_log(request.app.state.runtime.db["replays"], limit=20),
            "can_replay": principal.role == "operations",
            "regions": regions(),
            "regional_gaps": regional_manager_gaps(),
        },
    )


@router.get("/v1/topics", summary="Per topic: partitions, messages, rate, average size")
async def topics(request: Request, principal: Watcher) -> dict[str, Any]:
    return {"items": await topics_report(_ops(request))}


@router.get("/v1/lag", summary="Per consumer group and partition: committed, end, lag, trend")
async def lag(request: Request, principal: Watcher) -> dict[str, Any]:
    rows = await lag_report(_ops(request))
    return {"items": rows, "total_lag": sum(r["lag"] for r in rows)}


@router.get(
    "/v1/regional-managers",
    summary="Every region's manager (path A sourcing, path B repair on site), and the regions without one",
)
async def regional_managers(principal: Watcher) -> dict[str, Any]:
    return {
        "items": [
            {
                "code": r.code,
                "name_zh": r.name_zh,
                "name_en": r.name_en,
                "regional_manager": r.regional_manager,
            }
            for r in regions()
        ],
        "gaps": [r.code for r in regional_manager_gaps()],
    }


@router.get("/v1/dead-letters", summary="Dead letters per service with their error class and message")
async def dead_letters(request: Request, principal: Watcher, service: str | None = None) -> dict[str, Any]:
    return {"items": await _ops(request).view.dead_letters(service)}


@router.post(
    "/v1/dead-letters/replay", summary="Send chosen dead letters back to their original topic, once each"
)
async def post_replay(request: Request, body: ReplayIn, principal: Operator) -> dict[str, Any]:
    runtime = request.app.state.runtime
    chosen = [Selection(s.dead_letter_topic, s.partition, s.offset) for s in body.dead_letters]
    try:
        results = await replay(
            _ops(request).view, runtime.publisher, runtime.db["replays"], chosen, by=principal.id
        )
    except InvalidSelection as exc:
        errors = [
            {"field": f"dead_letters.{i}.{field}", "message": message, "type": "not_found"}
            for i, field, message in exc.problems
        ]
        raise HTTPException(422, detail={"message": f"nothing replayed: {exc}", "errors": errors}) from exc
    return {"results": results}


@router.get("/v1/replays", summary="What was replayed, by whom, when")
async def replays(request: Request, principal: Watcher) -> dict[str, Any]:
    return {"items": await replay_log(request.app.state.runtime.db["replays"])}


@router.get("/v1/cases/{case_id}/events", summary="The last events of one case across all topics")
async def case_events(request: Request, case_id: str, principal: Watcher) -> dict[str, Any]:
    if not case_id.startswith("YD-"):
        raise HTTPException(422, detail="case_id: a case number starts with YD-")
    return {"case_id": case_id, "items": await _ops(request).view.case_events(case_id)}


def create_app(settings: OperationsSettings | None = None) -> FastAPI:
    settings = settings or OperationsSettings()
    return service_app(
        settings,
        title="英德售后 · Operations",
        description="Every topic as Kafka reports it: message rates and sizes, consumer lag per partition and its "
        "trend, dead letters with their cause, replay (once each, recorded), and one case's events across topics.",
        routers=[router],
        wire=bootstrap.wire,
    )
