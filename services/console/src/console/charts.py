"""Charts drawn on the server as inline SVG.

Why not a JavaScript chart library: the console must work with no internet at run time and with no
front-end build step; inline SVG needs neither a CDN nor a vendored bundle, prints, shows with
scripts off, scales on a phone (viewBox), and its numbers are plain text a test or a screen reader
can read. The charts here are simple (bars, stacked columns), which SVG does well in a few lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

PALETTE = ("#0b6e4f", "#2f80ed", "#f2994a", "#9b51e0", "#eb5757", "#27ae60", "#56ccf2", "#828282")


@dataclass(frozen=True)
class Bar:
    zh: str
    en: str
    values: tuple[float | None, ...]


@dataclass(frozen=True)
class Series:
    zh: str
    en: str
    values: tuple[float, ...]


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    text = f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
    return f"{text}{unit}"


def _label(x: float, y: float, zh: str, en: str, *, anchor: str = "end", size: int = 12) -> str:
    common = f'x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}"'
    if zh == en:
        return f"<text {common}>{escape(zh)}</text>"
    return f'<text class="zh" {common}>{escape(zh)}</text><text class="en" {common}>{escape(en)}</text>'


def hbars(
    bars: Sequence[Bar], *, title: str, unit: str = "", legend: Sequence[tuple[str, str]] = ()
) -> Markup:
    """Horizontal bars, one row per label, one bar per value (e.g. median and p90 side by side)."""
    if not bars:
        return Markup(
            '<p class="muted"><span class="zh">暂无数据</span><span class="en">No data yet</span></p>'
        )
    per_row = max(len(b.values) for b in bars)
    bar_h, gap, label_w, width = 14, 10, 130, 560
    row_h = per_row * bar_h + gap
    legend_h = 22 if legend else 0
    height = legend_h + len(bars) * row_h + 6
    top = max((v for b in bars for v in b.values if v is not None), default=0) or 1
    scale = (width - label_w - 60) / top
    out = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
        f'preserveAspectRatio="xMinYMin meet"><title>{escape(title)}</title>'
    ]
    for i, (zh, en) in enumerate(legend):
        x = label_w + i * 120
        out.append(f'<rect x="{x}" y="4" width="12" height="12" fill="{PALETTE[i % len(PALETTE)]}"/>')
        out.append(_label(x + 16, 14, zh, en, anchor="start"))
    for r, b in enumerate(bars):
        y0 = legend_h + r * row_h
        out.append(_label(label_w - 8, y0 + per_row * bar_h / 2 + 4, b.zh, b.en))
        for j, v in enumerate(b.values):
            y = y0 + j * bar_h
            w = max(0.0, (v or 0) * scale)
            out.append(
                f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h - 2}" '
                f'fill="{PALETTE[j % len(PALETTE)]}"><title>{escape(_fmt(v, unit))}</title></rect>'
            )
            out.append(
                f'<text x="{label_w + w + 4:.1f}" y="{y + bar_h - 4}" font-size="11" '
                f'data-value="{escape(_fmt(v))}">{escape(_fmt(v, unit))}</text>'
            )
    out.append("</svg>")
    return Markup("".join(out))


def stacked_columns(periods: Sequence[str], series: Sequence[Series], *, title: str) -> Markup:
    """Counts over time: one column per period, stacked by series (channel, category)."""
    if not periods or not any(any(s.values) for s in series):
        return Markup(
            '<p class="muted"><span class="zh">暂无数据</span><span class="en">No data yet</span></p>'
        )
    width, height, left, bottom, legend_h = 560, 260, 36, 40, 24
    plot_h = height - bottom - legend_h
    totals = [sum(s.values[i] for s in series) for i in range(len(periods))]
    top = max(totals) or 1
    col_w = (width - left - 10) / len(periods)
    out = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
        f'preserveAspectRatio="xMinYMin meet"><title>{escape(title)}</title>'
    ]
    for i, s in enumerate(series):
        x = left + i * 105
        out.append(f'<rect x="{x}" y="4" width="12" height="12" fill="{PALETTE[i % len(PALETTE)]}"/>')
        out.append(_label(x + 16, 14, s.zh, s.en, anchor="start", size=11))
    base_y = legend_h + plot_h
    out.append(f'<line x1="{left}" y1="{base_y}" x2="{width - 6}" y2="{base_y}" stroke="#999"/>')
    out.append(
        f'<text x="{left - 4}" y="{legend_h + 10}" font-size="10" text-anchor="end">{_fmt(top)}</text>'
    )
    for i, period in enumerate(periods):
        x = left + i * col_w + col_w * 0.15
        w = col_w * 0.7
        y = base_y
        for j, s in enumerate(series):
            v = s.values[i]
            if not v:
                continue
            h = v / top * plot_h
            y -= h
            out.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" '
                f'fill="{PALETTE[j % len(PALETTE)]}"><title>{escape(period)} {escape(s.zh)} / '
                f"{escape(s.en)}: {_fmt(v)}</title></rect>"
            )
        if totals[i]:
            out.append(
                f'<text x="{x + w / 2:.1f}" y="{y - 3:.1f}" font-size="10" text-anchor="middle">'
                f"{_fmt(totals[i])}</text>"
            )
        out.append(
            f'<text x="{x + w / 2:.1f}" y="{base_y + 14}" font-size="10" text-anchor="middle">'
            f"{escape(period)}</text>"
        )
    out.append("</svg>")
    return Markup("".join(out))
