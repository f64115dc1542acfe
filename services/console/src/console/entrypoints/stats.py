"""The statistics page: dispatch's /v1/stats drawn as inline SVG charts."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from console import access, labels
from console.charts import Bar, Series, hbars, stacked_columns
from console.entrypoints.web import console_of, problem, render, require
from shared.periods import china_today

router = APIRouter(include_in_schema=False)
PERIODS = {"day": 14, "week": 8, "month": 6}


def recent_periods(period: str, count: int, today: date) -> list[tuple[str, date, date]]:
    """The last `count` periods up to today, oldest first: (label as dispatch names it, first day, last day)."""
    out: list[tuple[str, date, date]] = []
    if period == "day":
        for i in range(count - 1, -1, -1):
            d = today - timedelta(days=i)
            out.append((d.isoformat(), d, d))
    elif period == "week":
        monday = today - timedelta(days=today.weekday())
        for i in range(count - 1, -1, -1):
            start = monday - timedelta(weeks=i)
            year, week, _ = start.isocalendar()
            out.append((f"{year}-W{week:02d}", start, start + timedelta(days=6)))
    else:
        y, m = today.year, today.month
        months = []
        for _ in range(count):
            months.append((y, m))
            y, m = (y, m - 1) if m > 1 else (y - 1, 12)
        for y, m in reversed(months):
            start = date(y, m, 1)
            end = (date(y + (m == 12), m % 12 + 1, 1)) - timedelta(days=1)
            out.append((f"{y}-{m:02d}", start, end))
    return out


def _series(
    periods: list[tuple[str, date, date]], per_period: list[dict[str, Any]], table: str
) -> list[Series]:
    codes = list(labels.TABLES[table])
    for stats in per_period:
        for g in stats.get("groups", []):
            if g["key"] not in codes:
                codes.append(g["key"])
    series = []
    for code in codes:
        values = tuple(
            float(next((g["count"] for g in s.get("groups", []) if g["key"] == code), 0)) for s in per_period
        )
        if any(values):
            zh, en = labels.pair(table, code)
            series.append(Series(zh, en, values))
    return series


@router.get("/stats", response_class=HTMLResponse)
async def stats_page(request: Request) -> Response:
    user = require(request, access.STATS_READERS)
    period = request.query_params.get("period", "week")
    period = period if period in PERIODS else "week"
    d = console_of(request).services.dispatch
    periods = recent_periods(period, PERIODS[period], china_today())  # dispatch counts days in China
    first, last = periods[0][1], periods[-1][2]
    span = {"from": first.isoformat(), "to": last.isoformat()}
    k = user.key
    all_time, by_channel, by_category, over_time, *per_period = await asyncio.gather(
        d.get("/v1/stats", key=k, params={"group_by": "department"}),
        d.get("/v1/stats", key=k, params={"group_by": "channel"} | span),
        d.get("/v1/stats", key=k, params={"group_by": "category"} | span),
        d.get("/v1/stats", key=k, params={"group_by": "period", "period": period} | span),
        *[
            d.get("/v1/stats", key=k, params={"group_by": g, "from": a.isoformat(), "to": b.isoformat()})
            for g in ("channel", "category")
            for _, a, b in periods
        ],
    )
    failed = [a for a in (all_time, by_channel, by_category, over_time, *per_period) if not a.ok]
    if failed:
        return render(
            request,
            "stats.html",
            {"error": problem(failed[0])[0], "period": period},
            user=user,
            status=failed[0].status,
        )
    n = len(periods)
    channel_periods = [a.data for a in per_period[:n]]
    category_periods = [a.data for a in per_period[n:]]
    labels_ = [p[0] for p in periods]
    overall = by_channel.data["overall"]

    def hours_bars(stats: dict[str, Any], table: str, which: str) -> list[Bar]:
        return [
            Bar(*labels.pair(table, g["key"]), (g["hours_to"][which]["median"], g["hours_to"][which]["p90"]))
            for g in stats["groups"]
            if g["hours_to"][which]["n"]
        ]

    overall_rows = [
        Bar(*pair, (overall["hours_to"][w]["median"], overall["hours_to"][w]["p90"]))
        for w, pair in (
            ("assign", ("分派", "to assign")),
            ("first_reply", ("首次答复", "to first reply")),
            ("close", ("结案", "to close")),
        )
    ]
    sat = overall["satisfaction"]
    charts = {
        "channel_over_time": stacked_columns(
            labels_,
            _series(periods, channel_periods, "channel"),
            title="各渠道案件数 / cases by channel over time",
        ),
        "category_over_time": stacked_columns(
            labels_,
            _series(periods, category_periods, "category"),
            title="各类别案件数 / cases by category over time",
        ),
        "total_over_time": hbars(
            [Bar(g["key"], g["key"], (float(g["count"]),)) for g in over_time.data["groups"]],
            title="案件数 / cases per period",
        ),
        "hours_overall": hbars(
            overall_rows,
            title="用时（小时） / hours",
            unit="h",
            legend=[("中位数", "median"), ("P90", "p90")],
        ),
        "assign_by_channel": hbars(
            hours_bars(by_channel.data, "channel", "assign"),
            unit="h",
            title="分派用时 / hours to assign",
            legend=[("中位数", "median"), ("P90", "p90")],
        ),
        "close_by_channel": hbars(
            hours_bars(by_channel.data, "channel", "close"),
            unit="h",
            title="结案用时 / hours to close",
            legend=[("中位数", "median"), ("P90", "p90")],
        ),
        "satisfaction": hbars(
            [
                Bar(f"{s} 分", f"{s} / 5", (float(sat["distribution"].get(str(s), 0)),))
                for s in range(5, 0, -1)
            ],
            title="满意度 / satisfaction",
        ),
        "open_by_age": hbars(
            [Bar(*_AGE.get(k_, (k_, k_)), (float(v),)) for k_, v in all_time.data["open_by_age"].items()],
            title="未结案件账龄 / open by age",
        ),
    }
    return render(
        request,
        "stats.html",
        {
            "period": period,
            "first": first,
            "last": last,
            "overall": overall,
            "charts": charts,
            "by_channel": by_channel.data["groups"],
            "open_total": all_time.data["overall"]["open"],
            "by_category": by_category.data["groups"],
        },
        user=user,
    )


_AGE = {
    "<1d": ("不足 1 天", "< 1 day"),
    "1-3d": ("1–3 天", "1–3 days"),
    "3-7d": ("3–7 天", "3–7 days"),
    "7-30d": ("7–30 天", "7–30 days"),
    ">30d": ("超过 30 天", "> 30 days"),
}
