"""Who may read a case's warranty side and its files: the same readers as dispatch's case (R-EV-1)."""

from __future__ import annotations

from shared import roles
from shared.http.auth import Principal
from warranty.domain.facts import CaseFacts

READ_ALL = {
    "manager",
    "specialist",
    "engineering",
    "management",
    "operations",
    "front_desk",
    "finance",
    "purchasing",
}
UNIT_READERS = roles.UNIT_READERS


def can_read(p: Principal, facts: CaseFacts) -> bool:
    """Staff read every case; a dealer or regional manager only what came through their own channel."""
    if p.role in READ_ALL or p.role == "hotline":
        return True
    if p.role == "dealer":
        return facts.channel == "dealer" and facts.submitted_by == p.dealer_code
    if p.role == "regional_manager":
        return facts.channel == "regional_manager" and facts.submitted_by == p.manager_id
    return False


def can_act(p: Principal, facts: CaseFacts) -> bool:
    """The manager acts on every case; a specialist only on their own."""
    return p.role == "manager" or (p.role == "specialist" and facts.specialist_id == p.id)


def sees_prices(p: Principal, facts: CaseFacts) -> bool:
    """Refund and invoice amounts: the rule the console draws them by (shared.roles.sees_refund)."""
    return roles.sees_refund(p.role, p.id, facts.specialist_id)
