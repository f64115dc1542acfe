"""MongoDB access through PyMongo's async API (Motor's successor).

The suite relies on MongoDB's semantics, and shared/tests/test_store_conformance.py checks the store
in use has them: atomic conditional updates and `$inc`, unique indexes, transactions on a replica
set, and index use by every hot query. Every change to an aggregate goes through
shared.unit_of_work; repositories add queries, never another write path.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from pymongo import AsyncMongoClient, DeleteOne, InsertOne, ReplaceOne, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure
from pymongo.results import BulkWriteResult

from shared.config import ServiceSettings
from shared.kafka.consumer import TransientError

Document = dict[str, Any]
"""A stored document as the driver returns it."""

T = TypeVar("T")


class ConcurrentChange(TransientError):
    """Other writers kept changing the aggregate; worth retrying a little later (503, or redelivery)."""


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


async def in_one_transaction(
    client: AsyncMongoClient[Document],
    work: Callable[[AsyncClientSession], Awaitable[T]],
    *,
    attempts: int = 16,
    retry: Callable[[Exception], bool] = lambda exc: False,
) -> T:
    """`work(session)` in one transaction, run again whole when the store aborts it for a write
    conflict with another writer or `retry` says so; the last failure is raised. The store out of
    reach is raised at once: riding out an outage is the caller's (a consumer's retry policy, a 503),
    and sixteen tries each waiting for the server would hide it for over a minute."""
    for attempt in range(attempts):
        async with client.start_session() as session:
            try:
                async with await session.start_transaction():
                    return await work(session)
            except Exception as exc:
                # The store's answer (a write conflict, a transaction it aborted), not the driver's
                # failure to reach it, which carries the same label inside a transaction.
                conflict = isinstance(exc, OperationFailure) and exc.has_error_label(
                    "TransientTransactionError"
                )
                if attempt + 1 < attempts and (conflict or retry(exc)):
                    await conflict_backoff(attempt)
                    continue
                if conflict:
                    # Still conflicting: another writer's transaction holds these documents (one a
                    # killed process left open holds them until the store's transaction lifetime).
                    raise ConcurrentChange(f"still conflicting after {attempts} tries: {exc}") from exc
                raise
    raise AssertionError("unreachable: the last attempt returns or raises")


async def bulk_write_in_one_commit(
    collection: AsyncCollection[Document],
    requests: Sequence[InsertOne[Document] | UpdateOne | ReplaceOne[Document] | DeleteOne],
) -> BulkWriteResult:
    """A bulk write committed once, in one transaction. Outside one the store commits, and syncs to
    disk, every document on its own: 200 conditional updates of cases took 130-140 ms on a quiet
    store and 1-3 s beside a busy pipeline, 36-51 ms in one transaction. A write that fails (a
    duplicate key) fails the whole batch: callers whose batches may hold one use a plain bulk write.
    Ordered, so that write's own error is raised: unordered, the driver went on to the next command
    in the transaction the failure had aborted, and raised the store's "no such transaction"."""
    return await in_one_transaction(
        collection.database.client,
        lambda session: collection.bulk_write(list(requests), ordered=True, session=session),
    )


async def conflict_backoff(attempt: int) -> None:
    """Before the next try after a write conflict. Writers of one document collide rarely; a short,
    growing, random pause ("full jitter") keeps a crowd of them from colliding again in step, so each
    round lets at least one through."""
    await asyncio.sleep(random.uniform(0, min(0.005 * 2**attempt, 0.25)))
