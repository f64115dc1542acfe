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
    """The manager acts on every case; a specialist only on their own (as assignee, or as the one who
    answers the customer on another department's case)."""
    return p.role == "manager" or (p.role in CASE_ACTORS and p.id in (case.assignee, case.liaison))


def can_answer(p: Principal, case: Case) -> bool:
    """§一.2: every result told to the customer, and the closure, go through the quality after-sales
    department: its manager, or the specialist who answers this case. Engineering records its work on
    the case; it does not answer the customer."""
    return p.role == "manager" or (p.role == "specialist" and case.window == p.id)


def sees_phone(p: Principal, case: Case) -> bool:
    return p.role in PHONE_READERS or (p.role in CASE_ACTORS and p.id in (case.assignee, case.liaison))


def phone_search_scope(p: Principal) -> dict[str, object] | None:
    """The cases `p` may search by phone: only those whose phone it may see (None: none at all).

    A search by phone tells whose number it is, so it is open exactly as far as the phone itself.
    """
    if p.role in PHONE_READERS:
        return {}
    if p.role in CASE_ACTORS:
        return {"$or": [{"assignee": p.id}, {"liaison": p.id}]}
    return None
