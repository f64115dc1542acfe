"""The quality department's figures (R-DS-7, §一.2 做好所有客户数据整理统计): faults by model, part, cause,
exclusion, dealer, region and production batch; units failing again; days in repair; path A against
path B; satisfaction. Pure functions over cases; the HTTP layer, the exports and the monthly report
read them.

A fault is a complaint of a fault category (product, software, installation); consumables are sales,
not faults. Each figure counts faults received in the period (China dates). A rate is the group's share
of the period's faults: the company's sales per model and batch are not in the system, so no rate per
unit sold can be given. The cause is the rule that decided the warranty (its first reason), the
exclusion the 权益 2.1-2.7 code that applied, if any.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from dispatch.domain.case import Case
from shared.periods import china_date
from shared.reference import product_of_serial, production_batch

FAULT_CATEGORIES = ("product_fault", "software", "installation")
EXCLUSIONS = (
    "human_damage",
    "force_majeure",
    "unauthorized_repair",
    "voltage_damage",
    "consumable_not_covered",
    "normal_wear",
    "improper_use",
)
Dimension = Literal["model", "part", "cause", "exclusion", "dealer", "region", "batch", "category", "channel"]
DIMENSIONS: tuple[Dimension, ...] = (
    "model",
    "part",
    "cause",
    "exclusion",
    "dealer",
    "region",
    "batch",
    "category",
    "channel",
)
NONE = "none"


@dataclass(frozen=True)
class PartsPath:
    request_id: str
    path: str  # A | B
    part: str | None
    days: int | None  # opened → repaired, None while open


@dataclass(frozen=True)
class FaultRow:
    """One fault case, as the figures see it."""

    case_id: str
    received_on: date
    received_at: datetime
    status: str
    channel: str
    category: str
    serial_no: str | None
    model: str
    part: str
    cause: str
    exclusion: str
    dealer: str
    region: str
    batch: str
    days_in_repair: int | None  # received → repaired (the first repair record)
    satisfaction: int | None
    paths: tuple[PartsPath, ...] = field(default_factory=tuple)

    def value(self, dimension: Dimension) -> str:
        return str(getattr(self, dimension))

    def flat(self) -> dict[str, Any]:
        data = asdict(self)
        data["paths"] = " ".join(
            f"{p.request_id}:{p.path}:{p.days if p.days is not None else '-'}" for p in self.paths
        )
        return data


def fault_row(case: Case) -> FaultRow:
    decision = case.warranty or {}
    reasons = [
        r.get("code") if isinstance(r, dict) else getattr(r, "code", None)
        for r in decision.get("reasons", [])
    ]
    product = product_of_serial(case.product.serial_no)
    parts = [a for a in case.parts_actions.values() if a.get("part")]
    part = decision.get("key_part") or (parts[0]["part"] if parts else None) or NONE
    received_on = china_date(case.received_at)
    repaired = sorted(
        date.fromisoformat(str(r["repaired_on"])) for r in case.repair_records if r.get("repaired_on")
    )
    paths = tuple(
        PartsPath(
            a["request_id"],
            a.get("path", "A"),
            a.get("part"),
            (date.fromisoformat(str(a["repaired_on"])) - china_date(_moment(a["opened_at"]))).days
            if a.get("repaired_on") and a.get("opened_at")
            else None,
        )
        for a in case.parts_actions.values()
        if a.get("part")
    )
    return FaultRow(
        case_id=case.case_id,
        received_on=received_on,
        received_at=case.received_at,
        status=case.status,
        channel=case.channel,
        category=case.category,
        serial_no=case.product.serial_no,
        model=case.product.model or (product.model if product else NONE),
        part=part,
        cause=next((c for c in reasons if c), NONE),
        exclusion=next((c for c in reasons if c in EXCLUSIONS), NONE),
        dealer=case.dealer_code or NONE,
        region=case.region or NONE,
        batch=production_batch(case.product.serial_no) or NONE,
        days_in_repair=(repaired[0] - received_on).days if repaired else None,
        satisfaction=case.follow_ups[0].satisfaction if case.follow_ups else None,
        paths=paths,
    )


def _moment(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def fault_rows(
    cases: Iterable[Case], *, start: date | None = None, end: date | None = None
) -> list[FaultRow]:
    """The fault cases received from `start` to `end` (China dates, both included)."""
    rows = []
    for case in cases:
        if case.category not in FAULT_CATEGORIES:
            continue
        row = fault_row(case)
        if (start is None or row.received_on >= start) and (end is None or row.received_on <= end):
            rows.append(row)
    return sorted(rows, key=lambda r: (r.received_at, r.case_id))


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None


def _paths(rows: list[FaultRow]) -> dict[str, Any]:
    all_paths = [p for r in rows for p in r.paths]
    out: dict[str, Any] = {}
    for name in ("A", "B"):
        mine = [p for p in all_paths if p.path == name]
        done = [float(p.days) for p in mine if p.days is not None]
        out[name] = {
            "requests": len(mine),
            "share": round(len(mine) / len(all_paths), 4) if all_paths else None,
            "repaired": len(done),
            "mean_days": _mean(done),
        }
    return out


def _block(rows: list[FaultRow], total: int, repeat_serials: set[str]) -> dict[str, Any]:
    scores = [float(r.satisfaction) for r in rows if r.satisfaction is not None]
    days = [float(r.days_in_repair) for r in rows if r.days_in_repair is not None]
    return {
        "faults": len(rows),
        "share": round(len(rows) / total, 4) if total else None,
        "units": len({r.serial_no for r in rows if r.serial_no}),
        "repeat_units": len({r.serial_no for r in rows if r.serial_no in repeat_serials}),
        "mean_days_in_repair": _mean(days),
        "repaired": len(days),
        "satisfaction": {"n": len(scores), "mean": _mean(scores)},
        "paths": _paths(rows),
    }


def repeat_units(rows: list[FaultRow]) -> list[dict[str, Any]]:
    """Units with more than one fault in the period: failing again."""
    by_serial: dict[str, list[FaultRow]] = defaultdict(list)
    for r in rows:
        if r.serial_no:
            by_serial[r.serial_no].append(r)
    out = []
    for serial, mine in sorted(by_serial.items()):
        if len(mine) < 2:
            continue
        mine.sort(key=lambda r: (r.received_at, r.case_id))
        out.append(
            {
                "serial_no": serial,
                "model": mine[0].model,
                "batch": mine[0].batch,
                "dealer": mine[0].dealer,
                "faults": len(mine),
                "cases": [r.case_id for r in mine],
                "received_on": [r.received_on.isoformat() for r in mine],
                "days_between": [
                    (b.received_on - a.received_on).days for a, b in zip(mine, mine[1:], strict=False)
                ],
            }
        )
    return sorted(out, key=lambda u: (-u["faults"], u["serial_no"]))


def figures(rows: list[FaultRow], *, by: Dimension) -> dict[str, Any]:
    """Faults of the period grouped by one dimension, with the whole period's figures beside them."""
    repeats = {u["serial_no"] for u in repeat_units(rows)}
    groups: dict[str, list[FaultRow]] = defaultdict(list)
    for r in rows:
        groups[r.value(by)].append(r)
    total = len(rows)
    ordered = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    return {
        "by": by,
        "overall": _block(rows, total, repeats),
        "groups": [{"key": k, **_block(v, total, repeats)} for k, v in ordered],
        "repeat_units": len(repeats),
    }
