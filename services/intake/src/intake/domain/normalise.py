"""Normalisation rules shared by the channels: phones, serials, models, regions, the category guess."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from shared.contracts.complaints import Category, CategoryGuess
from shared.contracts.ids import CASE_ID_RE as CASE_ID_RE  # re-exported: intake issues the case numbers
from shared.contracts.ids import new_case_id as new_case_id
from shared.periods import CHINA, china_today
from shared.reference import (
    canonical_product,
    canonical_region,
    product_of_serial,
    regions,
)


def normalise_region(raw: str) -> str:
    """The canonical region code; raises ValueError listing the accepted regions."""
    code = canonical_region(raw)
    if code is None:
        known = ", ".join(f"{r.code} ({r.name_zh})" for r in regions())
        raise ValueError(f"unknown region; use one of: {known}")
    return code


def local_datetime(value: datetime) -> datetime:
    """Naive times from the front desk are China time."""
    return value.replace(tzinfo=CHINA) if value.tzinfo is None else value


def not_in_future(value: date) -> date:
    if value > china_today():
        raise ValueError("the purchase date is in the future")
    return value


def reported_not_in_future(value: date) -> date:
    if value > china_today():
        raise ValueError("the day the customer reported it is in the future")
    return value


@dataclass(frozen=True)
class ModelMatch:
    model: str | None
    kind: str | None
    as_given: str | None


def match_model(model: str | None, serial_no: str | None) -> ModelMatch:
    """The catalogue model from what was typed, else from the serial number's prefix."""
    product = canonical_product(model) or product_of_serial(serial_no)
    return ModelMatch(product.model if product else None, product.kind if product else None, model)


# ---------------------------------------------------------------------------------------------
# The first category guess. Dispatch decides the department; this only gives it a head start and
# says why, so the manager can see at a glance whether to trust it.

_KEYWORDS: dict[Category, tuple[str, ...]] = {
    "installation": (
        "安装",
        "施工",
        "工程",
        "风管",
        "管道",
        "打孔",
        "吊顶",
        "漏水",
        "冷凝水",
        "走管",
        "接口",
        "安装工",
        "installation",
        "installer",
        "duct",
        "pipe",
        "ceiling",
        "leak",
    ),
    "consumable": (
        "滤网",
        "滤芯",
        "过滤网",
        "耗材",
        "更换滤",
        "换芯",
        "活性炭",
        "HEPA",
        "filter",
        "cartridge",
        "consumable",
        "replacement filter",
    ),
    "software": (
        "软件",
        "升级",
        "固件",
        "程序",
        "APP",
        "app",
        "手机控制",
        "wifi",
        "WiFi",
        "联网",
        "遥控",
        "显示屏",
        "死机",
        "software",
        "firmware",
        "update",
        "upgrade",
        "display",
        "remote",
        "wi-fi",
    ),
    "product_fault": (
        "不转",
        "不启动",
        "不开机",
        "噪音",
        "异响",
        "电机",
        "马达",
        "主板",
        "控制板",
        "故障",
        "坏了",
        "风量",
        "停机",
        "烧",
        "跳闸",
        "报错",
        "motor",
        "noise",
        "noisy",
        "control board",
        "fault",
        "broken",
        "won't start",
        "not working",
        "error",
    ),
}


_LOWERED_KEYWORDS = tuple((c, tuple((w, w.lower()) for w in ws)) for c, ws in _KEYWORDS.items())


def guess_category(
    *texts: tuple[str, str | None], product_kind: str | None = None, project_ref: str | None = None
) -> CategoryGuess:
    """Score each category by the keywords found in the labelled texts; ties go to product_fault."""
    scores: dict[Category, float] = {c: 0.0 for c in _KEYWORDS}
    evidence: dict[Category, list[str]] = {c: [] for c in _KEYWORDS}
    for label, text in texts:
        if not text:
            continue
        lowered = text.lower()
        for category, words in _LOWERED_KEYWORDS:
            for word, lowered_word in words:
                if lowered_word in lowered and f"{label}: {word}" not in evidence[category]:
                    scores[category] += 1
                    evidence[category].append(f"{label}: {word}")
    if product_kind == "filter":
        scores["consumable"] += 2
        evidence["consumable"].append("product: the model is a filter")
    if project_ref:
        scores["installation"] += 1
        evidence["installation"].append("project_ref: an installation project is named")
    best = max(scores, key=lambda c: (scores[c], c == "product_fault"))
    total = sum(scores.values())
    if scores[best] == 0:
        return CategoryGuess(
            category="product_fault",
            confidence=0.2,
            evidence=["no keyword matched: product fault by default"],
        )
    return CategoryGuess(category=best, confidence=round(scores[best] / total, 2), evidence=evidence[best])
