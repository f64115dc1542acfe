"""`make bench` (pipeline part): complaints per second from HTTP POST through intake, dispatch and
warranty to the persisted decision, at rising open-loop rates.

Open loop: each complaint has an intended send time (t0 + i/rate); latency is measured from that
intended time to the moment its warranty.decided is read back from Kafka, so a slow response delays
the clock instead of hiding behind it (no coordinated omission). A rate "keeps up" when every decision
of the step arrives within `--drain` seconds of the step's end. The highest such rate is reported, then
latency percentiles at half of it. Beside it, in the same run and on the same broker: raw aiokafka
produce + consume of the same number of messages, and the store's bulk upsert rate. Ratios printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import aiohttp
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pymongo import AsyncMongoClient, UpdateOne

from bench.suite import ROOT, Suite, cleanup, component_pid, percentile, stack
from operations.adapters.kafka_view import KafkaView
from shared.mongo import bulk_write_in_one_commit

HOTLINE = {"X-API-Key": "dev-hotline-7f3a9c2e51b84d06"}


MODELS = (("YD-XF250", "XF250"), ("YD-XF350", "XF350"), ("YD-XF500", "XF500"), ("YD-XF1000", "XF1K"))


def complaint(i: int) -> dict:
    """Every complaint about another unit (its own serial, one of four models) and another caller."""
    model, prefix = MODELS[i % len(MODELS)]
    return {
        "caller_name": "测试客户",
        "phone": f"138{i % 100_000_000:08d}",
        "called_at": "2026-11-26T09:00:00",
        "transcript": f"[{i}] 新风机开机后电机异响，风量变小",
        "agent_id": "bench",
        "product": {"model": model, "serial_no": f"{prefix}{2405000000 + i:010d}"},
    }


class Decisions:
    """Reads warranty.decided as it is published and notes when each case's first decision arrived."""

    def __init__(self, suite: Suite) -> None:
        self.suite = suite
        self.seen: dict[str, float] = {}
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.suite.bootstrap, group_id=None, enable_auto_commit=False
        )
        await consumer.start()
        topic = f"{self.suite.prefix}warranty.decisions.v1"
        while not consumer.partitions_for_topic(topic):
            await consumer._client.force_metadata_update()
            await asyncio.sleep(0.2)
        consumer.assign([TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)])
        await consumer.seek_to_beginning()

        async def loop() -> None:
            try:
                while True:
                    for records in (await consumer.getmany(timeout_ms=100)).values():
                        now = time.monotonic()
                        for r in records:
                            self.seen.setdefault(r.key.decode(), now)
            finally:
                await consumer.stop()

        self._task = asyncio.create_task(loop())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


async def step(
    suite: Suite, decisions: Decisions, rate: float, seconds: float, drain_s: float, offset: int
) -> dict:
    """Send `rate`/s for `seconds` at intended times; wait up to `drain_s` for every decision."""
    url = f"{suite.first('intake').url}/v1/complaints/hotline"
    intended: dict[str, float] = {}
    errors = 0
    total = int(rate * seconds)
    # aiohttp: the load generator shares the two cores with everything it measures, and costs a
    # fraction of what httpx does per request.
    connector = aiohttp.TCPConnector(limit=200)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as client:
        t0 = time.monotonic() + 0.2

        async def one(i: int) -> None:
            nonlocal errors
            at = t0 + i / rate
            await asyncio.sleep(max(0.0, at - time.monotonic()))
            try:
                async with client.post(url, json=complaint(offset + i), headers=HOTLINE) as res:
                    if res.status == 202:
                        intended[(await res.json())["case_id"]] = at
                    else:
                        errors += 1
            except (aiohttp.ClientError, TimeoutError):
                errors += 1

        await asyncio.gather(*(one(i) for i in range(total)))
        end = t0 + seconds
    deadline = max(time.monotonic(), end) + drain_s
    while time.monotonic() < deadline and not all(c in decisions.seen for c in intended):
        await asyncio.sleep(0.1)
    arrived = [decisions.seen[c] - at for c, at in intended.items() if c in decisions.seen]
    arrived.sort()

    def pct(q: float) -> float | None:
        return round(percentile(arrived, q) * 1000, 1) if arrived else None

    def median_latency(first: float, last: float) -> float:
        """Median time to the decision of the complaints sent between these fractions of the step."""
        part = sorted(
            decisions.seen[c] - at
            for c, at in intended.items()
            if c in decisions.seen and first * seconds <= at - t0 < last * seconds
        )
        return part[len(part) // 2] if part else float("inf")

    # Keeping up means no backlog builds during the step: the complaints sent in its last fifth wait
    # about as long as those in its first (a rate that falls behind shows it as a growing wait, even
    # when a short step's backlog drains within the drain window afterwards).
    early, late = median_latency(0, 0.2), median_latency(0.8, 1.0)
    grew = late - early
    return {
        "rate": rate,
        "sent": total,
        "accepted": len(intended),
        "errors": errors,
        "decided": len(arrived),
        # Every decision arrived, the slowest within the drain window, and the wait did not grow.
        "kept_up": bool(intended)
        and len(arrived) == len(intended)
        and errors == 0
        and arrived[-1] <= drain_s
        and grew <= max(early, 0.2),
        "wait_grew_ms": round(grew * 1000, 1) if arrived else None,
        "p50_ms": pct(0.5),
        "p99_ms": pct(0.99),
        "max_ms": round(arrived[-1] * 1000, 1) if arrived else None,
        "cases": sorted(intended),
    }


def cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def hops(suite: Suite, cases: set[str]) -> dict[str, dict[str, float]]:
    """Where a complaint's time goes: from intake's acceptance to dispatch's assignment, and from the
    assignment to warranty's decision (the events' own times), p50/p99 in ms."""
    from shared.testing.kafka import read_topic

    def times(topic: str, event_type: str) -> Awaitable[list]:
        return read_topic(
            suite.bootstrap,
            f"{suite.prefix}{topic}",
            settle_s=1.0,
            until=lambda rs: (
                len([r for r in rs if r.headers.get("event_type") == event_type.encode()]) >= len(cases)
            ),
        )

    received = {
        r.key.decode(): r.envelope().occurred_at
        for r in await times("intake.complaints.v1", "complaint.received")
    }
    assigned = {
        r.key.decode(): r.envelope().occurred_at
        for r in await times("dispatch.cases.v1", "case.assigned")
        if r.headers.get("event_type") == b"case.assigned"
    }
    decided = {
        r.key.decode(): r.envelope().occurred_at
        for r in await times("warranty.decisions.v1", "warranty.decided")
    }

    def pct(values: list[float]) -> dict[str, float]:
        values.sort()
        return (
            {
                "p50_ms": round(percentile(values, 0.5) * 1000, 1),
                "p99_ms": round(percentile(values, 0.99) * 1000, 1),
            }
            if values
            else {}
        )

    return {
        **await shown_on_the_case(suite, cases, pct),
        "accepted → assigned (intake, Kafka, dispatch)": pct(
            [(assigned[c] - received[c]).total_seconds() for c in cases if c in assigned and c in received]
        ),
        "assigned → decided (Kafka, warranty)": pct(
            [(decided[c] - assigned[c]).total_seconds() for c in cases if c in decided and c in assigned]
        ),
    }


async def shown_on_the_case(
    suite: Suite, cases: set[str], pct: Callable[[list[float]], dict[str, float]]
) -> dict[str, dict[str, float]]:
    """How long after warranty decided the case page shows it: dispatch records the decision on the
    case, then on its timeline (the time it recorded it there, against the decision's own time). The
    pipeline's figures end at the decision in Kafka; this is what the people looking at the case wait."""
    client: AsyncMongoClient = AsyncMongoClient(suite.mongodb_url, tz_aware=True)
    timeline = client[suite.database("dispatch")]["timeline"]
    query = {"topic": "warranty.decisions.v1", "case_id": {"$in": sorted(cases)}}
    deadline = time.monotonic() + 120
    while await timeline.count_documents(query) < len(cases) and time.monotonic() < deadline:
        await asyncio.sleep(1)
    waits = [
        (d["recorded_at"] - d["occurred_at"]).total_seconds()
        async for d in timeline.find(query, {"recorded_at": 1, "occurred_at": 1})
    ]
    await client.close()
    return {f"decided → shown on the case (dispatch; {len(waits)} of {len(cases)})": pct(waits)}


async def raw_kafka(suite: Suite, count: int, size: int) -> dict:
    """The same number of messages through aiokafka alone: produce (acks=all) then consume."""
    topic = f"{suite.prefix}raw-baseline"
    admin = AIOKafkaAdminClient(bootstrap_servers=suite.bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 6, 1)])
    await admin.close()
    producer = AIOKafkaProducer(
        bootstrap_servers=suite.bootstrap, acks="all", enable_idempotence=True, linger_ms=2
    )
    await producer.start()
    value = b"x" * size
    started = time.perf_counter()
    futures = [await producer.send(topic, value, key=str(i).encode()) for i in range(count)]
    await asyncio.gather(*futures)
    produced = time.perf_counter() - started
    await producer.stop()
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=suite.bootstrap, group_id=f"{suite.prefix}raw", auto_offset_reset="earliest"
    )
    await consumer.start()
    got = 0
    started = time.perf_counter()
    while got < count:
        for records in (await consumer.getmany(timeout_ms=500)).values():
            got += len(records)
    consumed = time.perf_counter() - started
    await consumer.stop()
    return {"produce_per_s": round(count / produced), "consume_per_s": round(count / consumed)}


async def store_upserts(suite: Suite, count: int) -> dict:
    """Bulk upserts of new ids, 500 a command: as plain bulk writes (the issue's baseline, where the
    store commits every document on its own) and each command in one transaction (one commit, as
    the services' batches write)."""
    client: AsyncMongoClient = AsyncMongoClient(suite.mongodb_url)
    rates = {}
    for name, write in (
        ("upserts_per_s", lambda col, ops: col.bulk_write(ops, ordered=False)),
        ("upserts_in_one_commit_per_s", bulk_write_in_one_commit),
    ):
        col = client[suite.database("baseline")][name]
        ops = [
            UpdateOne({"_id": f"YD-{i:010d}"}, {"$set": {"status": "received", "n": i}}, upsert=True)
            for i in range(count)
        ]
        started = time.perf_counter()
        for i in range(0, count, 500):
            await write(col, ops[i : i + 500])
        rates[name] = round(count / (time.perf_counter() - started))
    info = await client.admin.command("buildInfo")
    await client.close()
    return {**rates, "store": store_name(info)}


def store_name(build_info: dict) -> str:
    """What the store says it is (the figures mean little without it)."""
    for key, name in (("secantusVersion", "SecantusDB"), ("ferretdbVersion", "FerretDB")):
        if key in build_info:
            return f"{name} {build_info[key]} (MongoDB {build_info.get('version')} wire protocol)"
    return f"MongoDB {build_info.get('version')}"


async def run(args: argparse.Namespace) -> int:
    stack("up", "infra")
    suite = Suite(extra_env={"SCAN_INTERVAL_S": "30"})
    print(f"pipeline bench {suite.name}: intake, dispatch, warranty as processes (one each)", flush=True)
    for service in ("intake", "dispatch", "warranty"):
        await suite.start(service)
    decisions = Decisions(suite)
    try:
        # Warm up: the first decision also creates the topics and joins the consumer groups.
        async with (
            aiohttp.ClientSession() as client,
            client.post(
                f"{suite.first('intake').url}/v1/complaints/hotline", json=complaint(10**9), headers=HOTLINE
            ) as res,
        ):
            assert res.status == 202, await res.text()
            first = (await res.json())["case_id"]
        await decisions.start()
        while first not in decisions.seen:
            await asyncio.sleep(0.2)

        steps = []
        offset = 0
        best = None
        for rate in args.rates:
            result = await step(suite, decisions, rate, args.seconds, args.drain, offset)
            offset += result["sent"]
            steps.append(result)
            print(
                f"  {rate:>6.0f}/s  accepted {result['accepted']:>5}  decided {result['decided']:>5}  "
                f"p50 {result['p50_ms']} ms  p99 {result['p99_ms']} ms  wait grew {result['wait_grew_ms']} ms  "
                f"{'kept up' if result['kept_up'] else 'fell behind'}",
                flush=True,
            )
            if not result["kept_up"]:
                break
            best = rate
        half = (best or args.rates[0]) / 2
        # Let a step that fell behind finish its backlog (every group at zero lag), so the steady run
        # measures itself only.
        view = KafkaView(suite.bootstrap, suite.prefix)
        drain_started = time.monotonic()
        while (lag := sum(r["lag"] for r in await view.lag())) > 0 and time.monotonic() - drain_started < 300:
            await asyncio.sleep(1)
        print(
            f"  backlog before the steady run: {'drained' if lag == 0 else f'{lag} events left'} "
            f"after {time.monotonic() - drain_started:.0f}s",
            flush=True,
        )
        await view.close()
        pids = {s: suite.first(s).process.pid for s in ("intake", "dispatch", "warranty")}  # type: ignore[union-attr]
        pids |= {
            "kafka": component_pid("kafka"),
            "store": component_pid("store"),
            "load generator": os.getpid(),
        }
        before, started = {k: cpu_seconds(p) for k, p in pids.items()}, time.monotonic()
        steady = await step(suite, decisions, half, args.seconds * 2, args.drain, offset)
        elapsed = time.monotonic() - started
        steady["cpu_share_of_a_core"] = {
            k: round((cpu_seconds(p) - before[k]) / elapsed, 3) for k, p in pids.items()
        }
        steady["hops"] = await hops(suite, set(steady["cases"]))
        offset += steady["sent"]
    finally:
        await decisions.stop()
        suite.stop_all()
    try:
        # Baselines with the services stopped, on the same broker and store.
        raw = await raw_kafka(suite, max(offset, 2000), 1200)
        store = await store_upserts(suite, 2000)
    finally:
        await cleanup(suite)

    pipeline_rate = best or 0
    print("\n== pipeline: HTTP POST → intake → dispatch → warranty → decision in Kafka ==")
    print(
        f"highest rate that kept up (every decision in, the wait not growing across the step): {pipeline_rate}/s (steps of {args.seconds}s, drain {args.drain}s)"
    )
    print(
        f"at half that ({half:.1f}/s for {args.seconds * 2}s): p50 {steady['p50_ms']} ms, p99 {steady['p99_ms']} ms, "
        f"max {steady['max_ms']} ms, decided {steady['decided']}/{steady['accepted']}"
    )
    for hop, figures in steady.get("hops", {}).items():
        print(f"  {hop}: p50 {figures.get('p50_ms')} ms, p99 {figures.get('p99_ms')} ms")
    print(f"  CPU, share of one core, during it: {steady.get('cpu_share_of_a_core')}")
    print(f"raw aiokafka, same broker: produce {raw['produce_per_s']}/s, consume {raw['consume_per_s']}/s")
    print(
        f"store bulk upserts ({store['store']}): {store['upserts_per_s']}/s; "
        f"in one commit per 500: {store['upserts_in_one_commit_per_s']}/s"
    )
    print("ratios:")
    print(f"  pipeline / raw produce     {pipeline_rate / raw['produce_per_s']:.4f}")
    print(f"  pipeline / raw consume     {pipeline_rate / raw['consume_per_s']:.4f}")
    print(f"  pipeline / store upserts   {pipeline_rate / store['upserts_per_s']:.4f}")
    print(f"  pipeline / one-commit upserts {pipeline_rate / store['upserts_in_one_commit_per_s']:.4f}")
    out = ROOT / "bench/results" / f"pipeline-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    for result in (*steps, steady):
        result.pop("cases", None)
    out.write_text(
        json.dumps(
            {"steps": steps, "steady": steady, "raw": raw, "store": store, "highest_rate": pipeline_rate},
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
    parser.add_argument(
        "--rates", type=float, nargs="+", default=[25, 50, 75, 100, 150, 200, 250, 300, 400, 500]
    )
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument(
        "--drain", type=float, default=10, help="seconds a step's decisions may trail its end"
    )
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
