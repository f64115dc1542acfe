"""Calendar periods of the installation: the maintenance year that acceptance starts (§二.3.4.2).

Its length is not engineering's to decide: it is `installation_workmanship_months` of the dated rule
set warranty decides with (shared.rulesets), the set in effect on the day it is judged, as warranty
chooses its own. Periods are counted by shared.periods.add_months, the function warranty's clocks use
too: accepted 2026-09-30, 12 months → maintained through 2027-09-30; 2024-02-29 → through 2025-02-28.
"""

from __future__ import annotations

from datetime import date

from shared.periods import add_months
from shared.periods import (
    china_today as china_today,  # the one China clock; engineering's handlers import it here
)
from shared.rulesets import PeriodBook


def maintenance_months(book: PeriodBook, on: date) -> int:
    """§二.3.4.2 工程安装部分维保期: the months the rule set in effect on `on` gives it."""
    return book.for_day(on).installation_workmanship_months


def maintenance_year_end(accepted_on: date, months: int) -> date:
    """The last day of free installation maintenance."""
    return add_months(accepted_on, months)


def within_maintenance_year(accepted_on: date | None, day: date, months: int) -> bool | None:
    """True within the maintenance year after acceptance, False after it; None when none applies.

    None covers "no accepted project" and work done before acceptance: until then the installer
    answers under the contract, and the maintenance year has not begun.
    """
    if accepted_on is None or day < accepted_on:
        return None
    return day <= maintenance_year_end(accepted_on, months)
