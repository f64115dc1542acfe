"""MongoDB access through PyMongo's async API (Motor's successor), the same code on FerretDB.

Persistence rules every repository follows, because FerretDB v1 lacks them: no multi-document
transactions, no change streams, no $lookup/$facet, no TTL or partial indexes, no dotted or
$-prefixed keys. Writes are idempotent upserts keyed by ids.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from shared.config import ServiceSettings


def connect(settings: ServiceSettings) -> AsyncMongoClient:
    """A client that fails fast when the store is unreachable (callers map that to 503 or a retry)."""
    timeout_ms = int(settings.mongodb_timeout_s * 1000)
    return AsyncMongoClient(
        settings.mongodb_url,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        socketTimeoutMS=timeout_ms * 2,
        appname=settings.service_name,
        tz_aware=True,
        uuidRepresentation="standard",
    )


def database(client: AsyncMongoClient, settings: ServiceSettings) -> AsyncDatabase:
    return client[settings.database_name]


async def ping(client: AsyncMongoClient, timeout_s: float = 2.0) -> bool:
    try:
        await asyncio.wait_for(client.admin.command("ping"), timeout_s)
        return True
    except Exception:
        return False


def bson_safe(value: Any) -> Any:
    """Model dumps as BSON accepts them: dates (not datetimes), decimals and UUIDs become strings.

    Datetimes stay datetimes so range queries and sorting work; pydantic parses the strings back.
    """
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: bson_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [bson_safe(v) for v in value]
    if isinstance(value, (uuid.UUID, Decimal)):
        return str(value)  # money stays exact as a string; FerretDB v1 has no decimal128
    return value


class VersionedWrites:
    """The filter of a write that must not overwrite a newer version of a document.

    On MongoDB it is `{_id, version}`, checked atomically by the store. FerretDB v1 uses the `_id`
    index only for a filter of `_id` alone; any other filter decodes every document in the collection
    (about a second per write at a thousand cases here), and it does not apply the filter atomically
    anyway. There the filter is `{_id}` and the version is checked by the caller, which holds the
    aggregate's lock (shared.locks) from its read to this write, so writers in one process never
    interleave. Which store it is comes from `buildInfo` on the first write.
    """

    def __init__(self, db: AsyncDatabase) -> None:
        self._db = db
        self._ferretdb: bool | None = None

    async def filter(self, doc_id: Any, version: int) -> dict[str, Any]:
        if self._ferretdb is None:
            info = await self._db.client.admin.command("buildInfo")
            self._ferretdb = "ferretdbVersion" in info
        return {"_id": doc_id} if self._ferretdb else {"_id": doc_id, "version": version}
