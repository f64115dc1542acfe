"""Parts' records: case context, key-part requests, stock, price lists, quotes, purchase requests,
repairers, and the audit of every price read."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field
from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from parts.domain.pricing import PriceList
from parts.domain.request import PartsRequest
from shared.aggregates import AggregateStore
from shared.contracts.parts import QuoteLine
from shared.locks import KeyedLocks
from shared.mongo import bson_safe


class CaseContext(BaseModel):
    """What parts needs from dispatch and warranty about a case."""

    case_id: str
    specialist_id: str | None = None
    region: str | None = None
    dealer_code: str | None = None
    customer_name: str | None = None
    customer_address: str | None = None
    model: str | None = None
    serial_no: str | None = None
    purchase_date: str | None = None
    invoice_no: str | None = None
    description: str | None = None
    received_at: datetime | None = None
    decision: str | None = None
    remedy: str | None = None
    key_part: str | None = None


class Quote(BaseModel):
    quote_id: str
    case_id: str
    kind: str  # consumables | repair
    lines: list[QuoteLine]
    total: Decimal
    valid_until: Any
    issued_by: str
    issued_at: datetime
    price_list: str


class PurchaseRequest(BaseModel):
    request_id: str
    case_id: str | None = None
    item: str
    quantity: int
    reason: str
    status: str = "open"  # open | ordered | received
    expected_by: Any = None
    requested_at: datetime
    history: list[dict[str, Any]] = Field(default_factory=list)


class PartsRepository:
    def __init__(self, db: AsyncDatabase, publisher: Any) -> None:
        self.locks = KeyedLocks()
        self.cases = db["cases"]
        self.requests = AggregateStore(db["requests"], PartsRequest, "request_id", publisher, self.locks)
        self.quotes = AggregateStore(db["quotes"], Quote, "quote_id", publisher, self.locks)
        self.purchases = AggregateStore(db["purchase_requests"], PurchaseRequest, "request_id", publisher, self.locks)
        self.stock = db["stock"]
        self.price_lists = db["price_lists"]
        self.repairers = db["repairers"]
        self.price_reads = db["price_reads"]

    async def ensure_indexes(self) -> None:
        await self.requests.collection.create_index([("case_id", ASCENDING)])
        await self.requests.collection.create_index([("state", ASCENDING), ("deadline", ASCENDING)])
        await self.quotes.collection.create_index([("case_id", ASCENDING)])
        await self.price_reads.create_index([("at", DESCENDING)])

    # -------------------------------------------------------------- case context

    async def context(self, case_id: str) -> CaseContext | None:
        doc = await self.cases.find_one({"_id": case_id})
        return CaseContext.model_validate({**doc, "case_id": doc["_id"]}) if doc else None

    async def update_context(self, case_id: str, fields: dict[str, Any]) -> None:
        # Only the dispatch and warranty consumers write here, one event at a time per case.
        await self.cases.update_one({"_id": case_id}, {"$set": bson_safe(fields)}, upsert=True)

    # -------------------------------------------------------------- stock

    async def stock_items(self) -> list[dict[str, Any]]:
        return [d async for d in self.stock.find({}).sort("_id", ASCENDING)]

    async def on_hand(self, item: str) -> int:
        doc = await self.stock.find_one({"_id": item})
        return int(doc["on_hand"]) if doc else 0

    async def adjust_stock(self, item: str, delta: int, *, reason: str, by: str, at: datetime, name: str | None) -> int:
        async with self.locks.hold(f"stock:{item}"):
            current = await self.on_hand(item)
            if current + delta < 0:
                raise ValueError(f"stock of {item} would go below zero ({current} on hand, change {delta})")
            update: dict[str, Any] = {
                "$set": {"on_hand": current + delta},
                "$push": {"adjustments": bson_safe({"delta": delta, "reason": reason, "by": by, "at": at})},
            }
            if name:
                update["$set"]["name"] = name
            doc = await self.stock.find_one_and_update(
                {"_id": item}, update, upsert=True, return_document=ReturnDocument.AFTER
            )
            return int(doc["on_hand"])

    # -------------------------------------------------------------- price lists

    async def price_list_versions(self) -> list[PriceList]:
        return [
            PriceList.model_validate({**{k: v for k, v in d.items() if k != "_id"}, "version": d["_id"]})
            async for d in self.price_lists.find({}).sort("effective_from", ASCENDING)
        ]

    async def add_price_list(self, prices: PriceList, at: datetime) -> bool:
        doc = bson_safe(prices.model_dump(mode="python"))
        doc["_id"] = doc.pop("version")
        doc["created_at"] = at
        try:
            await self.price_lists.insert_one(doc)
            return True
        except DuplicateKeyError:
            return False

    async def log_price_read(self, *, who: str, role: str, what: str, at: datetime) -> None:
        await self.price_reads.insert_one({"who": who, "role": role, "what": what, "at": at})

    async def price_read_log(self, limit: int = 200) -> list[dict[str, Any]]:
        return [
            {k: v for k, v in d.items() if k != "_id"}
            async for d in self.price_reads.find({}).sort("at", DESCENDING).limit(limit)
        ]

    # -------------------------------------------------------------- repairers

    async def repairers_in(self, region: str | None) -> list[dict[str, Any]]:
        query = {"region": region, "active": True} if region else {"active": True}
        return [d async for d in self.repairers.find(query).sort("_id", ASCENDING)]

    async def put_repairer(self, repairer_id: str, fields: dict[str, Any]) -> None:
        await self.repairers.replace_one({"_id": repairer_id}, {"_id": repairer_id, **fields}, upsert=True)
