"""Calendar rules every service counts the same way: periods in months, and the day in China (the one
clock zone of the platform: CHINA, china_date, china_today).

A period of N months ends on the day with the start's number N months later, or on that month's last
day when it has none (民法典 第二百零一、二百零二条: the first day is not counted, the corresponding day
is the last): bought 2026-03-18 → through 2027-03-18; 2024-02-29 → through 2025-02-28. Warranty's
clocks and engineering's maintenance year use this one function, so they can never disagree.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

# China keeps one time zone, without daylight saving: UTC+8 all year.
CHINA = ZoneInfo("Asia/Shanghai")


def add_months(start: date, months: int) -> date:
    """The day numbered like `start`, `months` later; that month's last day when there is no such day."""
    year, month_index = divmod(start.year * 12 + (start.month - 1) + months, 12)
    month = month_index + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def china_date(moment: datetime) -> date:
    """The calendar day in China: documents are dated there, whatever the server's clock zone."""
    return moment.astimezone(CHINA).date()


def china_today(now: datetime | None = None) -> date:
    """Today in China, by `now` (a service's injectable clock) or else the system clock."""
    return china_date(now or datetime.now(UTC))
