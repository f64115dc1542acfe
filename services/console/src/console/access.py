"""Which pages and widgets the console offers each role.

This only decides what to *show*: every service still refuses what a key may not do, so a hidden
button is a courtesy, never the protection. Prices in particular are shown to the two roles the
parts service serves them to, and never drawn for anyone else.
"""

from __future__ import annotations

from dataclasses import dataclass

PRICE_ROLES = frozenset({"specialist", "finance"})
PROJECT_PRICE_ROLES = frozenset({"engineering", "management"})
CASE_READERS = frozenset({"manager", "specialist", "engineering", "management", "operations", "front_desk",
                          "finance", "purchasing", "dealer", "regional_manager", "hotline"})
CASE_ACTORS = frozenset({"manager", "specialist", "engineering"})  # the manager, or the assignee
WARRANTY_READERS = frozenset({"manager", "specialist", "engineering", "management", "front_desk", "operations"})
PARTS_READERS = frozenset({"manager", "specialist", "engineering", "finance", "purchasing", "management",
                           "operations", "regional_manager"})
STATS_READERS = frozenset({"manager", "management", "specialist", "operations", "engineering"})
QUALITY_READERS = frozenset({"manager", "management", "specialist", "operations"})  # 品质部's figures
# Who passes a customer's request to reopen a closed case on (dispatch decides; this only shows the form).
REOPENERS = frozenset({"manager", "specialist", "front_desk", "hotline", "dealer", "regional_manager"})
PROJECT_READERS = frozenset({"manager", "specialist", "finance", "purchasing", "engineering", "management",
                             "operations", "front_desk"})
STOCK_READERS = frozenset({"manager", "specialist", "engineering", "finance", "purchasing", "management", "operations"})
STOCK_KEEPERS = frozenset({"purchasing", "specialist", "manager"})
PURCHASE_READERS = frozenset({"purchasing", "manager", "specialist"})
SOURCING = frozenset({"regional_manager", "specialist", "manager"})
FIELD = frozenset({"dealer", "regional_manager"})  # receive the good part and repair on site (path B)


@dataclass(frozen=True)
class NavItem:
    href: str
    zh: str
    en: str


NAV: dict[str, tuple[NavItem, ...]] = {}
_HOTLINE = NavItem("/hotline", "来电登记", "Call entry")
_TRIAGE = NavItem("/triage", "分派看板", "Triage board")
_STATS = NavItem("/stats", "统计", "Statistics")
_QUALITY = NavItem("/quality", "品质统计", "Quality figures")
_CASES = NavItem("/cases", "案件", "Cases")
_MY = NavItem("/my", "我的案件", "My cases")
_PROJECTS = NavItem("/projects", "工程项目", "Projects")
_PRICES = NavItem("/prices", "价格表", "Price lists")
_STOCK = NavItem("/stock", "库存", "Stock")
_PURCHASES = NavItem("/purchases", "采购申请", "Purchase requests")
_SUBMIT = NavItem("/submit", "提交投诉", "Submit a complaint")
_CHANNEL_CASES = NavItem("/cases", "我的投诉", "My complaints")
_SOURCING = NavItem("/sourcing", "本地采购", "Local sourcing")
_FIELD = NavItem("/field-parts", "现场维修配件", "Parts for on-site repair")

NAV.update({
    "front_desk": (_HOTLINE, _CASES),
    "hotline": (_HOTLINE, _CASES),
    "manager": (_TRIAGE, _CASES, _STATS, _QUALITY, _STOCK, _PURCHASES),
    "specialist": (_MY, _CASES, _STOCK, _PRICES, _STATS, _QUALITY),
    "engineering": (_PROJECTS, _MY, _CASES, _STATS),
    "management": (_PROJECTS, _STATS, _QUALITY, _CASES),
    "finance": (_PRICES, _STOCK, _CASES),
    "purchasing": (_PURCHASES, _STOCK, _CASES),
    "operations": (_CASES, _STATS, _QUALITY, _PROJECTS),
    "dealer": (_CHANNEL_CASES, _SUBMIT, _FIELD),
    "regional_manager": (_CHANNEL_CASES, _SUBMIT, _SOURCING, _FIELD),
})


def home(role: str) -> str:
    items = NAV.get(role)
    return items[0].href if items else "/signin"


def sees_prices(role: str) -> bool:
    return role in PRICE_ROLES
