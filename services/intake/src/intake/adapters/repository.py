"""Submissions seen under an idempotency key: which case each became and whether it was published."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError


@dataclass(frozen=True)
class Submission:
    key: str
    body_sha256: str
    case_id: str
    event_id: uuid.UUID
    received_at: datetime
    published: bool
    created_now: bool


class SubmissionRepository:
    """One document per (channel, principal, idempotency key); `_id` is that triple."""

    def __init__(self, db: AsyncDatabase) -> None:
        self._submissions = db["submissions"]

    async def reserve(
        self, key: str, *, body_sha256: str, case_id: str, event_id: uuid.UUID, received_at: datetime
    ) -> Submission:
        """The submission under `key`: the one already there, or this new one (atomic upsert)."""
        fresh = {
            "body_sha256": body_sha256,
            "case_id": case_id,
            "event_id": str(event_id),
            "received_at": received_at,
            "published": False,
        }
        try:
            doc = await self._submissions.find_one_and_update(
                {"_id": key},
                {"$setOnInsert": fresh},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            # Two first attempts raced on the upsert; the loser reads the winner's document.
            doc = await self._submissions.find_one({"_id": key})
        assert doc is not None
        return Submission(
            key=key,
            body_sha256=doc["body_sha256"],
            case_id=doc["case_id"],
            event_id=uuid.UUID(doc["event_id"]),
            received_at=doc["received_at"],
            published=bool(doc.get("published")),
            created_now=doc["event_id"] == str(event_id),
        )

    async def mark_published(self, key: str, published_at: datetime) -> None:
        await self._submissions.update_one({"_id": key}, {"$set": {"published": True, "published_at": published_at}})

    async def release(self, key: str, event_id: uuid.UUID) -> None:
        """Forget a reservation whose event Kafka never acknowledged, so the key is free again."""
        await self._submissions.delete_one({"_id": key, "event_id": str(event_id), "published": False})

    async def get(self, key: str) -> dict | None:
        return await self._submissions.find_one({"_id": key})
