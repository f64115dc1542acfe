"""Which pages and widgets the console offers each role.

This only decides what to *show*: every service still refuses what a key may not do, so a hidden
button is a courtesy, never the protection. Prices in particular are shown to the two roles the
parts service serves them to, and never drawn for anyone else.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared import roles

# The rules of the services behind each page (shared.roles), so a page never offers what its
# service refuses.
PRICE_ROLES = frozenset(roles.PRICE_READERS)
PROJECT_PRICE_ROLES = frozenset(roles.PROJECT_PRICE_READERS)
CASE_READERS = frozenset(roles.CASE_READERS)
CASE_ACTORS = frozenset(roles.CASE_ACTORS)  # the manager, or the assignee
WARRANTY_READERS = frozenset(roles.WARRANTY_READERS)
PARTS_READERS = frozenset(roles.PARTS_READERS)
STATS_READERS = frozenset(roles.STATS_READERS)
QUALITY_READERS = frozenset(roles.QUALITY_READERS)  # 品质部's figures
# Who passes a customer's request to reopen a closed case on (dispatch decides; this only shows the form).
REOPENERS = frozenset(roles.CASE_REOPENERS)
MESSAGE_READERS = frozenset(roles.MESSAGE_READERS)  # what was sent to the customer (notifications)
PROJECT_READERS = frozenset(roles.PROJECT_READERS)
PROJECT_FILE_UPLOADERS = frozenset(roles.PROJECT_FILE_UPLOADERS)
UNIT_READERS = frozenset(roles.UNIT_READERS)
STOCK_READERS = frozenset(roles.PARTS_STAFF)
STOCK_KEEPERS = frozenset(roles.STOCK_KEEPERS)
PURCHASE_READERS = frozenset(roles.PURCHASE_READERS)
SOURCING = frozenset(roles.FIELD_WORKERS)
FIELD = frozenset(roles.FIELD_RECIPIENTS)  # receive the good part and repair on site (path B)
REPAIR_RECORD_READERS = frozenset(roles.REPAIR_RECORD_READERS)
# The console's own pages.
HOTLINE_DESK = frozenset({"front_desk", "hotline"})  # call entry and the caller's open cases
BOARD_READERS = frozenset({"manager", "management", "operations"})  # the triage board


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
_UNITS = NavItem("/units", "机器查询", "Units")

NAV.update(
    {
        "front_desk": (_HOTLINE, _CASES, _UNITS),
        "hotline": (_HOTLINE, _CASES),
        "manager": (_TRIAGE, _CASES, _UNITS, _STATS, _QUALITY, _STOCK, _PURCHASES),
        "specialist": (_MY, _CASES, _UNITS, _STOCK, _PRICES, _STATS, _QUALITY),
        "engineering": (_PROJECTS, _MY, _CASES, _UNITS, _STATS, _QUALITY),
        "management": (_PROJECTS, _STATS, _QUALITY, _CASES),
        "finance": (_PRICES, _STOCK, _CASES),
        "purchasing": (_PURCHASES, _STOCK, _CASES),
        "operations": (_CASES, _STATS, _QUALITY, _PROJECTS),
        "dealer": (_CHANNEL_CASES, _SUBMIT, _FIELD),
        "regional_manager": (_CHANNEL_CASES, _SUBMIT, _SOURCING, _FIELD),
    }
)


def home(role: str) -> str:
    items = NAV.get(role)
    return items[0].href if items else "/signin"


def sees_prices(role: str) -> bool:
    return role in PRICE_ROLES


# A case's refund amount: warranty's own rule, so the page draws it for exactly those warranty serves it to.
sees_refund = roles.sees_refund
