"""The store in use has the MongoDB semantics the suite relies on (whatever store that is).

Every correctness guarantee of the write path comes from the store: a write conditional on the
version is applied atomically, `$inc` is atomic, a unique index refuses a duplicate, an aborted
transaction leaves nothing. And every query a service runs on a hot path is served by an index, so
reads stay fast as the years of cases pile up. FerretDB v1 fails every one of these; the native
stack's SecantusDB and MongoDB pass. Indexes are created by the services' own code, so a query
whose index went missing fails here.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, OperationFailure

from dispatch.adapters.repository import CaseQueries, TimelineRepository
from dispatch.domain.case import Case
from engineering.adapters.repository import InstallationCaseQueries, ProjectQueries
from engineering.domain.case_work import InstallationCase
from engineering.domain.project import Project
from parts.adapters.repository import PartsRepository, PurchaseRequest, Quote
from parts.domain.repair_record import RepairRecord
from parts.domain.request import PartsRequest
from shared.unit_of_work import Aggregates, Store
from warranty.adapters.repository import CaseFactsQueries
from warranty.domain.facts import CaseFacts

pytestmark = pytest.mark.integration

WRITERS = 4


@pytest.fixture
async def db(isolation) -> AsyncIterator[AsyncDatabase]:
    client: AsyncMongoClient = AsyncMongoClient(isolation.backends.mongodb_url, tz_aware=True)
    name = f"t{isolation.unique}_conformance"
    isolation.databases.add(name)
    try:
        yield client[name]
    finally:
        await client.close()


async def test_compare_and_set_on_version_loses_no_update(db) -> None:
    """Four writers read, then write `{_id, version}` → version + 1: every success is an increment."""
    docs = db["cases"]
    await docs.insert_one({"_id": "YD-CAS0000001", "version": 1, "n": 0})
    successes = 0

    async def writer() -> None:
        nonlocal successes
        for _ in range(60):
            doc = await docs.find_one({"_id": "YD-CAS0000001"})
            done = await docs.update_one(
                {"_id": "YD-CAS0000001", "version": doc["version"]},
                {"$set": {"version": doc["version"] + 1, "n": doc["n"] + 1}},
            )
            successes += done.modified_count

    await asyncio.gather(*(writer() for _ in range(WRITERS)))
    final = await docs.find_one({"_id": "YD-CAS0000001"})
    assert successes > 0
    assert final["n"] == successes, f"{successes - final['n']} of {successes} successful writes were lost"
    assert final["version"] == 1 + successes


async def test_inc_is_atomic(db) -> None:
    counters = db["counters"]
    await counters.insert_one({"_id": "c", "n": 0})

    async def bump() -> None:
        for _ in range(200):
            await counters.update_one({"_id": "c"}, {"$inc": {"n": 1}})

    await asyncio.gather(*(bump() for _ in range(WRITERS)))
    assert (await counters.find_one({"_id": "c"}))["n"] == WRITERS * 200


async def test_unique_indexes_refuse_duplicates_including_array_elements(db) -> None:
    projects = db["projects"]
    await projects.create_index("serials", unique=True)
    await projects.insert_one({"_id": "P-2026-001", "serials": ["XF1", "XF2"]})
    with pytest.raises(DuplicateKeyError):
        await projects.insert_one({"_id": "P-2026-001", "serials": ["XF9"]})
    with pytest.raises(DuplicateKeyError):
        await projects.insert_one({"_id": "P-2026-002", "serials": ["XF3", "XF2"]})
    assert await projects.count_documents({}) == 1


async def test_an_aborted_transaction_leaves_nothing_and_a_committed_one_everything(db) -> None:
    units, projects = db["units"], db["projects"]
    await units.insert_one({"_id": "XF1", "registrations": []})

    async def work(tx: Any) -> None:
        await projects.insert_one({"_id": "P-1"}, session=tx.session)
        await units.update_one({"_id": "XF1"}, {"$push": {"registrations": "P-1"}}, session=tx.session)
        raise RuntimeError("abandoned half way")

    with pytest.raises(RuntimeError):
        await Store(db).transaction(work)
    assert await projects.count_documents({}) == 0
    assert (await units.find_one({"_id": "XF1"}))["registrations"] == []

    async def commit(tx: Any) -> None:
        await projects.insert_one({"_id": "P-2"}, session=tx.session)
        await units.update_one({"_id": "XF1"}, {"$push": {"registrations": "P-2"}}, session=tx.session)

    await Store(db).transaction(commit)
    assert await projects.count_documents({}) == 1
    assert (await units.find_one({"_id": "XF1"}))["registrations"] == ["P-2"]


async def test_a_transaction_a_killed_process_left_open_ends_within_seconds(db) -> None:
    """Every consumer batch commits in a transaction, so a kill -9 nearly always leaves one open: it
    holds what it wrote until the store's lifetime for transactions, 60 s unless the deployment
    shortens it (deploy/local/stack.sh, deploy/compose.yaml and the manifests set 10 s)."""
    answer = await db.client.admin.command({"getParameter": 1, "transactionLifetimeLimitSeconds": 1})
    assert answer["transactionLifetimeLimitSeconds"] <= 10


async def test_two_transactions_writing_one_document_conflict(db) -> None:
    """Snapshot isolation: the second writer of a document in an open transaction is refused."""
    docs = db["stock"]
    await docs.insert_one({"_id": "filter", "on_hand": 5})
    client = db.client
    async with client.start_session() as first, client.start_session() as second:
        await first.start_transaction()
        await second.start_transaction()
        await docs.update_one({"_id": "filter"}, {"$inc": {"on_hand": -1}}, session=first)
        with pytest.raises(OperationFailure) as refused:
            await docs.update_one({"_id": "filter"}, {"$inc": {"on_hand": -1}}, session=second)
        assert refused.value.has_error_label("TransientTransactionError")
        await second.abort_transaction()
        await first.commit_transaction()
    assert (await docs.find_one({"_id": "filter"}))["on_hand"] == 4


# ------------------------------------------------------------------------------------------ indexes


def _stages(plan: Any) -> list[str]:
    text = json.dumps(plan.get("queryPlanner", plan), default=str)
    return [s for s in ("COLLSCAN", "IXSCAN", "SCAN", "USING INDEX") if f'"{s}"' in text or s in text]


async def _plan(cursor: Any) -> dict[str, Any]:
    return await cursor.explain()


async def _service_indexes(db: AsyncDatabase) -> dict[str, Aggregates[Any]]:
    """Every collection with the indexes its service creates (through the service's own code)."""

    def agg(name: str, model: Any, id_field: str) -> Aggregates[Any]:
        return Aggregates(db[name], model, id_field=id_field, producer="conformance", publisher=None)  # type: ignore[arg-type]

    found = {
        "dispatch_cases": agg("dispatch_cases", Case, "case_id"),
        "warranty_cases": agg("warranty_cases", CaseFacts, "case_id"),
        "parts_requests": agg("parts_requests", PartsRequest, "request_id"),
        "quotes": agg("quotes", Quote, "quote_id"),
        "purchases": agg("purchases", PurchaseRequest, "request_id"),
        "repair_records": agg("repair_records", RepairRecord, "record_id"),
        "projects": agg("projects", Project, "project_id"),
        "installation_cases": agg("installation_cases", InstallationCase, "case_id"),
    }
    for a in found.values():
        await a.ensure_indexes()
    await CaseQueries(found["dispatch_cases"]).ensure_indexes()
    await TimelineRepository(db).ensure_indexes()
    await CaseFactsQueries(found["warranty_cases"]).ensure_indexes()
    await PartsRepository(
        db,
        Store(db),
        requests=found["parts_requests"],
        quotes=found["quotes"],
        purchases=found["purchases"],
        records=found["repair_records"],
    ).ensure_indexes()
    await ProjectQueries(db, found["projects"]).ensure_indexes()
    await InstallationCaseQueries(found["installation_cases"]).ensure_indexes()
    for a in found.values():
        # A few documents, so a plan is chosen over real data rather than an empty collection.
        await a.collection.insert_many(
            [{"_id": f"{a.collection.name}-{i}", "version": 1, "serials": [f"S{i}"]} for i in range(30)]
        )
    return found


async def test_every_hot_query_is_served_by_an_index(db) -> None:
    c = await _service_indexes(db)
    now = datetime.now(UTC)
    cases, timeline = c["dispatch_cases"].collection, db["timeline"]
    newest_first = [("received_at", -1), ("_id", 1)]
    hot: dict[str, Any] = {
        # dispatch: the manager's board, a specialist's cases, the deadline scan, lookups by phone/serial
        "cases by status, newest first": cases.find({"status": "assigned"}).sort(newest_first).limit(20),
        "open cases, newest first": cases.find({"open": True}).sort(newest_first).limit(20),
        "every case, newest first": cases.find({}).sort(newest_first).limit(20),
        "a specialist's open cases": cases.find({"assignee": "sp-liu", "open": True}).sort(newest_first),
        "deadline scan": cases.find({"next_deadline": {"$lte": now}}, {"_id": 1}).limit(500),
        "cases of a phone": cases.find({"customer.phone": "+8613812345678"}),
        "cases of a unit": cases.find({"product.serial_no": "XF2502405001234"}),
        "statistics for a month": cases.find({"received_at": {"$gte": now - timedelta(days=31), "$lt": now}}),
        "follow-ups due": cases.find({"status": "closed", "follow_up_due_on": {"$lte": "2026-12-01"}}).sort(
            "follow_up_due_on", 1
        ),
        "a specialist's follow-ups due (assignee or the one answering)": cases.find(
            {
                "status": "closed",
                "follow_up_due_on": {"$lte": "2026-12-01"},
                "$or": [{"assignee": "sp-liu"}, {"liaison": "sp-liu"}],
            }
        ).sort("follow_up_due_on", 1),
        "cases of the units of a case page (repeat links)": cases.find(
            {"product.serial_no": {"$in": ["XF2502405001234"]}}
        ).sort("received_at", 1),
        "open cases a specialist answers for another department (workloads)": cases.find(
            {"liaison": {"$in": ["sp-liu"]}, "open": True}
        ),
        "timeline of a case": timeline.find({"case_id": "YD-0000000001"}).sort(
            [("occurred_at", 1), ("recorded_at", 1)]
        ),
        # warranty: a unit's history
        "a unit's cases (warranty)": c["warranty_cases"].collection.find({"serial_no": "XF2502405001234"}),
        # parts: requests of a case, the path-A deadline scan, purchasing's list
        "parts requests of a case": c["parts_requests"].collection.find({"case_id": "YD-0000000001"}),
        "path A deadline scan": c["parts_requests"].collection.find(
            {"state": "sourcing_locally", "deadline": {"$lt": now}}
        ),
        "quotes of a case": c["quotes"].collection.find({"case_id": "YD-0000000001"}),
        "path B legs due": c["parts_requests"].collection.find({"next_leg_due": {"$lte": now}}),
        "requests a dealer receives the good part for": c["parts_requests"].collection.find(
            {"field_recipient": "D-GZ-001"}
        ),
        "open purchase requests": c["purchases"].collection.find({"status": "open"}).sort("requested_at", -1),
        # engineering: the project of a unit, projects by status, complaints of a project
        "the project of a unit": c["projects"].collection.find({"serials": "XF2502405001234"}),
        "projects by status": c["projects"].collection.find({"status": "opened"}).sort("opened_at", -1),
        "complaints of a project": c["installation_cases"]
        .collection.find({"project_id": "P-2026-001"})
        .sort("received_at", -1),
    }
    # the outbox relay of every aggregate collection
    for name, a in c.items():
        hot[f"outbox relay of {name}"] = a.collection.find({"outbox_at": {"$lte": now}}).sort("outbox_at", 1)
    unindexed = {}
    for what, cursor in hot.items():
        plan = await _plan(cursor)
        stages = _stages(plan)
        if "COLLSCAN" in stages or "IXSCAN" not in stages:
            unindexed[what] = plan.get("queryPlanner", {}).get("winningPlan", plan)
    assert not unindexed, (
        "queries served without an index:\n" + json.dumps(unindexed, default=str, indent=1)[:4000]
    )
