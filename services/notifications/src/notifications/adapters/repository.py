"""Notifications' records in MongoDB: each case's contact (from the complaint), the messages (changed
only through the unit of work), and the queries the sender runs over them, each served by an index."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from notifications.domain.compose import Contact
from notifications.domain.message import Message
from shared.unit_of_work import Aggregates


def message_query_fields(message: Message) -> dict[str, Any]:
    """Stored beside the message: when a sender has something to do with it."""
    return {
        "due_at": message.due_at(),
        "to_dead_letter": message.state == "failed" and message.dead_lettered_at is None,
    }


class NotificationsRepository:
    def __init__(self, db: AsyncDatabase, messages: Aggregates[Message]) -> None:
        self.contacts = db["contacts"]
        self.messages = messages
        self.local_deliveries = db["local_deliveries"]

    async def ensure_indexes(self) -> None:
        m = self.messages.collection
        await m.create_index([("due_at", ASCENDING)], sparse=True)
        await m.create_index([("to_dead_letter", ASCENDING)])
        await m.create_index([("case_id", ASCENDING), ("created_at", ASCENDING)])
        await m.create_index([("state", ASCENDING), ("created_at", DESCENDING)])
        await self.local_deliveries.create_index([("case_id", ASCENDING), ("delivered_at", ASCENDING)])
        await self.local_deliveries.create_index([("delivered_at", DESCENDING)])

    async def save_contact(self, contact: Contact) -> None:
        # One writer per case (the complaint's consumer); a redelivery writes the same again.
        await self.contacts.update_one(
            {"_id": contact.case_id},
            {"$set": {"phone": contact.phone, "name": contact.name, "wechat_openid": contact.wechat_openid}},
            upsert=True,
        )

    async def contact(self, case_id: str) -> Contact | None:
        doc = await self.contacts.find_one({"_id": case_id})
        if doc is None:
            return None
        return Contact(
            case_id=case_id,
            phone=doc["phone"],
            name=doc.get("name", ""),
            wechat_openid=doc.get("wechat_openid"),
        )

    async def due(self, now: datetime, limit: int = 50) -> list[str]:
        cursor = (
            self.messages.collection.find({"due_at": {"$lte": now}}, {"_id": 1})
            .sort("due_at", 1)
            .limit(limit)
        )
        return [d["_id"] async for d in cursor]

    async def waiting_for_dead_letters(self, limit: int = 50) -> list[Message]:
        return await self.messages.find({"to_dead_letter": True}, limit=limit)

    async def list(self, query: dict[str, Any], limit: int = 200) -> list[Message]:
        return await self.messages.find(query, sort=[("created_at", DESCENDING)], limit=limit)

    async def deliveries(self, query: dict[str, Any], limit: int = 200) -> list[dict[str, Any]]:
        cursor = self.local_deliveries.find(query).sort("delivered_at", DESCENDING).limit(limit)
        return [d async for d in cursor]
