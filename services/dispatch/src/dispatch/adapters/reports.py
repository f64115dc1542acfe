"""The quality figures as files: CSV and XLSX exports, and the monthly report as a PDF in Chinese with
its charts (reportlab drawings: real text and vector bars, nothing fetched)."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from reportlab.graphics.charts.barcharts import HorizontalBarChart
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from dispatch.domain.quality import DIMENSIONS, FaultRow, figures, repeat_units

FONT = "YingdeCJK"
DIMENSION_ZH = {
    "model": "型号",
    "part": "零部件",
    "cause": "判定依据（原因）",
    "exclusion": "不保修情形",
    "dealer": "经销商",
    "region": "区域",
    "batch": "生产批次",
    "category": "类别",
    "channel": "渠道",
}
DIMENSION_EN = {
    "model": "model",
    "part": "part",
    "cause": "cause",
    "exclusion": "exclusion",
    "dealer": "dealer",
    "region": "region",
    "batch": "production batch",
    "category": "category",
    "channel": "channel",
}
ROW_FIELDS = (
    "case_id",
    "received_on",
    "status",
    "channel",
    "category",
    "serial_no",
    "model",
    "part",
    "cause",
    "exclusion",
    "dealer",
    "region",
    "batch",
    "days_in_repair",
    "satisfaction",
    "paths",
)
ROW_HEADINGS = (
    "案件 case",
    "受理日 received",
    "状态 status",
    "渠道 channel",
    "类别 category",
    "序列号 serial",
    "型号 model",
    "零部件 part",
    "原因 cause",
    "不保修 exclusion",
    "经销商 dealer",
    "区域 region",
    "批次 batch",
    "维修天数 days in repair",
    "满意度 satisfaction",
    "配件路径 parts paths",
)


class FontMissing(RuntimeError):
    pass


def to_csv(rows: list[FaultRow]) -> bytes:
    """One line per fault, every dimension a column (UTF-8 with a byte-order mark, as Excel opens it)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(ROW_HEADINGS)
    for r in rows:
        flat = r.flat()
        writer.writerow(["" if flat[f] is None else flat[f] for f in ROW_FIELDS])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(rows: list[FaultRow], *, start: date, end: date) -> bytes:
    """A summary sheet, one sheet per dimension, the repeat units and every fault."""
    book = Workbook()
    bold = Font(bold=True)
    summary = book.active
    summary.title = "概览 Summary"
    overall = figures(rows, by="model")["overall"]
    for line in (
        ("期间 period", f"{start} — {end}"),
        ("故障数 faults", overall["faults"]),
        ("涉及机器 units", overall["units"]),
        ("重复故障机器 units failing again", overall["repeat_units"]),
        ("平均维修天数 mean days in repair", overall["mean_days_in_repair"]),
        ("A 路径 本地采购 requests", overall["paths"]["A"]["requests"]),
        ("A 路径平均天数 mean days", overall["paths"]["A"]["mean_days"]),
        ("B 路径 供应商返修 requests", overall["paths"]["B"]["requests"]),
        ("B 路径平均天数 mean days", overall["paths"]["B"]["mean_days"]),
        ("平均满意度 mean satisfaction", overall["satisfaction"]["mean"]),
    ):
        summary.append(list(line))
    for dimension in DIMENSIONS:
        sheet = book.create_sheet(f"按{DIMENSION_ZH[dimension]}"[:31])
        sheet.append(
            [
                f"{DIMENSION_ZH[dimension]} {DIMENSION_EN[dimension]}",
                "故障数 faults",
                "占比 share",
                "机器 units",
                "重复 repeat units",
                "平均维修天数 mean days in repair",
                "满意度 satisfaction",
            ]
        )
        for g in figures(rows, by=dimension)["groups"]:
            sheet.append(
                [
                    g["key"],
                    g["faults"],
                    g["share"],
                    g["units"],
                    g["repeat_units"],
                    g["mean_days_in_repair"],
                    g["satisfaction"]["mean"],
                ]
            )
    repeats = book.create_sheet("重复故障 Repeat units")
    repeats.append(
        [
            "序列号 serial",
            "型号 model",
            "批次 batch",
            "经销商 dealer",
            "故障次数 faults",
            "案件 cases",
            "间隔天数 days between",
        ]
    )
    for u in repeat_units(rows):
        repeats.append(
            [
                u["serial_no"],
                u["model"],
                u["batch"],
                u["dealer"],
                u["faults"],
                ", ".join(u["cases"]),
                ", ".join(str(d) for d in u["days_between"]),
            ]
        )
    detail = book.create_sheet("明细 Cases")
    detail.append(list(ROW_HEADINGS))
    for r in rows:
        flat = r.flat()
        detail.append([flat[f].isoformat() if isinstance(flat[f], date) else flat[f] for f in ROW_FIELDS])
    for sheet in book.worksheets:
        for cell in sheet[1]:
            cell.font = bold
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# ------------------------------------------------------------------------------------ the monthly PDF


def _register(font: Path) -> None:
    if FONT in pdfmetrics.getRegisteredFontNames():
        return
    if not font.is_file():
        raise FontMissing(f"no Chinese font at {font} (install fonts-wqy-microhei or set QUALITY_PDF_FONT)")
    pdfmetrics.registerFont(TTFont(FONT, str(font), subfontIndex=0))


def _bars(title: str, groups: list[dict[str, Any]], *, limit: int = 8) -> Drawing:
    """A horizontal bar chart of fault counts (the largest groups), with its title and values."""
    shown = list(reversed(groups[:limit]))
    height = 40 + 18 * max(1, len(shown))
    drawing = Drawing(170 * mm, height)
    drawing.add(String(0, height - 12, title, fontName=FONT, fontSize=10))
    if not shown:
        drawing.add(String(0, height - 30, "本期无数据 / no data", fontName=FONT, fontSize=9))
        return drawing
    chart = HorizontalBarChart()
    chart.x, chart.y = 45 * mm, 10
    chart.width, chart.height = 110 * mm, height - 30
    chart.data = [[g["faults"] for g in shown]]
    chart.categoryAxis.categoryNames = [str(g["key"])[:18] for g in shown]
    chart.categoryAxis.labels.fontName = FONT
    chart.categoryAxis.labels.fontSize = 8
    chart.valueAxis.valueMin = 0
    chart.valueAxis.labels.fontSize = 7
    chart.bars[0].fillColor = colors.HexColor("#0b6e4f")
    chart.barLabelFormat = "%d"
    chart.barLabels.fontSize = 7
    chart.barLabels.nudge = 6
    drawing.add(chart)
    return drawing


def monthly_pdf(
    rows: list[FaultRow], *, month: str, start: date, end: date, font: Path, generated_at: datetime, by: str
) -> bytes:
    """品质部月度售后报告: the month's faults, charts by model, part, batch and region, the tables of
    causes, exclusions and dealers, the units failing again, path A against B, satisfaction."""
    _register(font)
    styles = {
        name: ParagraphStyle(name, fontName=FONT, fontSize=size, leading=size * 1.45, spaceAfter=space)
        for name, size, space in (("title", 16, 4), ("h2", 12, 4), ("body", 9.5, 2), ("small", 7.5, 0))
    }
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
        title=f"英德售后品质月报 {month} / Yingde quality report {month}",
        author="英德售后服务部",
    )
    overall = figures(rows, by="model")["overall"]
    story: list[Any] = [
        Paragraph(f"英德售后 品质部月度报告 {month}", styles["title"]),
        Paragraph(
            f"Yingde after-sales quality report, {month} · 期间 period {start} — {end}", styles["body"]
        ),
        Spacer(1, 4 * mm),
        _table(
            [
                [
                    "故障数 faults",
                    "涉及机器 units",
                    "重复故障机器 failing again",
                    "平均维修天数 days in repair",
                    "平均满意度 satisfaction",
                ],
                [
                    overall["faults"],
                    overall["units"],
                    overall["repeat_units"],
                    _fmt(overall["mean_days_in_repair"]),
                    _fmt(overall["satisfaction"]["mean"]),
                ],
            ]
        ),
        Spacer(1, 3 * mm),
        Paragraph("配件路径 Parts path: A 本地采购 local sourcing · B 供应商返修 supplier RMA", styles["h2"]),
        _table(
            [["路径 path", "申请 requests", "占比 share", "已修复 repaired", "平均天数 mean days"]]
            + [
                [
                    name,
                    overall["paths"][name]["requests"],
                    _pct(overall["paths"][name]["share"]),
                    overall["paths"][name]["repaired"],
                    _fmt(overall["paths"][name]["mean_days"]),
                ]
                for name in ("A", "B")
            ]
        ),
    ]
    for dimension in ("model", "part", "batch", "region"):
        groups = figures(rows, by=dimension)["groups"]  # type: ignore[arg-type]
        story += [
            Spacer(1, 4 * mm),
            _bars(f"按{DIMENSION_ZH[dimension]}的故障数 / faults by {DIMENSION_EN[dimension]}", groups),
        ]
    for dimension in ("cause", "exclusion", "dealer"):
        groups = figures(rows, by=dimension)["groups"]  # type: ignore[arg-type]
        story += [
            Spacer(1, 4 * mm),
            Paragraph(f"按{DIMENSION_ZH[dimension]} / by {DIMENSION_EN[dimension]}", styles["h2"]),
            _table(
                [["", "故障数 faults", "占比 share", "平均维修天数 days", "满意度 satisfaction"]]
                + [
                    [
                        g["key"],
                        g["faults"],
                        _pct(g["share"]),
                        _fmt(g["mean_days_in_repair"]),
                        _fmt(g["satisfaction"]["mean"]),
                    ]
                    for g in groups[:15]
                ]
            ),
        ]
    repeats = repeat_units(rows)
    story += [Spacer(1, 4 * mm), Paragraph("重复故障机器 / units failing again", styles["h2"])]
    story.append(
        _table(
            [["序列号 serial", "型号 model", "批次 batch", "次数 faults", "案件 cases"]]
            + [
                [u["serial_no"], u["model"], u["batch"], u["faults"], " ".join(u["cases"])]
                for u in repeats[:30]
            ]
        )
        if repeats
        else Paragraph("本月无 / none this month", styles["body"])
    )
    story += [
        Spacer(1, 6 * mm),
        Paragraph(
            f"生成于 generated {generated_at:%Y-%m-%d %H:%M} UTC · {by} · 占比为本期故障中的份额（系统中无分型号销量，"
            "不计算每台销量故障率） / shares are of the period's faults",
            styles["small"],
        ),
    ]
    doc.build(story)
    return out.getvalue()


def _table(data: list[list[Any]]) -> Table:
    table = Table([[("" if v is None else str(v)) for v in row] for row in data], hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), FONT),
                ("FONTSIZE", (0, 0), (-1, -1), 8),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eceff1")),
                ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#b0bec5")),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    return table


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:g}"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"
