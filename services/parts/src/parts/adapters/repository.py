"""Parts' records: case context, key-part requests, stock, price lists, quotes, purchase requests,
repairers, and the audit of every price read.

Requests, quotes and purchase requests change only through the unit of work (shared.unit_of_work).
Stock moves are a ledger: each movement is a document of its own (its id makes a retried movement
a no-op) and the count on hand changes by an atomic conditional `$inc` in the same transaction, so
it never goes below zero, whatever replica moves it.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field
from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from parts.domain.pricing import PriceList
from parts.domain.repair_record import RepairRecord
from parts.domain.request import PartsRequest
from shared.contracts.parts import QuoteLine
from shared.mongo import bson_safe
from shared.unit_of_work import Aggregates, Store, Transaction


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
    customer_phone: str | None = None
    reported_at: datetime | None = None
    freight_both_ways: bool = False
    depreciation_rate: float | None = None
    earlier_repairs: int = 0
    remedies: dict[str, str] = Field(default_factory=dict, description="Open remedies by id: their kind.")


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
    remedy_id: str | None = None


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


class StockShort(Exception):
    """A movement out that would take the stock below zero."""


class PartsRepository:
    def __init__(
        self,
        db: AsyncDatabase,
        store: Store,
        *,
        requests: Aggregates[PartsRequest],
        quotes: Aggregates[Quote],
        purchases: Aggregates[PurchaseRequest],
        records: Aggregates[RepairRecord],
    ) -> None:
        self.store = store
        self.cases = db["cases"]
        self.requests = requests
        self.quotes = quotes
        self.purchases = purchases
        self.records = records
        self.stock = db["stock"]
        self.stock_moves = db["stock_moves"]
        self.price_lists = db["price_lists"]
        self.repairers = db["repairers"]
        self.price_reads = db["price_reads"]

    async def ensure_indexes(self) -> None:
        await self.requests.collection.create_index([("case_id", ASCENDING)])
        await self.requests.collection.create_index([("state", ASCENDING), ("deadline", ASCENDING)])
        await self.requests.collection.create_index([("next_leg_due", ASCENDING)], sparse=True)
        await self.requests.collection.create_index([("field_recipient", ASCENDING)], sparse=True)
        await self.requests.collection.create_index([("sourcing_by", ASCENDING)])
        await self.quotes.collection.create_index([("case_id", ASCENDING)])
        await self.price_reads.create_index([("at", DESCENDING)])
        await self.purchases.collection.create_index([("status", ASCENDING), ("requested_at", DESCENDING)])
        await self.stock_moves.create_index([("item", ASCENDING), ("at", DESCENDING)])
        await self.records.collection.create_index([("case_id", ASCENDING)])
        await self.records.collection.create_index([("request_id", ASCENDING)], sparse=True)

    async def legs_due(self, now: datetime, limit: int = 500) -> list[str]:
        """Requests with a path B leg past its deadline and not yet escalated."""
        cursor = self.requests.collection.find({"next_leg_due": {"$lte": now}}, {"_id": 1}).limit(limit)
        return [d["_id"] async for d in cursor]

    # -------------------------------------------------------------- case context

    async def context(self, case_id: str) -> CaseContext | None:
        doc = await self.cases.find_one({"_id": case_id})
        return CaseContext.model_validate({**doc, "case_id": doc["_id"]}) if doc else None

    async def update_context(self, case_id: str, fields: dict[str, Any]) -> None:
        # Only the dispatch and warranty consumers write here, one event at a time per case.
        await self.cases.update_one({"_id": case_id}, {"$set": bson_safe(fields)}, upsert=True)

    async def unset_context(self, case_id: str, field: str) -> None:
        await self.cases.update_one({"_id": case_id}, {"$unset": {field: ""}})

    # -------------------------------------------------------------- stock

    async def stock_items(self) -> list[dict[str, Any]]:
        return [d async for d in self.stock.find({}).sort("_id", ASCENDING)]

    async def on_hand(self, item: str) -> int:
        doc = await self.stock.find_one({"_id": item})
        return int(doc["on_hand"]) if doc else 0

    async def move_stock(
        self,
        item: str,
        delta: int,
        *,
        move_id: str,
        reason: str,
        by: str,
        at: datetime,
        name: str | None,
        tx: Transaction | None = None,
    ) -> int:
        """Move stock in (delta > 0) or out, once per `move_id`; returns what is on hand after it."""
        if tx is None:
            return await self.store.transaction(
                lambda t: self.move_stock(
                    item, delta, move_id=move_id, reason=reason, by=by, at=at, name=name, tx=t
                )
            )
        session = tx.session
        if await self.stock_moves.find_one({"_id": move_id}, session=session) is not None:
            return await self.on_hand(item)  # a retried movement: it happened already
        await self.stock_moves.insert_one(
            bson_safe({"_id": move_id, "item": item, "delta": delta, "reason": reason, "by": by, "at": at}),
            session=session,
        )
        update: dict[str, Any] = {"$inc": {"on_hand": delta}}
        if name:
            update["$set"] = {"name": name}
        if delta >= 0:
            doc = await self.stock.find_one_and_update(
                {"_id": item}, update, upsert=True, session=session, return_document=ReturnDocument.AFTER
            )
        else:
            # The store checks the count and changes it in one step: no replica can oversell.
            doc = await self.stock.find_one_and_update(
                {"_id": item, "on_hand": {"$gte": -delta}},
                update,
                session=session,
                return_document=ReturnDocument.AFTER,
            )
            if doc is None:
                current = await self.stock.find_one({"_id": item}, session=session)
                raise StockShort(
                    f"stock of {item} would go below zero "
                    f"({(current or {}).get('on_hand', 0)} on hand, change {delta})"
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


def request_query_fields(request: PartsRequest) -> dict[str, Any]:
    """Stored beside the request for the leg scan's index."""
    return {"next_leg_due": request.next_leg_due()}
