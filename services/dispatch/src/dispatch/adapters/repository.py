"""Dispatch's records in MongoDB: cases, the timeline, the specialist roster.

Cases change only through the unit of work (shared.unit_of_work: version-checked writes with their
outbox); this module adds the queries dispatch runs over them, each served by an index.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field, field_validator
from pymongo import ASCENDING, DESCENDING, ReplaceOne, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from dispatch.domain.case import OPEN_STATUSES, Case
from dispatch.domain.routing import AssignmentPolicy, Specialist
from dispatch.domain.stats import CaseFigures, DayTallies, GroupBy, Period, Tallies
from shared.contracts.cases import Outcome
from shared.contracts.envelope import Envelope
from shared.logging import get_logger
from shared.mongo import Document, bson_safe, bulk_write_in_one_commit
from shared.periods import china_date
from shared.unit_of_work import Aggregates, Store, Transaction

log = get_logger(__name__)


def case_query_fields(case: Case) -> dict[str, Any]:
    """Stored beside the case for indexes: the deadline scan's, and `open` for the open lists (one
    equality the store plans at once, where `status: {$in: five statuses}` cost it ten times the
    query itself in weighing its candidate indexes, on every query)."""
    return {"next_deadline": case.next_deadline(), "open": case.is_open}


OPEN = {"open": True}


NEWEST_FIRST = [("received_at", DESCENDING), ("_id", ASCENDING)]
# The last day of cases is read first; each further window back doubles, to the company's start.
FIRST_WINDOW = timedelta(days=1)
EARLIEST = datetime(2015, 1, 1, tzinfo=UTC)
# A list with no more matches than this is read in one query (the store gathers them all at little cost).
FEW = 500

# A long list's count is served as kept this long, then (counted again meanwhile) this long.
COUNT_FRESH_S = 10.0
COUNT_STALE_S = 300.0
# Filters that pick a handful of cases (a customer's, a unit's): read as they are, no windows.
SELECTIVE = ("customer.phone", "product.serial_no")


class FollowUpDue(BaseModel):
    """A closed case's follow-up visit to make, as the follow-up list shows it."""

    case_id: str = Field(alias="_id")
    assignee: str | None = None
    customer: str = ""
    follow_up_due_on: date
    follow_up_escalated: bool = False
    closed_at: datetime | None = None
    outcome: Outcome | None = None

    @field_validator("customer", mode="before")
    @classmethod
    def _name(cls, customer: Any) -> str:
        return str((customer or {}).get("name", "")) if isinstance(customer, dict) else str(customer or "")


FOLLOW_UP_FIELDS = {
    f: 1
    for f in ("assignee", "customer.name", "follow_up_due_on", "follow_up_escalated", "closed_at", "outcome")
}


class CaseQueries:
    """The indexed reads over dispatch's cases (the manager's board, a specialist's cases, the scan).

    Lists are read newest first in closed windows of `received_at` that double until the page is
    full: a store that gathers every match before it applies a limit (SecantusDB does) then reads
    about one page's worth of cases instead of all of them; on MongoDB it costs a few cheap queries.
    """

    def __init__(
        self,
        cases: Aggregates[Case],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        *,
        few: int = FEW,
    ) -> None:
        self.aggregates = cases
        self.cases = cases.collection
        self._clock = clock
        self._few = few
        self._counted: dict[str, tuple[float, int]] = {}
        self._recounting: dict[str, asyncio.Task[int]] = {}

    async def ensure_indexes(self) -> None:
        # Lists are paged newest first with the id as tie-break: indexes in that order serve the page
        # straight from the index instead of sorting every match.
        await self.cases.create_index(
            [("status", ASCENDING), ("received_at", DESCENDING), ("_id", ASCENDING)]
        )
        await self.cases.create_index([("open", ASCENDING), ("received_at", DESCENDING), ("_id", ASCENDING)])
        await self.cases.create_index(
            [("assignee", ASCENDING), ("open", ASCENDING), ("received_at", DESCENDING), ("_id", ASCENDING)]
        )
        await self.cases.create_index([("assignee", ASCENDING), ("status", ASCENDING)])
        await self.cases.create_index([("liaison", ASCENDING), ("status", ASCENDING)])
        await self.cases.create_index([("next_deadline", ASCENDING)])
        await self.cases.create_index([("customer.phone", ASCENDING)])
        await self.cases.create_index([("product.serial_no", ASCENDING)])
        await self.cases.create_index([("received_at", DESCENDING), ("_id", ASCENDING)])
        await self.cases.create_index([("status", ASCENDING), ("follow_up_due_on", ASCENDING)])

    async def mark_open(self) -> int:
        """Cases stored before `open` was kept get it (once, at start-up; nothing to do afterwards)."""
        missing = {"open": {"$exists": False}}
        opened = await self.cases.update_many(
            {**missing, "status": {"$in": list(OPEN_STATUSES)}}, {"$set": {"open": True}}
        )
        ended = await self.cases.update_many(missing, {"$set": {"open": False}})
        return opened.modified_count + ended.modified_count

    async def find(self, query: dict[str, Any], *, skip: int, limit: int) -> tuple[list[Case], int]:
        total = await self.count(query)
        if total <= self._few or "received_at" in query or any(field in query for field in SELECTIVE):
            # Few matches (a specialist's open cases, a customer's): one query, however old they are.
            return await self.aggregates.find(query, sort=NEWEST_FIRST, skip=skip, limit=limit), total
        # The page's ids first (index entries, nothing decoded), then only the page's cases: a deep
        # page no longer reads and decodes every case before it.
        ids = (await self._newest_ids(query, skip + limit))[skip:]
        loaded = await self.aggregates.load_many(ids)
        return [loaded[i] for i in ids if i in loaded], total

    async def _newest_ids(self, query: dict[str, Any], wanted: int) -> list[str]:
        """The ids of the newest `wanted` matches, read in windows of time back from now: the last day
        first (and whatever a clock ahead of ours stamped), then each window as long as the density
        read so far says the rest needs, a quarter more, at most twice what has been read (doubling
        blindly read up to twice the cases a deep page needs: the store gathers a whole window)."""
        found: list[str] = []
        now = self._clock()
        upper, lower = now + timedelta(days=1), now - FIRST_WINDOW
        while True:
            lower = max(lower, EARLIEST)
            window = {**query, "received_at": {"$gte": lower, "$lt": upper}}
            cursor = self.cases.find(window, {"_id": 1}).sort(NEWEST_FIRST).limit(wanted - len(found))
            found += [d["_id"] async for d in cursor]
            if len(found) >= wanted or lower <= EARLIEST:
                return found
            read, missing = now - lower, wanted - len(found)
            span = (
                min(2 * read, max(FIRST_WINDOW, read * (1.25 * missing / len(found)))) if found else 2 * read
            )
            upper, lower = lower, lower - span

    async def count(self, query: dict[str, Any]) -> int:
        """How many cases match. A count of a long list is kept: the total above a list need not be
        exact to the second, and counting thousands of cases on every page turn would cost the page
        more than its own cases. Served as kept for COUNT_FRESH_S; after that, until COUNT_STALE_S,
        served as kept while it is counted again in the background (no page waits for a recount)."""
        key = repr(sorted(query.items()))
        cached = self._counted.get(key)
        if cached:
            age = time.monotonic() - cached[0]
            if age < COUNT_FRESH_S:
                return cached[1]
            if age < COUNT_STALE_S:
                self._recount_later(key, query)
                return cached[1]
        return await self._recount(key, query)

    async def _recount(self, key: str, query: dict[str, Any]) -> int:
        n = int(
            await self.cases.estimated_document_count()
            if not query
            else (await self.cases.database.command("count", self.cases.name, query=query))["n"]
        )
        if n > self._few:
            if len(self._counted) > 256:
                self._counted.clear()
            self._counted[key] = (time.monotonic(), n)
        else:  # a list grown short again is counted on every page: never its old total
            self._counted.pop(key, None)
        return n

    def _recount_later(self, key: str, query: dict[str, Any]) -> None:
        if key in self._recounting:
            return
        task = asyncio.create_task(self._recount(key, query), name=f"recount {key}")
        self._recounting[key] = task

        def done(t: asyncio.Task[int]) -> None:
            self._recounting.pop(key, None)
            if not t.cancelled() and t.exception() is not None:
                # The kept count stays until COUNT_STALE_S; then a page counts itself and says why.
                log.warning("a list's count could not be refreshed", error=repr(t.exception()))

        task.add_done_callback(done)

    async def all_in(self, query: dict[str, Any]) -> list[Case]:
        return await self.aggregates.find(query)

    async def with_serials(self, serials: Iterable[str]) -> dict[str, list[Case]]:
        """Every case about these units (indexed by serial number), oldest first per unit."""
        wanted = sorted(set(serials))
        out: dict[str, list[Case]] = {}
        if not wanted:
            return out
        for case in await self.aggregates.find(
            {"product.serial_no": {"$in": wanted}}, sort=[("received_at", ASCENDING)]
        ):
            out.setdefault(case.product.serial_no or "", []).append(case)
        return out

    async def figures(self, query: dict[str, Any]) -> list[CaseFigures]:
        """The few fields statistics read, for every case matching `query` (a year: tens of thousands)."""
        projection = dict.fromkeys(CaseFigures.FIELDS, 1)
        return [CaseFigures.of_document(d) async for d in self.cases.find(query, projection)]

    async def follow_ups_due(
        self, by: str, *, assignee: str | None, own: str | None = None, limit: int = 200
    ) -> list[FollowUpDue]:
        """Closed cases whose follow-up visit falls due by the China date `by` (ISO), soonest first
        (the first `limit`: a list to work through, not an archive); `own`: only those this
        specialist makes (as assignee, or as the one who answers the customer). Only the fields the
        list shows are read: decoding whole cases was most of the list's time."""
        query: dict[str, Any] = {"status": "closed", "follow_up_due_on": {"$lte": by}}
        if assignee:
            query["assignee"] = assignee
        if own:
            query["$or"] = [{"assignee": own}, {"liaison": own}]
        cursor = self.cases.find(query, FOLLOW_UP_FIELDS).sort([("follow_up_due_on", ASCENDING)]).limit(limit)
        return [FollowUpDue.model_validate(d) async for d in cursor]

    async def due(self, now: datetime, limit: int = 500) -> list[str]:
        cursor = self.cases.find({"next_deadline": {"$lte": now}}, {"_id": 1}).limit(limit)
        return [d["_id"] async for d in cursor]

    async def open_workloads(self, specialist_ids: list[str]) -> dict[str, int]:
        """Open cases per specialist: those they own, those they answer the customer on, those proposed to them."""
        loads: dict[str, int] = {}
        # A proposal waiting for the manager counts for whom it proposes: a burst of proposals spreads too.
        for holder, extra in (
            ("assignee", {}),
            ("liaison", {}),
            ("proposal.specialist_id", {"assignee": None}),
        ):
            pipeline = [
                {
                    "$match": {
                        **OPEN,
                        holder: {"$in": specialist_ids},
                        **extra,
                    }
                },
                {"$group": {"_id": f"${holder}", "n": {"$sum": 1}}},
            ]
            async for d in await self.cases.aggregate(pipeline):
                loads[d["_id"]] = loads.get(d["_id"], 0) + d["n"]
        return loads


class CaseFiguresByDay:
    """What statistics read, without reading the cases: a small document per case (`case_figures`,
    written on every change, whatever the burst) and, for older days, one document per China day with
    that day's cases added up (`case_figures_by_day`: a `DayTallies`, folded in the background).

    The last `RECENT_DAYS` days are read row by row: their cases change all the time, and marking
    them on every change would cost a write each. A change to an older case marks its day, which is
    then folded again (and read row by row until it is). A year of statistics adds about 365 day
    tallies and a week of rows. Kept current by dispatch's own events; rebuilt from the cases when
    missing.
    """

    RECENT_DAYS = 7

    def __init__(
        self,
        db: AsyncDatabase[Document],
        cases: Aggregates[Case],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.rows = db["case_figures"]
        self.days = db["case_figures_by_day"]
        self.dirty = db["case_figures_dirty_days"]
        self.folded = db["case_figures_folded"]  # {"_id": "through", "day": the last day folded on leaving}
        self._cases = cases.collection
        self._clock = clock

    async def ensure_indexes(self) -> None:
        await self.rows.create_index([("day", ASCENDING)])

    def _first_recent_day(self) -> date:
        return china_date(self._clock()) - timedelta(days=self.RECENT_DAYS - 1)

    async def record(self, figures: list[tuple[str, CaseFigures]]) -> None:
        """(case id, figures) of cases that changed: their rows written, older days marked for folding."""
        if not figures:
            return
        latest = dict(figures)
        recent = self._first_recent_day()
        older = {day for f in latest.values() if (day := china_date(f.received_at)) < recent}
        await bulk_write_in_one_commit(
            self.rows,
            [
                ReplaceOne(
                    {"_id": case_id},
                    {"day": china_date(f.received_at).isoformat(), "row": f.as_row()},
                    upsert=True,
                )
                for case_id, f in latest.items()
            ],
        )
        if older:
            await self._mark(day.isoformat() for day in older)

    async def record_cases(self, case_ids: list[str]) -> None:
        projection = dict.fromkeys(CaseFigures.FIELDS, 1)
        found = [
            (d["_id"], CaseFigures.of_document(d))
            async for d in self._cases.find({"_id": {"$in": list(set(case_ids))}}, projection)
        ]
        await self.record(found)

    async def compact(self, limit: int = 60) -> int:
        """Fold the days that changed, and the days that left the recent ones since the last fold
        (every one of them, however long dispatch was stopped), into their day documents; returns
        the days folded.

        A mark is taken off before its day is read: a row written meanwhile marks the day again, so
        it is folded once more next time instead of being missed."""
        recent = self._first_recent_day()
        folded = await self.folded.find_one({"_id": "through"})
        # The two days before the recent ones are folded on every pass (a row written as its day left
        # the recent ones is not marked), and every day since the last fold that left them meanwhile.
        since = recent - timedelta(days=3)
        if folded:
            since = min(since, date.fromisoformat(folded["day"]))
        leaving = [(since + timedelta(days=n)).isoformat() for n in range(1, (recent - since).days)]
        marks = [m async for m in self.dirty.find({}).limit(limit)]
        for mark in marks:
            await self.dirty.delete_one({"_id": mark["_id"], "at": mark["at"]})
        for day in sorted({*(m["_id"] for m in marks), *leaving}):
            tallies = DayTallies.of(await self._rows_of([day]))
            await self.days.replace_one(
                {"_id": day}, {**tallies.as_document(), "folded_at": self._clock()}, upsert=True
            )
        if leaving:
            await self.folded.replace_one({"_id": "through"}, {"day": leaving[-1]}, upsert=True)
        return len(marks) + len(leaving)

    async def _rows_of(self, days: list[str]) -> list[CaseFigures]:
        query = {"day": days[0] if len(days) == 1 else {"$in": days}}
        return [CaseFigures.of_row(d["row"]) async for d in self.rows.find(query, {"row": 1})]

    async def tallies(
        self, first: date | None, last: date | None, *, group_by: GroupBy, period: Period
    ) -> Tallies:
        """The statistics of every case received from `first` to `last` (China days, both included;
        None: no bound), added up: folded days by their tallies (only the dimension asked for is
        read), the recent days, the days changed since their fold and any day not yet folded this
        way, row by row."""
        recent = self._first_recent_day().isoformat()
        lo, hi = first.isoformat() if first else None, last.isoformat() if last else None
        span: dict[str, str] = {}
        if lo:
            span["$gte"] = lo
        if hi:
            span["$lte"] = hi
        changing = {d["_id"] async for d in self.dirty.find({"_id": span} if span else {}, {"_id": 1})}
        out = Tallies(group_by, period)
        unfolded: list[str] = []
        projection = {"all": 1} if group_by == "period" else {"all": 1, f"by.{group_by}": 1}
        folded_span = {**span, "$lt": recent} if not hi or hi >= recent else span
        async for day in self.days.find({"_id": folded_span}, projection):
            if day["_id"] in changing:
                continue
            if "all" not in day:  # folded as rows, before days kept tallies (refolded at start-up)
                unfolded.append(day["_id"])
                continue
            out.add_day(date.fromisoformat(day["_id"]), DayTallies.of_document(day))
        rows = await self._rows_of(sorted(changing) + unfolded) if changing or unfolded else []
        if not hi or hi >= recent:
            live_from = max(lo or recent, recent)
            live_span = {"$gte": live_from, **({"$lte": hi} if hi else {})}
            rows += [
                CaseFigures.of_row(d["row"]) async for d in self.rows.find({"day": live_span}, {"row": 1})
            ]
        for row in rows:
            out.add(row)
        return out

    async def _mark(self, days: Iterable[str]) -> None:
        """Mark days to be folded again."""
        days = list(days)
        if not days:
            return
        await bulk_write_in_one_commit(
            self.dirty,
            [UpdateOne({"_id": day}, {"$set": {"at": self._clock()}}, upsert=True) for day in days],
        )

    async def rebuild_if_missing(self) -> int:
        """Build the rows from the cases when there are cases and no rows (a new store, an upgrade),
        and fold every older day. Days folded as rows (before days kept tallies) are marked to be
        folded again."""
        await self._mark([d["_id"] async for d in self.days.find({"all": {"$exists": False}}, {"_id": 1})])
        if (
            await self.rows.find_one({}, {"_id": 1}) is not None
            or await self._cases.find_one({}, {"_id": 1}) is None
        ):
            return 0
        projection = dict.fromkeys(CaseFigures.FIELDS, 1)
        batch: list[tuple[str, CaseFigures]] = []
        n = 0
        async for d in self._cases.find({}, projection):
            batch.append((d["_id"], CaseFigures.of_document(d)))
            if len(batch) >= 2000:
                await self.record(batch)
                n, batch = n + len(batch), []
        await self.record(batch)
        while await self.dirty.find_one({}, {"_id": 1}) is not None:
            await self.compact(limit=500)
        return n + len(batch)


class TimelineRepository:
    """Every event about a case, from any service, once each (`_id` is the event id)."""

    def __init__(self, db: AsyncDatabase) -> None:
        self.entries = db["timeline"]

    async def ensure_indexes(self) -> None:
        await self.entries.create_index([("case_id", ASCENDING), ("occurred_at", ASCENDING)])

    @staticmethod
    def _entry(envelope: Envelope, topic: str, summary: str, recorded_at: datetime) -> dict[str, Any]:
        return {
            "_id": str(envelope.event_id),
            "case_id": envelope.correlation_id,
            "event_type": envelope.event_type,
            "occurred_at": envelope.occurred_at,
            "recorded_at": recorded_at,
            "producer": envelope.producer,
            "topic": topic,
            "summary": summary,
            "payload": bson_safe(envelope.payload),
        }

    async def add(self, envelope: Envelope, *, topic: str, summary: str, recorded_at: datetime) -> bool:
        try:
            await self.entries.insert_one(self._entry(envelope, topic, summary, recorded_at))
            return True
        except DuplicateKeyError:
            return False

    async def add_many(self, entries: list[tuple[Envelope, str, str]], *, recorded_at: datetime) -> None:
        """(event, topic, summary) for a batch: one unordered insert; an event seen before is skipped."""
        if not entries:
            return
        try:
            await self.entries.insert_many(
                [self._entry(e, t, s, recorded_at) for e, t, s in entries], ordered=False
            )
        except BulkWriteError as exc:
            if any(e.get("code") != 11000 for e in exc.details.get("writeErrors", [])):
                raise

    async def for_case(self, case_id: str) -> list[dict[str, Any]]:
        cursor = self.entries.find({"case_id": case_id}).sort(
            [("occurred_at", ASCENDING), ("recorded_at", ASCENDING)]
        )
        return [
            {
                "event_id": d["_id"],
                "event_type": d["event_type"],
                "occurred_at": d["occurred_at"],
                "producer": d["producer"],
                "summary": d["summary"],
            }
            async for d in cursor
        ]


class RosterRepository:
    """The specialists. A roster change reads, checks and writes in one transaction, and every change
    bumps one shared document, so two changes at once conflict and the second is checked again on
    what the first left (no write skew: two managers cannot each deactivate a department's last two)."""

    def __init__(self, db: AsyncDatabase, store: Store) -> None:
        self.specialists = db["specialists"]
        self._changes = db["roster_changes"]
        self._store = store

    async def all(self, tx: Transaction | None = None) -> list[Specialist]:
        return [
            Specialist(
                specialist_id=d["_id"],
                name=d["name"],
                department=d["department"],
                skills=tuple(d.get("skills", ())),
                regions=tuple(d.get("regions", ())),
                active=d.get("active", True),
                absent_until=date.fromisoformat(d["absent_until"]) if d.get("absent_until") else None,
            )
            async for d in self.specialists.find({}, session=tx.session if tx else None).sort(
                "_id", ASCENDING
            )
        ]

    async def upsert(self, specialist: Specialist, tx: Transaction | None = None) -> None:
        doc = asdict(specialist)
        doc["_id"] = doc.pop("specialist_id")
        doc["skills"], doc["regions"] = list(specialist.skills), list(specialist.regions)
        doc["absent_until"] = specialist.absent_until.isoformat() if specialist.absent_until else None
        await self.specialists.replace_one(
            {"_id": doc["_id"]}, doc, upsert=True, session=tx.session if tx else None
        )

    async def change(
        self,
        new_roster: Callable[[list[Specialist]], list[Specialist]],
        check: Callable[[list[Specialist]], None],
    ) -> None:
        """Apply `new_roster` to the current roster, let `check` refuse the result, write what changed."""

        async def work(tx: Transaction) -> None:
            current = await self.all(tx)
            after = new_roster(current)
            check(after)
            before = {s.specialist_id: s for s in current}
            for s in after:
                if before.get(s.specialist_id) != s:
                    await self.upsert(s, tx)
            await self._changes.update_one(
                {"_id": "roster"}, {"$inc": {"n": 1}}, upsert=True, session=tx.session
            )

        await self._store.transaction(work)

    async def is_empty(self) -> bool:
        return await self.specialists.count_documents({}, limit=1) == 0


class SettingsRepository:
    """The manager's assignment settings: one document, replaced as a whole, with who changed it when."""

    def __init__(self, db: AsyncDatabase) -> None:
        self.settings = db["settings"]

    async def assignment(self) -> AssignmentPolicy | None:
        doc = await self.settings.find_one({"_id": "assignment"})
        return AssignmentPolicy.model_validate(doc["policy"]) if doc else None

    async def put_assignment(self, policy: AssignmentPolicy, *, by: str, at: datetime) -> None:
        await self.settings.replace_one(
            {"_id": "assignment"},
            {"_id": "assignment", "policy": policy.model_dump(), "by": by, "at": at},
            upsert=True,
        )

    async def seed_assignment(self, policy: AssignmentPolicy) -> None:
        """On a fresh store only: the file's settings, until the manager changes them."""
        await self.settings.update_one(
            {"_id": "assignment"},
            {"$setOnInsert": {"policy": policy.model_dump(), "by": "seed"}},
            upsert=True,
        )


class ReportRepository:
    """The quality department's monthly reports (PDF), one per month, kept as generated."""

    def __init__(self, db: AsyncDatabase) -> None:
        self.reports = db["quality_reports"]

    async def stored(self, month: str) -> dict[str, Any] | None:
        return await self.reports.find_one({"_id": month})

    async def store(
        self, month: str, pdf: bytes, *, generated_at: datetime, by: str, faults: int, replace: bool
    ) -> bool:
        """Keep the month's report; the scheduled run keeps the first (another instance may be at it too)."""
        doc = {
            "_id": month,
            "pdf": pdf,
            "generated_at": generated_at,
            "by": by,
            "faults": faults,
            "bytes": len(pdf),
        }
        if replace:
            await self.reports.replace_one({"_id": month}, doc, upsert=True)
            return True
        try:
            await self.reports.insert_one(doc)
            return True
        except DuplicateKeyError:
            return False

    async def months(self) -> list[dict[str, Any]]:
        cursor = self.reports.find({}, {"pdf": 0}).sort("_id", DESCENDING)
        return [{"month": d["_id"], **{k: v for k, v in d.items() if k != "_id"}} async for d in cursor]
