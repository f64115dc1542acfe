"""`make bench` (reads): the reads people make, on a store holding years of cases.

Seeds 100,000 cases over two years straight into the store, as the services write them (dispatch's
cases with their timelines, warranty's side with its decisions, parts requests, follow-up visits),
then runs dispatch and warranty as processes on those databases and measures, over real HTTP, p50
and p99 of: the case page, the manager's board, a specialist's cases, a page of every case, a unit's
history, statistics for a month and for a year, the follow-ups due, and the deadline scan's query.
Beside each, the same request on a store of 1,000 cases (the baseline): the ratio says what the
years cost. Also the store's CPU while two readers open cases one after another, and the CPU of the
whole suite at rest. Written to bench/results/reads-<time>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from pymongo import AsyncMongoClient, InsertOne

from bench.suite import ROOT, Suite, cleanup, component_pid, percentile, stack
from dispatch.adapters.repository import CaseQueries, TimelineRepository, case_query_fields
from dispatch.domain.case import Case, open_case
from dispatch.domain.targets import TargetPolicy
from shared.contracts.complaints import ComplaintReceived
from shared.contracts.registry import load_registry
from shared.mongo import bson_safe
from shared.unit_of_work import Aggregates
from warranty.adapters.repository import CaseFactsQueries
from warranty.domain.facts import CaseFacts

MANAGER = {"X-API-Key": "dev-staff-manager-91c4e7a2d3"}
EXAMPLE = load_registry().get("intake.complaints.v1").events[0].examples[0]["payload"]
SPECIALISTS = ("sp-liu", "sp-ma", "sp-huang")
MODELS = (("YD-XF250", "XF250"), ("YD-XF350", "XF350"), ("YD-XF500", "XF500"), ("YD-XF1000", "XF1K"))
CHANNELS = ("hotline", "dealer", "regional_manager", "online")
REGIONS = ("south_china", "east_china", "north_china", "southwest", "central_china", "northwest")


def cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------------------------------ seeding


def _template() -> dict[str, Any]:
    complaint = ComplaintReceived.model_validate(EXAMPLE | {"received_at": datetime.now(UTC)})
    policy = TargetPolicy.from_file(ROOT / "services/dispatch/src/dispatch/targets.yaml")
    case = open_case(complaint, event_id="seed", department="quality", priority="normal", policy=policy)
    return bson_safe(case.model_dump(mode="python"))


def seed_docs(
    start: int, n: int, total: int, now: datetime, rng: random.Random
) -> tuple[list[dict], list[dict], list[dict], list[dict]]:
    """Dispatch cases, timeline entries, warranty facts and parts requests for cases start..start+n."""
    template = _template()
    cases, timeline, facts, requests = [], [], [], []
    for i in range(start, start + n):
        received = now - timedelta(days=rng.uniform(0, 730))
        model, prefix = MODELS[i % len(MODELS)]
        serial = f"{prefix}{2300000000 + i % (total // 3 + 1):010d}"  # about three cases per unit
        case_id = f"YD-B{i:09d}"
        assignee = SPECIALISTS[i % len(SPECIALISTS)]
        age = (now - received).days
        status = (
            "followed_up"
            if age > 45
            else rng.choice(("assigned", "in_progress", "resolved", "closed", "received"))
        )
        doc = copy.deepcopy(template)
        doc.pop("case_id", None)
        closed = status in ("closed", "followed_up")
        doc.update(
            {
                "_id": case_id,
                "status": status,
                "open": not closed,
                "channel": CHANNELS[i % 4],
                "region": REGIONS[i % len(REGIONS)],
                "received_at": received,
                "assigned_at": received + timedelta(minutes=30),
                "first_reply_at": received + timedelta(hours=rng.uniform(1, 20)),
                "closed_at": received + timedelta(days=rng.uniform(1, 10)) if closed else None,
                "assignee": None if status == "received" else assignee,
                "category": rng.choice(
                    ("product_fault", "product_fault", "consumable", "software", "installation")
                ),
                "follow_up_due_on": (received + timedelta(days=14)).date().isoformat() if closed else None,
                "follow_ups": [
                    {
                        "visited_on": (received + timedelta(days=15)).date().isoformat(),
                        "satisfaction": rng.randint(1, 5),
                        "notes": "回访",
                        "by": assignee,
                        "recorded_at": received + timedelta(days=15),
                    }
                ]
                if status == "followed_up"
                else [],
                "version": 3,
                "outbox": {},
                "applied": {},
            }
        )
        doc["product"] = {**doc["product"], "model": model, "serial_no": serial}
        doc["customer"] = {**doc["customer"], "phone": f"+86138{i:08d}"}
        doc["targets"] = {
            k: received + timedelta(hours=h) for k, h in (("assign", 4), ("first_reply", 24), ("close", 168))
        }
        # As a running dispatch leaves them: an open case past its close target has its breach recorded
        # by the scan and nothing more for it to do (seeded overdue and unmarked, thousands of them
        # were left for the scan to write, 500 every 30 s, while the reads were measured).
        close_due = received + timedelta(hours=168)
        overdue = not closed and close_due < now
        doc["breaches"] = {"close": close_due} if overdue else {}
        doc["next_deadline"] = None if closed or overdue else close_due
        cases.append(doc)
        for k, event_type in enumerate(
            (
                "complaint.received",
                "case.assigned",
                "warranty.decided",
                "case.replied",
                *(("case.closed", "case.followed_up") if closed else ()),
            )
        ):
            timeline.append(
                {
                    "_id": f"{case_id}-{k}",
                    "case_id": case_id,
                    "event_type": event_type,
                    "occurred_at": received + timedelta(hours=k),
                    "recorded_at": received + timedelta(hours=k),
                    "producer": "seed",
                    "topic": "seed",
                    "summary": f"{event_type} (seed)",
                    "payload": {"case_id": case_id, "note": "x" * 300},
                }
            )
        facts.append(
            {
                "_id": case_id,
                "serial_no": serial,
                "model": model,
                "fault_kind": "hardware",
                "part": "motor",
                "reported_on": received.date().isoformat(),
                "purchase_date": (received - timedelta(days=200)).date().isoformat(),
                "invoice_no": "44001234",
                "service_card_stamped": True,
                "confirmed": True,
                "specialist_id": assignee,
                "department": "quality",
                "version": 1,
                "outbox": {},
                "applied": {},
                "decisions": [
                    {
                        "event_id": f"d-{i}",
                        "decision": "covered",
                        "remedy": "free_repair",
                        "reasons": ["within_product_warranty"],
                        "rule_set": "2026-11-01",
                        "decided_at": received + timedelta(hours=1),
                        "supersedes": None,
                    }
                ],
                "evidence": [],
                "repairs": [],
            }
        )
        if i % 10 == 0:
            requests.append(
                {
                    "_id": f"PR-B{i:09d}",
                    "case_id": case_id,
                    "part": "motor",
                    "state": "repaired",
                    "opened_at": received,
                    "deadline": received + timedelta(hours=48),
                    "version": 2,
                    "outbox": {},
                    "applied": {},
                }
            )
    return cases, timeline, facts, requests


async def seed(suite: Suite, n: int, rng: random.Random) -> float:
    """Write the seed, creating the indexes the services create; returns seconds taken."""
    started = time.perf_counter()
    client: AsyncMongoClient = AsyncMongoClient(suite.mongodb_url, tz_aware=True)
    dispatch, warranty, parts = (client[suite.database(s)] for s in ("dispatch", "warranty", "parts"))
    cases_agg = Aggregates(
        dispatch["cases"],
        Case,
        id_field="case_id",
        producer="seed",
        publisher=None,  # type: ignore[arg-type]
        query_fields=case_query_fields,
    )
    facts_agg = Aggregates(warranty["cases"], CaseFacts, id_field="case_id", producer="seed", publisher=None)  # type: ignore[arg-type]
    await cases_agg.ensure_indexes()
    await CaseQueries(cases_agg).ensure_indexes()
    await TimelineRepository(dispatch).ensure_indexes()
    await facts_agg.ensure_indexes()
    await CaseFactsQueries(facts_agg).ensure_indexes()
    now = datetime.now(UTC)
    for start in range(0, n, 5000):
        cases, timeline, facts, requests = seed_docs(start, min(5000, n - start), n, now, rng)
        await dispatch["cases"].bulk_write([InsertOne(d) for d in cases], ordered=False)
        await dispatch["timeline"].bulk_write([InsertOne(d) for d in timeline], ordered=False)
        await warranty["cases"].bulk_write([InsertOne(d) for d in facts], ordered=False)
        if requests:
            await parts["requests"].bulk_write([InsertOne(d) for d in requests], ordered=False)
    await client.close()
    return time.perf_counter() - started


# ------------------------------------------------------------------------------------------ reads


async def timed(n: int, call: Callable[[int], Awaitable[None]]) -> dict[str, float]:
    took = []
    for i in range(n):
        started = time.perf_counter()
        await call(i)
        took.append((time.perf_counter() - started) * 1000)
    took.sort()
    return {
        "n": n,
        "p50_ms": round(statistics.median(took), 1),
        "p99_ms": round(percentile(took, 0.99), 1),
        "max_ms": round(took[-1], 1),
    }


async def measure(suite: Suite, ids: list[str], serials: list[str], rng: random.Random) -> dict[str, Any]:
    d, w = suite.first("dispatch").url, suite.first("warranty").url
    today = datetime.now(UTC).date()
    out: dict[str, Any] = {}
    async with aiohttp.ClientSession(headers=MANAGER) as http:

        def get(url: str) -> Callable[[int], Awaitable[None]]:
            async def call(_i: int) -> None:
                async with http.get(url() if callable(url) else url) as res:
                    assert res.status == 200, (res.status, await res.text())
                    await res.read()

            return call

        out["case page"] = await timed(300, get(lambda: f"{d}/v1/cases/{rng.choice(ids)}"))
        out["manager's board (open, newest first)"] = await timed(
            300, get(lambda: f"{d}/v1/cases?open=true&page={rng.randint(1, 5)}")
        )
        out["a specialist's open cases"] = await timed(
            300, get(lambda: f"{d}/v1/cases?open=true&assignee={rng.choice(SPECIALISTS)}")
        )
        out["every case, a page"] = await timed(300, get(lambda: f"{d}/v1/cases?page={rng.randint(1, 50)}"))
        out["a unit's history"] = await timed(
            200, get(lambda: f"{w}/v1/warranty/units/{rng.choice(serials)}")
        )
        out["follow-ups due"] = await timed(100, get(f"{d}/v1/follow-ups/due"))
        month = f"from={today - timedelta(days=30)}&to={today}"
        year = f"from={today - timedelta(days=365)}&to={today}"
        out["statistics for a month"] = await timed(20, get(f"{d}/v1/stats?{month}&group_by=category"))
        out["statistics for a year"] = await timed(
            5, get(f"{d}/v1/stats?{year}&group_by=period&period=month")
        )
    client: AsyncMongoClient = AsyncMongoClient(suite.mongodb_url, tz_aware=True)
    queries = CaseQueries(
        Aggregates(
            client[suite.database("dispatch")]["cases"],
            Case,
            id_field="case_id",
            producer="bench",
            publisher=None,
        )
    )  # type: ignore[arg-type]
    out["deadline scan (query)"] = await timed(100, lambda _i: queries.due(datetime.now(UTC)))
    await client.close()
    return out


async def store_cpu_two_readers(
    suite: Suite, ids: list[str], rng: random.Random, seconds: float = 10
) -> float:
    """The store's CPU (share of one core) while two readers open cases one after another."""
    url = suite.first("dispatch").url
    pid = component_pid("store")
    stop = time.monotonic() + seconds
    async with aiohttp.ClientSession(headers=MANAGER) as http:

        async def reader() -> None:
            while time.monotonic() < stop:
                async with http.get(f"{url}/v1/cases/{rng.choice(ids)}") as res:
                    await res.read()

        before, started = cpu_seconds(pid), time.monotonic()
        await asyncio.gather(reader(), reader())
        return round((cpu_seconds(pid) - before) / (time.monotonic() - started), 3)


async def idle_cpu(seconds: float = 30) -> dict[str, float]:
    """CPU of the whole suite (`make up`: every service, Kafka, the store) doing nothing."""
    stack("up", "all")
    pids = {p.stem: int(p.read_text()) for p in (ROOT / ".local/run").glob("*.pid")}
    await asyncio.sleep(15)  # start-up settles (consumer groups joined, first sweeps done)
    before, started = {k: cpu_seconds(p) for k, p in pids.items()}, time.monotonic()
    await asyncio.sleep(seconds)
    elapsed = time.monotonic() - started
    shares = {k: round((cpu_seconds(p) - before[k]) / elapsed, 4) for k, p in pids.items()}
    return shares | {"total": round(sum(shares.values()), 4)}


async def run_size(n: int, rng: random.Random) -> dict[str, Any]:
    suite = Suite(extra_env={"SCAN_INTERVAL_S": "30"})
    try:
        took = await seed(suite, n, rng)
        print(f"  seeded {n} cases in {took:.0f}s", flush=True)
        for service in ("dispatch", "warranty"):
            await suite.start(service)
        client: AsyncMongoClient = AsyncMongoClient(suite.mongodb_url)
        # Dispatch builds the figures statistics read from the seeded cases when it starts (as after an
        # upgrade); the reads are measured once that is done.
        dispatch_db, started = client[suite.database("dispatch")], time.monotonic()
        while (
            await dispatch_db["case_figures"].estimated_document_count() < n
            or await dispatch_db["case_figures_dirty_days"].find_one({}) is not None
        ):
            await asyncio.sleep(1)
        print(f"  figures for statistics built by dispatch in {time.monotonic() - started:.0f}s", flush=True)
        ids = [
            d["_id"]
            async for d in await client[suite.database("dispatch")]["cases"].aggregate(
                [{"$sample": {"size": 500}}]
            )
        ]
        serials = [
            d["serial_no"]
            async for d in await client[suite.database("warranty")]["cases"].aggregate(
                [{"$sample": {"size": 500}}]
            )
        ]
        await client.close()
        reads = await measure(suite, ids, serials, rng)
        reads["store CPU, two readers opening cases"] = {
            "share_of_a_core": await store_cpu_two_readers(suite, ids, rng)
        }
        return reads
    finally:
        suite.stop_all()
        await cleanup(suite)


async def run(args: argparse.Namespace) -> int:
    stack("up", "infra")
    rng = random.Random(7)
    print(f"reads bench: {args.cases} cases against a baseline of {args.baseline}", flush=True)
    baseline = await run_size(args.baseline, rng)
    large = await run_size(args.cases, rng)
    print(
        f"\n== reads: p50 / p99 ms at {args.baseline:,} and {args.cases:,} cases (ratio of p99; "
        f"slowest at {args.cases:,}) =="
    )
    for what, figures in large.items():
        base = baseline[what]
        if "p99_ms" in figures:
            print(
                f"  {what:<42} {base['p50_ms']:>7} / {base['p99_ms']:>7}   {figures['p50_ms']:>7} / "
                f"{figures['p99_ms']:>7}   x{figures['p99_ms'] / max(base['p99_ms'], 0.1):.1f}"
                f"   (slowest {figures['max_ms']}, n={figures['n']})"
            )
        else:
            print(f"  {what:<42} {base} -> {figures}")
    rest = await idle_cpu() if args.idle else None
    if rest:
        print(f"  the whole suite at rest: {rest['total']:.3f} of one core ({rest})")
    out = ROOT / "bench/results" / f"reads-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "cases": args.cases,
                "baseline_cases": args.baseline,
                "baseline": baseline,
                "large": large,
                "idle": rest,
            },
            indent=2,
            default=str,
        )
    )
    print(f"written to {out.relative_to(ROOT)}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--baseline", type=int, default=1_000)
    parser.add_argument(
        "--idle",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also measure the whole suite at rest (starts `make up`'s services)",
    )
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
