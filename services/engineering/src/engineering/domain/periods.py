"""Calendar periods of the installation: the maintenance year that acceptance starts (§二.3.4.2).

A period of N months ends on the day with the start's number N months later, or on that month's
last day when it has none (民法典 第二百零一、二百零二条): accepted 2026-09-30 → maintained through
2027-09-30; accepted 2024-02-29 → through 2025-02-28. Warranty counts its clocks the same way; both
must agree, or a unit would be "within the maintenance year" here and out of it there.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")
# §二.3.4.2: 工程安装部分维保期为一年 (the installation work is maintained for one year from acceptance).
MAINTENANCE_MONTHS = 12


def china_today(now: datetime) -> date:
    """The calendar day in China: documents are dated there, whatever the server's clock zone."""
    return now.astimezone(CHINA).date()


def months_later(start: date, months: int) -> date:
    """The day numbered like `start`, `months` later; the month's last day when there is no such day."""
    year, month_index = divmod(start.year * 12 + (start.month - 1) + months, 12)
    month = month_index + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def maintenance_year_end(accepted_on: date) -> date:
    """The last day of free installation maintenance."""
    return months_later(accepted_on, MAINTENANCE_MONTHS)


def within_maintenance_year(accepted_on: date | None, day: date) -> bool | None:
    """True within the year after acceptance, False after it; None when no maintenance year applies.

    None covers "no accepted project" and work done before acceptance: until then the installer
    answers under the contract, and the maintenance year has not begun.
    """
    if accepted_on is None or day < accepted_on:
        return None
    return day <= maintenance_year_end(accepted_on)
