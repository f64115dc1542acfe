"""The repair record form 《产品(设备)售后服务维修记录单》 (R-PA-2, 附件 1), as a PDF with the Chinese
text embedded (a TrueType font), built from data already in the system."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from shared.periods import china_date

FONT = "YingdeCJK"
TITLE_ZH = "产品(设备)售后服务维修记录单"
TITLE_EN = "After-sales Service Repair Record"


class FontMissing(RuntimeError):
    pass


def _register(font: Path) -> None:
    if FONT in pdfmetrics.getRegisteredFontNames():
        return
    if not font.is_file():
        raise FontMissing(f"no Chinese font at {font} (install fonts-wqy-microhei or set PARTS_PDF_FONT)")
    pdfmetrics.registerFont(TTFont(FONT, str(font), subfontIndex=0))


def render_pdf(rows: list[tuple[str, str, str]], *, font: Path, footer: str) -> bytes:
    """rows: (Chinese label, English label, value). A4, one page for a typical record."""
    _register(font)
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4, pageCompression=1)
    pdf.setTitle(f"{TITLE_ZH} / {TITLE_EN}")
    width, height = A4
    left, right = 18 * mm, width - 18 * mm
    y = height - 22 * mm
    pdf.setFont(FONT, 16)
    pdf.drawCentredString(width / 2, y, TITLE_ZH)
    y -= 7 * mm
    pdf.setFont(FONT, 10)
    pdf.drawCentredString(width / 2, y, TITLE_EN)
    y -= 10 * mm
    label_w = 58 * mm
    for zh, en, value in rows:
        lines = _wrap(value or "—", 52)
        row_h = max(9 * mm, (len(lines) * 4.6 + 4) * mm)
        if y - row_h < 30 * mm:
            pdf.showPage()
            y = height - 20 * mm
        pdf.rect(left, y - row_h, right - left, row_h)
        pdf.line(left + label_w, y, left + label_w, y - row_h)
        pdf.setFont(FONT, 10)
        pdf.drawString(left + 2 * mm, y - 5 * mm, zh)
        pdf.setFont(FONT, 7)
        pdf.drawString(left + 2 * mm, y - 8.2 * mm, en)
        pdf.setFont(FONT, 10)
        for i, line in enumerate(lines):
            pdf.drawString(left + label_w + 2 * mm, y - (5 + 4.6 * i) * mm, line)
        y -= row_h
    y -= 14 * mm
    pdf.setFont(FONT, 10)
    pdf.drawString(left, y, "客户签字 / Customer's signature：______________________")
    pdf.drawString(left + 95 * mm, y, "日期 / Date：______________")
    y -= 10 * mm
    pdf.drawString(left, y, "维修人员签字 / Technician's signature：________________")
    pdf.setFont(FONT, 7)
    pdf.drawString(left, 12 * mm, footer)
    pdf.save()
    return out.getvalue()


def _wrap(text: str, width: int) -> list[str]:
    """Wrap by display width (a Chinese character counts two)."""
    lines: list[str] = []
    for paragraph in str(text).splitlines() or [""]:
        line, used = "", 0
        for ch in paragraph:
            w = 2 if ord(ch) > 0x2E80 else 1
            if used + w > width:
                lines.append(line)
                line, used = "", 0
            line += ch
            used += w
        lines.append(line)
    return lines


def record_rows(request: Any, ctx: Any, *, charges: str) -> list[tuple[str, str, str]]:
    """The form's rows, from the parts request and what dispatch and warranty told parts about the case."""
    repair = request.repair
    parts_replaced = "—"
    if repair:
        parts_replaced = f"{request.part}：旧 old {repair.old_serial or '—'} → 新 new {repair.new_serial or '—'}"
    path = "A 本地采购 / local sourcing" if request.path == "A" else "B 供应商返修 / supplier RMA"
    if request.path == "A" and request.local_source:
        path += f"（{request.local_source}）"
    if request.path == "B":
        path += f"（{request.supplier or ''} RMA {request.rma_no or '—'}）"
    return [
        ("受理编号", "Case no.", request.case_id),
        ("维修单号", "Parts request", request.request_id),
        ("客户", "Customer", ctx.customer_name or "—"),
        ("地址", "Address", ctx.customer_address or "—"),
        ("联系电话", "Phone", ""),
        ("产品型号", "Model", ctx.model or request.model or "—"),
        ("产品序列号", "Serial no.", ctx.serial_no or "—"),
        ("购买日期 / 发票号", "Purchase date / invoice", f"{ctx.purchase_date or '—'} / {ctx.invoice_no or '—'}"),
        ("客户反映", "Complaint", ctx.description or "—"),
        ("检查发现的故障", "Fault found", repair.fault_found if repair else "—"),
        ("故障原因", "Cause", repair.cause if repair else "—"),
        ("更换配件", "Parts replaced", parts_replaced),
        ("维修途径", "Path", path),
        ("维修人员", "Technician", repair.technician if repair else "—"),
        ("受理日期 / 维修日期", "Reported / repaired",
         f"{china_date(ctx.received_at) if ctx.received_at else '—'} / {repair.repaired_on if repair else '—'}"),
        ("保修判定", "Warranty", f"{ctx.decision or '—'} / {ctx.remedy or '—'}"),
        ("费用", "Charges", charges),
    ]
