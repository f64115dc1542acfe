"""`make chaos`: prove nothing is lost. A stream of complaints through all four channels while one
fault at a time hits the suite; then everything is reconciled.

    lost = acknowledged − persisted − dead-lettered      (must be 0)
    duplicate cases                                      (must be 0)
    every poison message in a dead-letter topic, no partition stuck, lag back to 0 within a minute.

Faults, in order: kill -9 intake; kill -9 dispatch mid-batch; kill -9 warranty; kill -9 the broker
then start it again (intake recovers without a restart); the broker paused longer than the session
timeout; kill -9 of the store and 30 s without it; dispatch scaled 1→2→1 under load; poison messages (malformed,
wrong schema, oversized) into each consumed topic. A client that gets 5xx or a timeout retries with the
same Idempotency-Key, as the channels are told to. The table is printed and written to bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import signal
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

import aiohttp
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient

from bench.suite import ROOT, Suite, cleanup, component_pid, stack
from operations.adapters.kafka_view import KafkaView

KEYS = {
    "hotline": "dev-hotline-7f3a9c2e51b84d06",
    "dealer": "dev-dealer-5d1c8a3f7e2b9406",
    "regional_manager": "dev-regional-manager-2b8e4f1a9c",
}
CONSUMED_TOPICS = ("intake.complaints.v1", "dispatch.cases.v1", "warranty.decisions.v1")


def body(channel: str, key: str) -> tuple[str, dict, dict[str, str]]:
    """A complaint whose description carries its key, so cases can be matched to what was sent."""
    text = f"[{key}] 新风机开机后电机异响，风量变小"
    customer = {"name": "测试客户", "phone": "13812345678", "address": "广东省广州市天河区"}
    if channel == "hotline":
        return (
            "hotline",
            {
                "caller_name": "测试客户",
                "phone": "13812345678",
                "called_at": "2026-11-26T09:00:00",
                "transcript": text,
                "agent_id": "chaos",
            },
            {"X-API-Key": KEYS["hotline"], "Idempotency-Key": key},
        )
    if channel == "dealer":
        return (
            "dealer",
            {
                "dealer_code": "D-GZ-001",
                "ticket_id": key,
                "customer": customer,
                "description": text,
                "product": {
                    "model": "YD-XF250",
                    "serial_no": "XF2502405001234",
                    "purchase_date": "2026-03-18",
                    "invoice_no": "1",
                    "service_card_stamped": True,
                },
            },
            {"X-API-Key": KEYS["dealer"]},
        )
    if channel == "regional_manager":
        return (
            "regional-manager",
            {
                "manager_id": "RM-SOUTH-01",
                "region": "华南",
                "customer": customer,
                "product": {"model": "YD-XF250"},
                "description": text,
            },
            {"X-API-Key": KEYS["regional_manager"], "Idempotency-Key": key},
        )
    return (
        "online",
        {"name": "测试客户", "phone": "13812345678", "description": text},
        {"Idempotency-Key": key},
    )


@dataclass
class Ledger:
    outcome: dict[str, str] = field(default_factory=dict)  # key -> acked | rejected | ambiguous
    case_ids: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    first_outcome: Counter = field(default_factory=Counter)
    pending: list[tuple[str, str]] = field(default_factory=list)  # (key, channel) to retry


async def send(
    client: aiohttp.ClientSession,
    turn: asyncio.Semaphore,
    suite: Suite,
    ledger: Ledger,
    key: str,
    channel: str,
    *,
    first: bool,
) -> None:
    path, payload, headers = body(channel, key)
    case_id = None
    try:
        async with turn:
            async with client.post(
                f"{suite.first('intake').url}/v1/complaints/{path}", json=payload, headers=headers
            ) as res:
                code = res.status
                if code == 202:
                    case_id = (await res.json())["case_id"]
    except (aiohttp.ClientError, TimeoutError):
        code = 599  # timeout or connection refused: ambiguous
    kind = "acked" if code == 202 else "rejected" if 400 <= code < 500 else "ambiguous"
    if first:
        ledger.first_outcome[kind] += 1
    ledger.outcome[key] = kind
    if kind == "acked":
        ledger.case_ids[key].add(case_id)
    elif kind == "ambiguous":
        ledger.pending.append((key, channel))


IN_FLIGHT = 64


def channel_client(timeout: float) -> aiohttp.ClientSession:
    """A channel's client: at most IN_FLIGHT requests on the wire. A request still waiting its turn (a
    semaphore, taken before the client is asked) was never sent, so it is not ambiguous: only one that
    reached intake and got no answer in `timeout` seconds, a refused connection or a 5xx is.

    aiohttp, not httpx: the load generator shares the two cores with the suite it tests, and httpx cost
    about half a core at 75/s (its pool also scans every queued request on each release)."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=IN_FLIGHT),
        timeout=aiohttp.ClientTimeout(total=timeout),
    )


async def load(suite: Suite, ledger: Ledger, stop: asyncio.Event, rate: float) -> None:
    channels = itertools.cycle(("hotline", "dealer", "regional_manager", "online"))
    turn = asyncio.Semaphore(IN_FLIGHT)
    async with channel_client(8) as client:
        tasks: set[asyncio.Task] = set()
        n = 0
        start = time.monotonic()
        while not stop.is_set():
            key = f"chaos-{suite.name}-{n:06d}"
            task = asyncio.create_task(send(client, turn, suite, ledger, key, next(channels), first=True))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            n += 1
            await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))
        await asyncio.gather(*tasks)


async def retry_ambiguous(suite: Suite, ledger: Ledger, rounds: int = 5) -> None:
    """What a channel does with a 5xx or timeout: try again later with the same key."""
    turn = asyncio.Semaphore(IN_FLIGHT)
    async with channel_client(10) as client:
        for _ in range(rounds):
            todo, ledger.pending = ledger.pending, []
            todo = [(k, c) for k, c in dict(todo).items() if ledger.outcome.get(k) == "ambiguous"]
            if not todo:
                return
            print(f"  retrying {len(todo)} ambiguous requests with their keys", flush=True)
            await asyncio.gather(*(send(client, turn, suite, ledger, k, c, first=False) for k, c in todo))
            await asyncio.sleep(3)


async def poison(suite: Suite) -> int:
    """Malformed, wrong-schema and oversized messages into every consumed topic."""
    producer = AIOKafkaProducer(bootstrap_servers=suite.bootstrap, max_request_size=2_000_000)
    await producer.start()
    sent = 0
    try:
        for topic in CONSUMED_TOPICS:
            for value in (
                b"\x00\x01 not json",
                b'{"event_type": "complaint.received", "payload": {"x": 1}}',
                b'{"junk": "' + b"x" * 900_000 + b'"}',
            ):
                await producer.send_and_wait(
                    suite.prefix + topic, value, key=f"POISON-{uuid.uuid4().hex[:8]}".encode()
                )
                sent += 1
    finally:
        await producer.stop()
    return sent


def caught_up(rows: list[dict], earlier_ends: dict[tuple[str, str, int], int]) -> bool:
    """Every group has consumed everything that had arrived at the previous look. Under continuing
    load the lag is seldom 0 at an instant (complaints arrive between reading a group's offsets and
    the topics' ends), so zero lag means: nothing older than the last look is still waiting."""
    if not rows or not earlier_ends:
        return False
    for r in rows:
        before = earlier_ends.get((r["group"], r["topic"], r["partition"]))
        if before is None or (r["committed"] or 0) < before:
            return False
    return True


async def fault(name: str, log: list[tuple[str, float, float | None]], action, view: KafkaView) -> None:
    """Inject one fault, then measure how long until every consumer group is back at zero lag
    (see caught_up), for at most a minute."""
    started = time.monotonic()
    print(f"  fault: {name} ...", flush=True)
    await action()
    recovered = time.monotonic()
    back: float | None = None
    earlier: dict[tuple[str, str, int], int] = {}
    while time.monotonic() - recovered < 60:
        try:
            rows = await view.lag()
        except Exception:  # the broker itself may still be coming back
            rows = []
        if caught_up(rows, earlier):
            back = time.monotonic() - recovered
            break
        earlier = {(r["group"], r["topic"], r["partition"]): r["end"] for r in rows}
        await asyncio.sleep(0.5)
    print(
        f"    lag back to 0 {'after ' + format(back, '.1f') + ' s' if back is not None else 'NOT within 60 s'}",
        flush=True,
    )
    log.append((name, recovered - started, back))


async def run(args: argparse.Namespace) -> int:
    stack("up", "infra")
    suite = Suite(
        extra_env={
            "KAFKA_ACK_TIMEOUT_S": "3",
            "MONGODB_TIMEOUT_S": "3",
            "UNKNOWN_CASE_GRACE_S": "600",
            "OUTBOX_RELAY_INTERVAL_S": "2",
        }
    )
    print(f"chaos run {suite.name}: intake, dispatch, warranty as processes", flush=True)
    for service in ("intake", "dispatch", "warranty"):
        await suite.start(service)
    ledger = Ledger()
    stop = asyncio.Event()
    loader = asyncio.create_task(load(suite, ledger, stop, args.rate))
    faults: list[tuple[str, float, float | None]] = []
    hold = args.hold
    view = KafkaView(suite.bootstrap, suite.prefix)

    async def kill_restart(service: str) -> None:
        inst = suite.first(service)
        await asyncio.sleep(hold)
        suite.kill(inst)
        await asyncio.sleep(3)
        await suite.restart(inst)

    async def kill_broker() -> None:
        await asyncio.sleep(hold)
        os.kill(component_pid("kafka"), signal.SIGKILL)
        await asyncio.sleep(5)
        stack("up", "infra")

    async def pause_broker() -> None:
        await asyncio.sleep(hold)
        pid = component_pid("kafka")
        os.kill(pid, signal.SIGSTOP)
        await asyncio.sleep(15)  # longer than the 10 s consumer session timeout
        os.kill(pid, signal.SIGCONT)

    async def kill_store() -> None:
        # kill -9: acknowledged writes must survive (the store syncs each commit), and the services
        # must ride out 30 s without it.
        await asyncio.sleep(hold)
        os.kill(component_pid("store"), signal.SIGKILL)
        await asyncio.sleep(30)
        stack("up", "infra")

    async def scale_dispatch() -> None:
        second = await suite.start("dispatch")
        await asyncio.sleep(hold * 2)
        suite.stop(second)

    poison_sent = 0

    async def inject_poison() -> None:
        nonlocal poison_sent
        poison_sent += await poison(suite)

    kinds = (
        ("kill -9 intake", lambda: kill_restart("intake")),
        ("kill -9 dispatch", lambda: kill_restart("dispatch")),
        ("kill -9 warranty", lambda: kill_restart("warranty")),
        ("kill -9 broker, restart", kill_broker),
        ("broker paused 15 s", pause_broker),
        ("kill -9 store, down 30 s", kill_store),
        ("dispatch scaled 1→2→1", scale_dispatch),
        ("poison messages", inject_poison),
    )
    if args.faults:
        kinds = tuple((name, action) for name, action in kinds if any(f in name for f in args.faults))
    for round_ in range(1, args.rounds + 1):
        for name, action in kinds:
            await fault(f"{name} (round {round_})" if args.rounds > 1 else name, faults, action, view)
            await asyncio.sleep(hold)
    stop.set()
    await loader
    await retry_ambiguous(suite, ledger)

    # Recovery: every consumer group back to zero lag.
    recovered_at = time.monotonic()
    lag_left = None
    # Wait for the backlog (however long), so the reconciliation counts what was finally persisted;
    # the pass criterion still asks for zero lag within a minute.
    while time.monotonic() - recovered_at < args.wait:
        rows = await view.lag()
        lag_left = sum(r["lag"] for r in rows)
        if rows and lag_left == 0:
            break
        await asyncio.sleep(2)
    seconds_to_zero_lag = time.monotonic() - recovered_at

    table = await reconcile(suite, ledger, poison_sent, view)
    await view.close()
    table["lag after recovery"] = lag_left
    table["seconds to zero lag"] = round(seconds_to_zero_lag, 1)
    slowest = [back for _n, _s, back in faults]
    table["faults injected"] = len(faults)
    table["slowest return to zero lag (s)"] = (
        round(max(b for b in slowest if b is not None), 1) if any(b is not None for b in slowest) else None
    )
    table["faults not back to zero lag in 60 s"] = sum(b is None for b in slowest)
    ok = (
        table["lost"] == 0
        and table["duplicate cases"] == 0
        and table["poison dead-lettered"] == poison_sent
        and lag_left == 0
        and seconds_to_zero_lag <= 60
        and all(b is not None for b in slowest)
    )
    report = render(suite, table, faults, ok, args)
    print(report)
    out = ROOT / "bench/results" / f"chaos-{datetime.now(UTC):%Y%m%dT%H%M%S}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report, encoding="utf-8")
    print(f"written to {out.relative_to(ROOT)}")
    suite.stop_all()
    if not args.keep:
        await cleanup(suite)
    return 0 if ok else 1


async def reconcile(suite: Suite, ledger: Ledger, poison_sent: int, view: KafkaView) -> dict:
    acked = {k for k, v in ledger.outcome.items() if v == "acked"}
    acked_cases = {next(iter(ledger.case_ids[k])) for k in acked}
    mongo: AsyncMongoClient = AsyncMongoClient(suite.mongodb_url)
    cases = [d async for d in mongo[suite.database("dispatch")]["cases"].find({}, {"description": 1})]
    decided = {d["_id"] async for d in mongo[suite.database("warranty")]["cases"].find({}, {"_id": 1})}
    await mongo.close()
    persisted = {d["_id"] for d in cases}
    per_key = Counter(d["description"].split("]")[0].lstrip("[") for d in cases)
    dead = await view.dead_letters(limit=10_000)
    dead_keys = {d["key"] for d in dead}
    poisoned = {k for k in dead_keys if (k or "").startswith("POISON-")}
    return {
        "sent": len(ledger.outcome),
        "acknowledged (2xx)": len(acked),
        "rejected (4xx)": sum(v == "rejected" for v in ledger.outcome.values()),
        "ambiguous at first (5xx/timeout)": ledger.first_outcome["ambiguous"],
        "ambiguous after retries": sum(v == "ambiguous" for v in ledger.outcome.values()),
        "persisted as cases": len(acked_cases & persisted),
        "warranty decisions": len(acked_cases & decided),
        "dead-lettered (acknowledged ones)": len(acked_cases & dead_keys),
        "duplicate cases": sum(n - 1 for n in per_key.values() if n > 1)
        + sum(len(ids) - 1 for ids in ledger.case_ids.values() if len(ids) > 1),
        "lost": len(acked_cases - persisted - dead_keys),
        "poison sent": poison_sent,
        # A poison message is parked by every service that consumes its topic (dispatch and warranty
        # both read dispatch.cases.v1): it counts once here, its records once per service below.
        "poison dead-lettered": len(poisoned),
        "poison dead-letter records": sum(1 for d in dead if (d["key"] or "").startswith("POISON-")),
    }


def render(
    suite: Suite,
    table: dict,
    faults: list[tuple[str, float, float | None]],
    ok: bool,
    args: argparse.Namespace,
) -> str:
    width = max(len(k) for k in table)
    lines = [
        f"# make chaos — {suite.name} — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"load {args.rate}/s through all four channels; faults held {args.hold}s",
        "",
        "```",
    ]
    lines += [f"{k.ljust(width)}  {v}" for k, v in table.items()]
    lines += [
        "```",
        "",
        "faults (seconds each, including the hold; then seconds until the lag was back to 0):",
    ]
    lines += [
        f"- {name}: {secs:.0f} s, lag 0 after {back:.1f} s"
        if back is not None
        else f"- {name}: {secs:.0f} s, lag NOT back to 0 within 60 s"
        for name, secs, back in faults
    ]
    lines += [
        "",
        f"RESULT: {'PASS' if ok else 'FAIL'} (lost = 0, duplicates = 0, every poison message dead-lettered, "
        "lag back to 0 within 60 s of every fault)",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="complaints per second (default: half of the highest rate the last pipeline bench kept up with)",
    )
    parser.add_argument("--rounds", type=int, default=5, help="how many times each kind of fault is injected")
    parser.add_argument("--hold", type=float, default=6, help="seconds of load before and after each fault")
    parser.add_argument("--keep", action="store_true", help="keep the run's topics and databases")
    parser.add_argument(
        "--faults",
        nargs="*",
        default=None,
        help="only the faults whose name contains one of these (e.g. broker dispatch); all by default",
    )
    parser.add_argument(
        "--wait", type=float, default=600, help="longest wait for zero lag before reconciling"
    )
    args = parser.parse_args()
    if args.rate is None:
        args.rate = default_rate()
    return asyncio.run(run(args))


def default_rate() -> float:
    """Half the highest rate the newest pipeline bench on this machine kept up with (4/s without one)."""
    results = sorted((ROOT / "bench/results").glob("pipeline-*.json"))
    if results:
        best = json.loads(results[-1].read_text()).get("highest_rate")
        if best:
            return float(best) / 2
    return 4.0


if __name__ == "__main__":
    raise SystemExit(main())
