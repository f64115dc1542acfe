"""The figures statistics read: per case, folded by day, and never missing a change made meanwhile."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from dispatch.adapters.repository import CaseFiguresByDay
from dispatch.domain.stats import CaseFigures
from shared.periods import china_date
from shared.testing.identities import new_case_id

pytestmark = pytest.mark.integration


def figures(received_at: datetime, status: str = "assigned") -> CaseFigures:
    return CaseFigures(
        "hotline",
        "product_fault",
        "south_china",
        "sp-liu",
        "quality",
        status,
        received_at,
        received_at,
        None,
        None,
        False,
        None,
    )


async def test_recent_days_are_read_row_by_row_older_days_folded_and_a_later_change_read_again(
    case_store,
) -> None:
    db, cases = case_store.db, case_store.cases
    store = CaseFiguresByDay(db, cases)
    await store.ensure_indexes()
    today = datetime.now(UTC)
    ids = [new_case_id() for _ in range(3)]
    await store.record(
        [
            (ids[0], figures(today)),
            (ids[1], figures(today)),
            (ids[2], figures(today - timedelta(days=40))),
        ]
    )
    month = (china_date(today) - timedelta(days=30), china_date(today))

    async def count(first: date | None = None, last: date | None = None) -> tuple[int, int]:
        """(cases, closed) received from first to last."""
        overall = (await store.tallies(first, last, group_by="channel", period="week")).overall
        return overall.count, overall.closed

    assert await count(*month) == (2, 0)
    assert await count() == (3, 0)  # the old day is marked: read row by row until folded
    assert await db["case_figures_dirty_days"].count_documents({}) == 1  # today's changes mark nothing

    await store.compact()
    assert await db["case_figures_dirty_days"].count_documents({}) == 0
    old_day = (china_date(today) - timedelta(days=40)).isoformat()
    assert (await db["case_figures_by_day"].find_one({"_id": old_day}))["all"]["count"] == 1
    assert await count() == (3, 0) and await count(*month) == (2, 0)

    await store.record([(ids[2], figures(today - timedelta(days=40), status="closed"))])  # a later change
    assert await count() == (3, 1)
    await store.compact()
    assert await count() == (3, 1)
    old = (china_date(today) - timedelta(days=60), china_date(today) - timedelta(days=20))
    assert await count(*old) == (1, 1)
    by_region = await store.tallies(*old, group_by="region", period="week")
    assert {k: t.count for k, t in by_region.groups.items()} == {"south_china": 1}


async def test_a_day_folded_as_rows_is_read_by_its_rows_and_folded_again_at_start_up(case_store) -> None:
    db, cases = case_store.db, case_store.cases
    store = CaseFiguresByDay(db, cases)
    await store.ensure_indexes()
    received = datetime.now(UTC) - timedelta(days=100)
    day = china_date(received).isoformat()
    await store.record([(new_case_id(), figures(received)), (new_case_id(), figures(received, "closed"))])
    await store.compact()
    # As the store held it before days kept tallies: the day's rows, nothing added up.
    await db["case_figures_by_day"].replace_one(
        {"_id": day}, {"rows": [figures(received).as_row()] * 2, "folded_at": received}
    )
    assert await db["case_figures_dirty_days"].count_documents({}) == 0
    first = (await store.tallies(None, None, group_by="period", period="month")).overall
    assert (first.count, first.closed) == (2, 1)  # read from case_figures, the rows as they are now

    assert await store.rebuild_if_missing() == 0  # nothing rebuilt; the old day marked
    assert await db["case_figures_dirty_days"].count_documents({"_id": day}) == 1
    await store.compact()
    assert (await db["case_figures_by_day"].find_one({"_id": day}))["all"]["closed"] == 1
    again = (await store.tallies(None, None, group_by="period", period="month")).overall
    assert (again.count, again.closed) == (2, 1)


async def test_days_that_left_the_recent_ones_while_dispatch_was_stopped_are_all_folded(case_store) -> None:
    db, cases = case_store.db, case_store.cases
    stopped_at = datetime.now(UTC)
    before = CaseFiguresByDay(db, cases, clock=lambda: stopped_at)
    await before.ensure_indexes()
    # A case a day over the last week: recent days, read row by row, marked for nothing.
    await before.record([(new_case_id(), figures(stopped_at - timedelta(days=d))) for d in range(7)])
    await before.compact()
    assert await db["case_figures_dirty_days"].count_documents({}) == 0

    # Dispatch comes back twelve days later: the week's days all left the recent ones meanwhile.
    after = CaseFiguresByDay(db, cases, clock=lambda: stopped_at + timedelta(days=12))
    await after.compact()
    folded = await db["case_figures_by_day"].count_documents({"all.count": 1})
    assert folded == 7
    assert (await after.tallies(None, None, group_by="channel", period="week")).overall.count == 7
