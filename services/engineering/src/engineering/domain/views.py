"""What a reader sees of a project: the whole record, the side-by-side comparison, the checklist of gates.

Views are built whole and then cut to the reader's role (access.for_role), so a price can only be
shown to engineering and management, whichever view carries it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from engineering.domain.access import for_role
from engineering.domain.project import (
    STATUS_ZH,
    GateState,
    InstallerQuote,
    Project,
    installer_key,
    money_text,
)

CONTRACTING_MODE_ZH = {
    "labour_and_materials": "包工包料",
    "labour_only": "包工不包料（清包）",
    "labour_and_auxiliary_materials": "包工包辅料",
}


def next_gate(gates: list[GateState]) -> GateState | None:
    return next((g for g in gates if not g.passed and not g.optional), None)


def _gate_view(g: GateState) -> dict[str, Any]:
    return {
        "gate": g.gate,
        "zh": g.zh,
        "en": g.en,
        "passed": g.passed,
        "passed_at": g.passed_at,
        "optional": g.optional,
        "missing": [{"item": m.item, "zh": m.zh, "en": m.en} for m in g.missing],
    }


def checklist_view(project: Project, *, min_installers: int) -> dict[str, Any]:
    """Every gate in order: passed when, or what is still missing. Carries no price, so one view for all."""
    gates = project.gates(min_installers)
    upcoming = next_gate(gates)
    return {
        "project_id": project.project_id,
        "status": project.status,
        "status_zh": STATUS_ZH[project.status],
        "next_gate": upcoming.gate if upcoming else None,
        "required_installers": min_installers,
        "gates": [_gate_view(g) for g in gates],
    }


def summary_view(project: Project, *, role: str, min_installers: int) -> dict[str, Any]:
    upcoming = next_gate(project.gates(min_installers))
    return for_role(
        {
            "project_id": project.project_id,
            "status": project.status,
            "status_zh": STATUS_ZH[project.status],
            "client": project.client,
            "site": project.site,
            "supervisor": project.supervisor,
            "design_unit": project.design_unit,
            "units": len(project.units),
            "contract_value": money_text(project.contract_value),
            "installer": project.decision.installer if project.decision else None,
            "opened_at": project.opened_at,
            "accepted_on": project.accepted_on,
            "next_gate": upcoming.gate if upcoming else None,
        },
        role,
    )


def project_view(
    project: Project,
    *,
    role: str,
    min_installers: int,
    today: date,
    cases: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The whole project with its history, as `role` may read it."""
    data = project.model_dump(mode="json", exclude={"quotes": {"__all__": {"installer_key"}}})
    schedule = project.contract.schedule if project.contract else None
    for entry in data["progress"]:
        if schedule is not None:
            planned = schedule.planned_percent(date.fromisoformat(entry["on"]))
            entry["planned_percent"] = planned
            entry["behind_by"] = max(0, planned - entry["percent_complete"])
    for m, material in zip(data["materials"], project.materials, strict=True):
        m["used"] = format(material.used.normalize(), "f")
        m["left"] = format((material.quantity - material.used).normalize(), "f")
    gates = project.gates(min_installers)
    upcoming = next_gate(gates)
    data |= {
        "status_zh": STATUS_ZH[project.status],
        "installers": project.installers,
        "required_installers": min_installers,
        "schedule_today": (
            {"planned_percent": schedule.planned_percent(today), "finishes_on": schedule.finishes_on}
            if schedule and project.status in ("in_works", "in_acceptance")
            else None
        ),
        "open_rectifications": [r.rectification_id for r in project.open_rectifications],
        "next_gate": _gate_view(upcoming) if upcoming else None,
        "installation_cases": cases or [],
    }
    return for_role(data, role)


def _line_key(item: str, unit: str) -> str:
    return f"{installer_key(item)}|{installer_key(unit)}"


def comparison_view(project: Project, *, role: str, min_installers: int) -> dict[str, Any]:
    """The quotes side by side (比价): one column per quote, one row per priced item, the terms beneath."""
    quotes: list[InstallerQuote] = project.quotes
    chosen = project.decision.quote_id if project.decision else None
    rows: dict[str, dict[str, Any]] = {}
    for q in quotes:
        for line in q.items:
            row = rows.setdefault(
                _line_key(line.item, line.unit),
                {"item": line.item, "unit": line.unit, "quotes": {x.quote_id: None for x in quotes}},
            )
            row["quotes"][q.quote_id] = line.model_dump(
                mode="json", include={"quantity", "unit_price", "amount"}
            )
    lowest = min(quotes, key=lambda q: (q.total, q.quote_id), default=None)
    highest = max(quotes, key=lambda q: (q.total, q.quote_id), default=None)
    shortest = min(quotes, key=lambda q: (q.schedule.days, q.quote_id), default=None)
    view = {
        "project_id": project.project_id,
        "required_installers": min_installers,
        "installers": project.installers,
        "ready_for_decision": len(project.installers) >= min_installers,
        "submitted_at": project.submitted_at,
        "decision": project.decision.model_dump(mode="json") if project.decision else None,
        "quotes": [
            {
                "quote_id": q.quote_id,
                "installer": q.installer,
                "contracting_mode": q.contracting_mode,
                "contracting_mode_zh": CONTRACTING_MODE_ZH[q.contracting_mode],
                "total": money_text(q.total),
                "schedule": q.schedule.model_dump(mode="json") | {"days": q.schedule.days},
                "scope": q.scope,
                "drawings_signed_off": q.drawings_signed_off,
                "requirements": q.requirements,
                "payment_terms": q.payment_terms,
                "maintenance_terms": q.maintenance_terms,
                "quoted_on": q.quoted_on,
                "chosen": q.quote_id == chosen,
            }
            for q in quotes
        ],
        "items": list(rows.values()),
        "lowest_total": lowest.quote_id if lowest else None,
        "price_difference": money_text(highest.total - lowest.total) if highest and lowest else None,
        "shortest_schedule": shortest.quote_id if shortest else None,
    }
    return for_role(view, role)
