"""Who may read and act on a project, and who sees its prices (R-EN-1).

Engineering staff act; management decides; every other staff role reads, without prices; channels
(dealers, regional managers, the hotline) have no business with installation projects. Prices are
the client contract's value, the installers' quotes and the amounts of the installer contract and
the settlement: only engineering and management see them.
"""

from __future__ import annotations

from typing import Any

from shared.roles import PROJECT_PRICE_READERS, PROJECT_READERS

READERS: tuple[str, ...] = PROJECT_READERS
ACTORS: tuple[str, ...] = ("engineering",)
DECIDERS: tuple[str, ...] = ("management",)
PRICE_ROLES = frozenset(PROJECT_PRICE_READERS)
# Every money field of the project is named one of these (a unit test holds the model to it), so
# stripping them by name leaves no price behind, however deep.
PRICE_FIELDS = frozenset(
    {"contract_value", "unit_price", "amount", "total", "lowest_total", "price_difference"}
)


def sees_prices(role: str) -> bool:
    return role in PRICE_ROLES


def without_prices(value: Any) -> Any:
    """The same structure with every price field removed, at any depth."""
    if isinstance(value, dict):
        return {k: without_prices(v) for k, v in value.items() if k not in PRICE_FIELDS}
    if isinstance(value, list):
        return [without_prices(v) for v in value]
    return value


def for_role(view: dict[str, Any], role: str) -> dict[str, Any]:
    """A view as `role` may read it, saying whether prices are in it."""
    shown = view if sees_prices(role) else without_prices(view)
    return {**shown, "prices_shown": sees_prices(role)}
