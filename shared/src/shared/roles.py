"""The roles a caller holds, and the groups of them that more than one service decides by.

A service refuses what a role may not do; the console offers each role only what the services will
let it do. Both read these groups, so a page and the API behind it can never disagree.
"""

from __future__ import annotations

from typing import Literal

Role = Literal[
    "manager",
    "specialist",
    "finance",
    "purchasing",
    "engineering",
    "management",
    "operations",
    "front_desk",
    "hotline",
    "regional_manager",
    "dealer",
]

# Staff of the company, each key bound to a person (mgr-chen, sp-liu, ...).
STAFF_ROLES: tuple[Role, ...] = (
    "manager",
    "specialist",
    "finance",
    "purchasing",
    "engineering",
    "management",
    "operations",
    "front_desk",
)
# The channels complaints come through: they see only what they raised themselves.
CHANNEL_ROLES: tuple[Role, ...] = ("hotline", "regional_manager", "dealer")

# Cases (dispatch). Channels read only their own cases; the manager acts on every case, the other
# actors on the cases assigned to them.
CASE_READERS: tuple[Role, ...] = STAFF_ROLES + CHANNEL_ROLES
CASE_ACTORS: tuple[Role, ...] = ("manager", "specialist", "engineering")
PHONE_READERS: tuple[Role, ...] = ("manager", "front_desk", "hotline")  # and the case's assignee
STATS_READERS: tuple[Role, ...] = ("manager", "management", "specialist", "operations", "engineering")
# The quality department's figures (R-DS-7): fault counts, repeat units, exports, the monthly report.
QUALITY_READERS: tuple[Role, ...] = ("manager", "management", "specialist", "operations", "engineering")
# Who passes a customer's request to reopen a closed case on (or the manager, who reopens any).
CASE_REOPENERS: tuple[Role, ...] = (
    "manager",
    "specialist",
    "front_desk",
    "hotline",
    "dealer",
    "regional_manager",
)
# What was sent to the customer and its delivery state (notifications); operations retries a failure.
MESSAGE_READERS: tuple[Role, ...] = ("manager", "specialist", "operations", "management", "front_desk")
MESSAGE_RETRIERS: tuple[Role, ...] = ("operations", "manager")

# Warranty decisions and their evidence.
# A unit's record (sale, repairs, exchanges) and its files: the staff who handle cases and projects.
UNIT_READERS: tuple[Role, ...] = (
    "manager",
    "specialist",
    "engineering",
    "management",
    "operations",
    "front_desk",
)
WARRANTY_READERS: tuple[Role, ...] = (
    "manager",
    "specialist",
    "engineering",
    "management",
    "front_desk",
    "operations",
)

# Parts: requests, stock and consumable prices (R-PA-4: prices for finance and the specialist only).
PARTS_STAFF: tuple[Role, ...] = tuple(r for r in STAFF_ROLES if r != "front_desk")
PARTS_READERS: tuple[Role, ...] = (*PARTS_STAFF, "regional_manager")
PRICE_READERS: tuple[Role, ...] = ("finance", "specialist")
FIELD_WORKERS: tuple[Role, ...] = (
    "specialist",
    "manager",
    "regional_manager",
)  # source locally, repair on site
# Path B: whom the good part is shipped to in the field, who confirm its receipt and record the repair.
FIELD_RECIPIENTS: tuple[Role, ...] = ("dealer", "regional_manager")
STOCK_KEEPERS: tuple[Role, ...] = ("purchasing", "specialist", "manager")
PURCHASE_READERS: tuple[Role, ...] = ("purchasing", "manager", "specialist")
REPAIR_RECORD_READERS: tuple[Role, ...] = (
    "specialist",
    "manager",
    "finance",
    "engineering",
    "regional_manager",
)

# Installation projects (engineering): every staff role reads; contract values and installer quotes
# for engineering and management only (R-EN-1).
PROJECT_READERS: tuple[Role, ...] = STAFF_ROLES
PROJECT_PRICE_READERS: tuple[Role, ...] = ("engineering", "management")
# Who adds files to a project (signed forms, site photos); every project reader lists and downloads them.
PROJECT_FILE_UPLOADERS: tuple[Role, ...] = ("engineering", "management")

# Topics, lag and dead letters (operations).
OPERATIONS_WATCHERS: tuple[Role, ...] = ("operations", "manager", "management")


def sees_refund(role: str, person: str, case_specialist: str | None) -> bool:
    """A case's refund and the invoice price behind it: finance, who pays it, and the case's own
    specialist, through whom every quote goes; never another specialist, the manager or a channel.
    Warranty serves the amount and the console draws it by this one rule."""
    return role == "finance" or (role == "specialist" and person == case_specialist)
