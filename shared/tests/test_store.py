"""The store the suite runs on: lookups by `_id` (every aggregate read and write) use the `_id` index.

On the native stack this proves deploy/local/ferretdb/sqlite-id-index.patch is in the running FerretDB
(without it every lookup by id scans the whole collection); on MongoDB it holds by itself.
"""

from __future__ import annotations

import pytest
from pymongo import AsyncMongoClient

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
