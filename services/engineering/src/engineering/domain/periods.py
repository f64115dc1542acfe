"""Calendar periods of the installation: the maintenance year that acceptance starts (§二.3.4.2).

Periods are counted by shared.periods.add_months, the function warranty's clocks use too: accepted
2026-09-30 → maintained through 2027-09-30; accepted 2024-02-29 → through 2025-02-28.
"""

from __future__ import annotations

from datetime import date

from shared.periods import add_months
from shared.periods import (
    china_today as china_today,  # the one China clock; engineering's handlers import it here
)

# §二.3.4.2: 工程安装部分维保期为一年 (the installation work is maintained for one year from acceptance).
MAINTENANCE_MONTHS = 12


def maintenance_year_end(accepted_on: date) -> date:
    """The last day of free installation maintenance."""
    return add_months(accepted_on, MAINTENANCE_MONTHS)


def within_maintenance_year(accepted_on: date | None, day: date) -> bool | None:
    """True within the year after acceptance, False after it; None when no maintenance year applies.

    None covers "no accepted project" and work done before acceptance: until then the installer
    answers under the contract, and the maintenance year has not begun.
    """
    if accepted_on is None or day < accepted_on:
        return None
    return day <= maintenance_year_end(accepted_on)
