"""MongoDB access through PyMongo's async API (Motor's successor).

The suite relies on MongoDB's semantics, and shared/tests/test_store_conformance.py checks the store
in use has them: atomic conditional updates and `$inc`, unique indexes, transactions on a replica
set, and index use by every hot query. Every change to an aggregate goes through
shared.unit_of_work; repositories add queries, never another write path.
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

Document = dict[str, Any]
"""A stored document as the driver returns it."""


def connect(settings: ServiceSettings) -> AsyncMongoClient[Document]:
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


def database(client: AsyncMongoClient[Document], settings: ServiceSettings) -> AsyncDatabase[Document]:
    return client[settings.database_name]


async def ping(client: AsyncMongoClient[Document], timeout_s: float = 2.0) -> bool:
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
        return str(value)  # money stays exact as a string, and reads back as the model's Decimal
    return value
