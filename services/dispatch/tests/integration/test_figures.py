"""The figures statistics read: per case, folded by day, and never missing a change made meanwhile."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pymongo import AsyncMongoClient

from dispatch.adapters.repository import CaseFiguresByDay
from dispatch.domain.case import Case
from dispatch.domain.stats import CaseFigures
from shared.periods import china_date
from shared.testing.identities import new_case_id
from shared.unit_of_work import Aggregates

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
    isolation,
) -> None:
    client: AsyncMongoClient = AsyncMongoClient(isolation.backends.mongodb_url, tz_aware=True)
    db = client[f"t{isolation.unique}_figures"]
    isolation.databases.add(db.name)
    try:
        cases = Aggregates(db["cases"], Case, id_field="case_id", producer="dispatch", publisher=None)  # type: ignore[arg-type]
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
        assert len(await store.between(*month)) == 2
        assert (
            len(await store.between(None, None)) == 3
        )  # the old day is marked: read row by row until folded
        assert await db["case_figures_dirty_days"].count_documents({}) == 1  # today's changes mark nothing

        await store.compact()
        assert await db["case_figures_dirty_days"].count_documents({}) == 0
        assert len(await store.between(None, None)) == 3 and len(await store.between(*month)) == 2

        await store.record([(ids[2], figures(today - timedelta(days=40), status="closed"))])  # a later change
        assert sorted(f.status for f in await store.between(None, None)) == ["assigned", "assigned", "closed"]
        await store.compact()
        assert sorted(f.status for f in await store.between(None, None)) == ["assigned", "assigned", "closed"]
        old = (china_date(today) - timedelta(days=60), china_date(today) - timedelta(days=20))
        assert [f.status for f in await store.between(*old)] == ["closed"]
    finally:
        await client.close()
