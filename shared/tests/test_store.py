"""The store the suite runs on: lookups by `_id` (every aggregate read and write) use the `_id` index.

On the native stack this proves deploy/local/ferretdb/sqlite-id-index.patch is in the running FerretDB
(without it every lookup by id scans the whole collection); on MongoDB it holds by itself.
"""

from __future__ import annotations

import pytest
from pymongo import AsyncMongoClient

from shared.mongo import VersionedWrites

pytestmark = pytest.mark.integration


async def test_lookup_by_id_uses_the_index(isolation) -> None:
    mongo: AsyncMongoClient = AsyncMongoClient(isolation.backends.mongodb_url)
    name = f"t{isolation.unique}_store"
    isolation.databases.add(name)
    try:
        cases = mongo[name]["cases"]
        await cases.insert_many([{"_id": f"YD-{i:06d}", "status": "open"} for i in range(50)])
        plan = await cases.find({"_id": "YD-000042"}).explain()
        assert (await cases.find_one({"_id": "YD-000042"}))["status"] == "open"
    finally:
        await mongo.close()
    if "ferretdbVersion" in plan.get("serverInfo", {}):
        assert any("USING INDEX" in step for step in plan["queryPlanner"]["Plan"]), plan["queryPlanner"]
    else:
        assert "COLLSCAN" not in str(plan["queryPlanner"]), plan["queryPlanner"]


async def test_version_checked_writes_use_the_index_and_refuse_stale_versions_where_atomic(isolation) -> None:
    mongo: AsyncMongoClient = AsyncMongoClient(isolation.backends.mongodb_url)
    name = f"t{isolation.unique}_store"
    isolation.databases.add(name)
    try:
        db = mongo[name]
        await db["cases"].insert_many([{"_id": f"YD-{i:06d}", "version": 3} for i in range(50)])
        versioned = VersionedWrites(db)
        current = await db["cases"].update_one(await versioned.filter("YD-000042", 3), {"$set": {"version": 4}})
        assert current.matched_count == 1
        stale = await versioned.filter("YD-000042", 3)
        plan = await db["cases"].find(stale).explain()
        stale_write = await db["cases"].update_one(stale, {"$set": {"version": 4}})
    finally:
        await mongo.close()
    if "ferretdbVersion" in plan.get("serverInfo", {}):
        # Only a lone _id is looked up by index there; the caller's lock checks the version.
        assert stale == {"_id": "YD-000042"}
        assert any("USING INDEX" in step for step in plan["queryPlanner"]["Plan"]), plan["queryPlanner"]
    else:
        assert stale_write.matched_count == 0
