"""Submissions seen under an idempotency key: which case and event each became, written once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError


@dataclass(frozen=True)
class Submission:
    key: str
    body_sha256: str
    case_id: str
    event_id: uuid.UUID
    received_at: datetime
    created_now: bool
    published: bool = False


class SubmissionRepository:
    """One document per (channel, principal, idempotency key); `_id` is that triple.

    The document is never deleted (not even when the publish failed: a timed-out send may have reached
    the broker after all). Once the broker acknowledged the event it is marked published, and a replay
    reads that answer instead of publishing again; until then a replay republishes the same event.
    """

    def __init__(self, db: AsyncDatabase) -> None:
        self._submissions = db["submissions"]

    async def reserve(
        self, key: str, *, body_sha256: str, case_id: str, event_id: uuid.UUID, received_at: datetime
    ) -> Submission:
        """The submission under `key`: this new one, or the one already there."""
        doc = {
            "_id": key,
            "body_sha256": body_sha256,
            "case_id": case_id,
            "event_id": str(event_id),
            "received_at": received_at,
        }
        try:
            # A plain insert: the common case, one round trip; the unique _id settles a race.
            await self._submissions.insert_one(doc)
            created = True
        except DuplicateKeyError:
            # Never deleted nor updated, so the document that won the insert is there to read.
            doc, created = await self._submissions.find_one({"_id": key}), False
        return Submission(
            key=key,
            body_sha256=doc["body_sha256"],
            case_id=doc["case_id"],
            event_id=uuid.UUID(doc["event_id"]),
            received_at=doc["received_at"],
            created_now=created,
            published=doc.get("published_at") is not None,
        )

    async def mark_published(self, key: str, at: datetime) -> None:
        await self._submissions.update_one({"_id": key}, {"$set": {"published_at": at}})
