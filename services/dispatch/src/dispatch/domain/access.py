"""Who may read and act on a case, and who sees the customer's phone (R-DS-2)."""

from __future__ import annotations

from dispatch.domain.case import Case
from shared.http.auth import Principal
from shared.roles import CASE_ACTORS, PHONE_READERS, STAFF_ROLES


def can_read(p: Principal, case: Case) -> bool:
    """Staff read every case; a dealer or regional manager only what came through their own channel."""
    if p.role in STAFF_ROLES:
        return True
    if p.role == "dealer":
        return case.channel == "dealer" and case.submitted_by == p.dealer_code
    if p.role == "regional_manager":
        return case.channel == "regional_manager" and case.submitted_by == p.manager_id
    if p.role == "hotline":
        return True  # the front desk checks a caller's open cases while on the line
    return False


def channel_scope(p: Principal) -> dict[str, str] | None:
    """The case filter a channel principal is confined to (None: no confinement)."""
    if p.role == "dealer":
        return {"channel": "dealer", "submitted_by": p.dealer_code or ""}
    if p.role == "regional_manager":
        return {"channel": "regional_manager", "submitted_by": p.manager_id or ""}
    return None


def can_act(p: Principal, case: Case) -> bool:
    """The manager acts on every case; a specialist only on their own."""
    return p.role == "manager" or (p.role in CASE_ACTORS and case.assignee == p.id)


def sees_phone(p: Principal, case: Case) -> bool:
    return p.role in PHONE_READERS or (p.role in CASE_ACTORS and case.assignee == p.id)


def phone_search_scope(p: Principal) -> dict[str, str] | None:
    """The cases `p` may search by phone: only those whose phone it may see (None: none at all).

    A search by phone tells whose number it is, so it is open exactly as far as the phone itself.
    """
    if p.role in PHONE_READERS:
        return {}
    if p.role in CASE_ACTORS:
        return {"assignee": p.id}
    return None
