"""`make bench`: intake's accepted complaints per second with durable Kafka acks, against baselines.

Measured in one run, on the same broker, one after the other:
  1. http-only     the same HTTP + validation, answering 202 without Kafka (ceiling of the web layer)
  2. intake        POST /v1/complaints/hotline: acks=all, idempotent producer, no Idempotency-Key
  3. intake+key    the same with a fresh Idempotency-Key per request (adds the submission store)
  4. raw produce   aiokafka send_and_wait of the same event bytes, same concurrency, no HTTP
Load comes from wrk (Debian) on loopback; the server is one uvicorn worker. After the run the topic's
offsets are compared with the number of 202s: every acknowledged complaint must be in Kafka.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

ROOT = Path(__file__).resolve().parent.parent
HOTLINE_KEY = "dev-hotline-7f3a9c2e51b84d06"
BODY = {
    "caller_name": "张先生",
    "phone": "139-0000-1111",
    "called_at": "2026-11-26T09:30:00+08:00",
    "transcript": "新风机开机后电机异响，风量明显变小，已经持续三天，客户希望尽快上门检查。" * 6,
    "agent_id": "fd-he",
    "address": "广东省广州市天河区体育西路 1 号",
    "product": {"model": "YD-XF250", "serial_no": "XF2502405001234"},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wrk(url: str, *, seconds: int, connections: int, keyed: bool, body_file: str) -> dict:
    env = os.environ | {"BODY_FILE": body_file, "API_KEY": HOTLINE_KEY, "KEYED": "1" if keyed else "0"}
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(ROOT / "bench/post.lua"),
            url,
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("JSON "))
    stats = json.loads(line[5:])
    stats["rps"] = (stats["requests"] - stats["non2xx"] - stats["errors"]) / stats["seconds"]
    return stats


async def raw_produce(bootstrap: str, topic: str, value: bytes, *, seconds: float, concurrency: int) -> dict:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=2)
    await producer.start()
    count = 0
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker(n: int) -> None:
        nonlocal count
        i = 0
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            await producer.send_and_wait(topic, value, key=f"raw-{n}-{i}".encode())
            latencies.append(time.perf_counter() - t0)
            count += 1
            i += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    elapsed = time.perf_counter() - started
    await producer.stop()
    latencies.sort()
    return {
        "requests": count,
        "seconds": elapsed,
        "rps": count / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
    }


async def topic_message_count(bootstrap: str, topic: str) -> int:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        ends = await consumer.end_offsets(partitions)
        starts = await consumer.beginning_offsets(partitions)
        return sum(ends[p] - starts[p] for p in partitions)
    finally:
        await consumer.stop()


async def delete_topics(bootstrap: str, prefix: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        ours = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if ours:
            await admin.delete_topics(ours)
    finally:
        await admin.close()


def machine() -> str:
    cpu = "?"
    try:
        cpu = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text()).group(1)  # type: ignore[union-attr]
    except (OSError, AttributeError):
        pass
    return f"{os.cpu_count()} cores, {cpu}"


async def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is missing: `apt-get install wrk` (make bench installs it)", file=sys.stderr)
        return 2

    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    port = free_port()
    env = os.environ | {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "MONGODB_URL": os.environ.get("MONGODB_URL", "mongodb://127.0.0.1:27017/"),
        "MONGODB_DATABASE": f"{prefix.rstrip('.')}_intake",
        "TOPIC_PREFIX": prefix,
        "CREDENTIALS_FILE": str(ROOT / "deploy/local/dev-credentials.json"),
        "RATE_LIMIT_PER_KEY": "100000000/minute",
        "RATE_LIMIT_PER_IP": "100000000/minute",
    }
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "bench/intake_server.py"), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    results: dict[str, dict] = {}
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(200):
                try:
                    if (await client.get(f"{base}/readyz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise SystemExit(
                    f"bench server did not become ready:\n{server.stderr.read().decode()[-2000:]}"
                )
            warm = await client.post(
                f"{base}/v1/complaints/hotline", json=BODY, headers={"X-API-Key": HOTLINE_KEY}
            )
            assert warm.status_code == 202, warm.text

        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(BODY, f, ensure_ascii=False)
            body_file = f.name
        kw = {"seconds": args.seconds, "connections": args.connections, "body_file": body_file}
        print(
            f"warming up, then {args.seconds}s per scenario at {args.connections} connections ...", flush=True
        )
        wrk(f"{base}/bench/http-only", **kw | {"seconds": 2}, keyed=False)
        results["http-only"] = wrk(f"{base}/bench/http-only", **kw, keyed=False)
        results["intake"] = wrk(f"{base}/v1/complaints/hotline", **kw, keyed=False)
        results["intake+key"] = wrk(f"{base}/v1/complaints/hotline", **kw, keyed=True)
        accepted = (
            1 + results["intake"]["requests"] - results["intake"]["non2xx"] - results["intake"]["errors"]
        )
        accepted += (
            results["intake+key"]["requests"]
            - results["intake+key"]["non2xx"]
            - results["intake+key"]["errors"]
        )
        in_kafka = await topic_message_count(bootstrap, f"{prefix}intake.complaints.v1")
    finally:
        server.terminate()
        server.wait(timeout=30)

    # The same event bytes intake publishes, straight from aiokafka, at the same concurrency.
    from intake.domain.channels import HotlineCall
    from shared.contracts.envelope import encode, make_envelope, utcnow

    complaint = HotlineCall.model_validate(BODY).to_complaint(
        case_id="YD-0000000000", received_at=utcnow(), original=BODY
    )
    value = encode(
        make_envelope(
            complaint,
            event_type="complaint.received",
            schema_version=1,
            correlation_id="YD-0000000000",
            producer="bench",
        )
    )
    raw_topic = f"{prefix}raw"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    from aiokafka.admin import NewTopic

    await admin.create_topics([NewTopic(raw_topic, 6, 1)])
    await admin.close()
    results["raw produce"] = await raw_produce(
        bootstrap, raw_topic, value, seconds=args.seconds, concurrency=args.connections
    )
    await delete_topics(bootstrap, prefix)

    print(f"\nmachine: {machine()}; event size {len(value)} bytes; broker {bootstrap}")
    print(f"{'scenario':<12} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
    for name, r in results.items():
        print(f"{name:<12} {r['rps']:>9.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} {r.get('non2xx', 0):>8}")
    i, h, k, p = (results[n]["rps"] for n in ("intake", "http-only", "intake+key", "raw produce"))
    print("\nratios (same run, same broker):")
    print(
        f"  intake / http-only        {i / h:6.2f}   normalising + publishing with acks=all, on top of HTTP"
    )
    print(f"  intake / raw produce      {i / p:6.2f}   HTTP + validation + normalising, on top of Kafka")
    print(f"  intake+key / intake       {k / i:6.2f}   the idempotency record in the store")
    verdict = "OK" if in_kafka >= accepted else "LOST EVENTS"
    print(f"\n202 responses: {accepted}; events in Kafka: {in_kafka}  -> {verdict}")
    out_dir = ROOT / "bench/results"
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"intake-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(
        json.dumps(
            {"machine": machine(), "results": results, "accepted": accepted, "in_kafka": in_kafka}, indent=2
        )
    )
    print(f"written to {out.relative_to(ROOT)}")
    return 0 if in_kafka >= accepted else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
