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


def record_rows(
    record: Any, ctx: Any, *, charges: str, path: str, show_phone: bool
) -> list[tuple[str, str, str]]:
    """The form's rows (附件 1), from the repair record and what dispatch and warranty told parts."""
    parts_used = (
        "；".join(
            f"{p.part} ×{p.quantity}"
            + (
                f"：旧 old {p.old_serial or '—'} → 新 new {p.new_serial or '—'}"
                if p.old_serial or p.new_serial
                else ""
            )
            for p in record.parts
        )
        or "—"
    )
    signed = record.customer_signature
    return [
        ("受理编号", "Case no.", record.case_id),
        ("维修记录单号", "Record no.", record.record_id),
        ("维修单号", "Parts request", record.request_id or "—"),
        ("客户", "Customer", record.customer_name or ctx.customer_name or "—"),
        ("地址", "Address", record.customer_address or ctx.customer_address or "—"),
        ("联系电话", "Phone", (record.customer_phone or "—") if show_phone else "（员工联 staff copy only）"),
        ("经销商", "Dealer", record.dealer_code or ctx.dealer_code or "—"),
        ("产品型号", "Model", record.model or ctx.model or "—"),
        ("产品序列号", "Serial no.", record.serial_no or "—"),
        (
            "购买日期 / 发票号",
            "Purchase date / invoice",
            f"{ctx.purchase_date or '—'} / {ctx.invoice_no or '—'}",
        ),
        ("客户反映", "Complaint", ctx.description or "—"),
        ("检查发现的故障", "Fault found", record.fault_found),
        ("故障原因", "Cause", record.cause),
        ("更换配件", "Parts replaced", parts_used),
        ("维修途径", "Path", path),
        ("维修内容 / 工时", "Labour / hours", f"{record.labour or '—'} / {record.labour_hours} h"),
        ("维修人员", "Technician", record.technician),
        ("受理日期 / 维修日期", "Reported / repaired", f"{record.reported_on or '—'} / {record.repaired_on}"),
        ("本机此前维修次数", "Earlier repairs of the unit", str(record.earlier_repairs)),
        ("保修判定", "Warranty", record.warranty or f"{ctx.decision or '—'} / {ctx.remedy or '—'}"),
        ("费用", "Charges", charges),
        ("客户签字确认", "Customer's signature", f"{signed.name}（{signed.signed_on}）" if signed else ""),
        (
            "维修人员签字",
            "Technician's signature",
            f"{record.technician_signature.name}（{record.technician_signature.signed_on}）"
            if record.technician_signature
            else "",
        ),
    ]


def path_of(request: Any | None) -> str:
    if request is None:
        return "现场维修 / on-site repair (no key part)"
    path = "A 本地采购 / local sourcing" if request.path == "A" else "B 供应商返修 / supplier RMA"
    if request.path == "A" and request.local_source:
        path += f"（{request.local_source}）"
    if request.path == "B":
        path += f"（{request.supplier or ''} RMA {request.rma_no or '—'}）"
    return path
