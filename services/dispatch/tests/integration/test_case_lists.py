"""Lists of cases, newest first, page by page: the same pages whether read in one query or in windows
of time (how lists are read once there are many matches), however far back the cases go."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

import pytest

from dispatch.adapters.repository import CaseQueries
from dispatch.domain.case import OPEN_STATUSES, open_case
from dispatch.domain.targets import TargetPolicy
from shared.contracts.complaints import ComplaintReceived
from shared.contracts.registry import load_registry
from shared.testing.identities import new_case_id

pytestmark = pytest.mark.integration

EXAMPLE = load_registry().get("intake.complaints.v1").events[0].examples[0]["payload"]
POLICY = TargetPolicy.from_mapping({"targets": {"*": {"*": {"assign": 4, "first_reply": 24, "close": 168}}}})


async def test_pages_are_the_same_in_one_query_and_in_windows_back_over_two_years(case_store) -> None:
    db, cases = case_store.db, case_store.cases
    now = datetime.now(UTC)
    rng = random.Random(3)
    docs = []
    for i in range(90):
        # Two of every three within the last month, the rest spread over two years; a few share a second.
        received = now - timedelta(days=rng.uniform(0, 30) if i % 3 else rng.uniform(30, 730))
        received = (
            received.replace(microsecond=0) if i % 7 else now.replace(microsecond=0) - timedelta(days=2)
        )
        complaint = ComplaintReceived.model_validate(
            {**EXAMPLE, "case_id": new_case_id(), "received_at": received.isoformat()}
        )
        case = open_case(complaint, event_id=f"e-{i}", department="quality", priority="normal", policy=POLICY)
        if i % 2:
            case.assign("sp-liu", by="auto", reason="test", now=received + timedelta(minutes=1))
        docs.append({"_id": case.case_id, "version": 1, **cases._fields(case)})
    await db["cases"].insert_many(docs)
    one_query = CaseQueries(cases, few=10**6)
    windows = CaseQueries(cases, few=0)
    await one_query.ensure_indexes()
    open_of_liu = {"assignee": "sp-liu", "status": {"$in": list(OPEN_STATUSES)}}
    for query in ({}, open_of_liu):
        expected = sorted(
            (d for d in docs if all(d.get(k) == v for k, v in query.items() if k != "status")),
            key=lambda d: (-d["received_at"].timestamp(), d["_id"]),
        )
        for skip in (0, 20, 40, 80):
            by_one, total = await one_query.find(query, skip=skip, limit=20)
            by_windows, _ = await windows.find(query, skip=skip, limit=20)
            ids = [d["_id"] for d in expected[skip : skip + 20]]
            assert total == len(expected)
            assert [c.case_id for c in by_one] == ids, (query, skip)
            assert [c.case_id for c in by_windows] == ids, (query, skip)


async def test_cases_stored_before_open_was_kept_are_marked_at_start_up(case_store) -> None:
    db, cases = case_store.db, case_store.cases
    await db["cases"].insert_many(
        [
            {"_id": f"YD-OLD{i}", "status": s}
            for i, s in enumerate(("received", "closed", "resolved", "followed_up"))
        ]
    )
    queries = CaseQueries(cases)
    assert await queries.mark_open() == 4
    assert await queries.mark_open() == 0  # once only
    marked = {d["_id"]: d["open"] async for d in db["cases"].find({}, {"open": 1})}
    assert marked == {"YD-OLD0": True, "YD-OLD1": False, "YD-OLD2": True, "YD-OLD3": False}


async def test_a_long_lists_count_is_kept_and_counted_again_behind_the_pages(case_store) -> None:
    db, cases = case_store.db, case_store.cases
    await db["cases"].insert_many([{"_id": f"YD-C{i}", "open": True} for i in range(6)])
    queries = CaseQueries(cases, few=5)  # more than five matches is a long list here
    assert await queries.count({"open": True}) == 6
    await db["cases"].insert_one({"_id": "YD-C6", "open": True})
    assert await queries.count({"open": True}) == 6  # kept: the page does not count again
    [key] = queries._counted
    queries._counted[key] = (queries._counted[key][0] - 11, 6)  # older than fresh, not stale
    assert await queries.count({"open": True}) == 6  # served as kept while it is counted again
    await asyncio.gather(*queries._recounting.values())
    assert await queries.count({"open": True}) == 7
    queries._counted[key] = (queries._counted[key][0] - 301, 7)  # too old to serve: counted now
    await db["cases"].insert_one({"_id": "YD-C7", "open": True})
    assert await queries.count({"open": True}) == 8
    assert await queries.count({"open": False}) == 0  # a short list is counted every time
    await db["cases"].update_many({"_id": {"$in": ["YD-C0", "YD-C1", "YD-C2"]}}, {"$set": {"open": False}})
    queries._counted[key] = (queries._counted[key][0] - 11, 8)
    assert await queries.count({"open": True}) == 8  # served as kept while it is counted again
    await asyncio.gather(*queries._recounting.values())
    assert await queries.count({"open": True}) == 5  # short again: its old total is not kept
    assert queries._counted == {}
