"""The suite as real processes, for `make chaos` and `make bench`: start, kill -9, restart, scale.

Each run gets its own topic prefix, databases and ports, on the broker and store of the native stack
(or KAFKA_BOOTSTRAP_SERVERS / MONGODB_URL), so it never touches `make up`'s data.
"""

from __future__ import annotations

import asyncio
import ctypes
import math
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
STACK = ROOT / "deploy/local/stack.sh"
LOCAL = Path(os.environ.get("YINGDE_LOCAL_DIR", ROOT / ".local"))


def percentile(ordered: list[float], q: float) -> float:
    """The nearest-rank percentile of values in ascending order: the smallest value at least a
    fraction `q` of them do not exceed (p99 of 100 samples is the 99th, not the slowest one)."""
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Instance:
    service: str
    port: int
    process: subprocess.Popen | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Suite:
    """Services of one run; `extra_env` tunes them (short timeouts make faults visible quickly)."""

    name: str = field(default_factory=lambda: f"run{uuid.uuid4().hex[:6]}")
    extra_env: dict[str, str] = field(default_factory=dict)
    instances: dict[str, list[Instance]] = field(default_factory=dict)

    @property
    def prefix(self) -> str:
        return f"{self.name}."

    @property
    def bootstrap(self) -> str:
        return os.environ.get("KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{os.environ.get('KAFKA_PORT', '9092')}")

    @property
    def mongodb_url(self) -> str:
        return os.environ.get("MONGODB_URL", f"mongodb://127.0.0.1:{os.environ.get('MONGO_PORT', '27017')}/")

    def database(self, service: str) -> str:
        return f"{self.name}_{service}"

    def env(self, service: str, port: int) -> dict[str, str]:
        return (
            os.environ
            | {
                "APP_ENV": "development",
                "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
                "MONGODB_URL": self.mongodb_url,
                "MONGODB_DATABASE": self.database(service),
                "TOPIC_PREFIX": self.prefix,
                "HTTP_PORT": str(port),
                f"{service.upper()}_PORT": str(port),
                "CREDENTIALS_FILE": str(ROOT / "deploy/local/dev-credentials.json"),
                "LOG_LEVEL": "WARNING",
                "RATE_LIMIT_PER_KEY": "1000000/minute",
                "RATE_LIMIT_PER_IP": "1000000/minute",
                "RATE_LIMIT_ONLINE_PER_IP": "1000000/minute",
            }
            | self.extra_env
        )

    async def start(self, service: str) -> Instance:
        inst = Instance(service, free_port())
        logs = LOCAL / "log" / self.name
        logs.mkdir(parents=True, exist_ok=True)
        inst.log_path = logs / f"{service}-{len(self.instances.get(service, []))}.log"
        self._spawn(inst)
        self.instances.setdefault(service, []).append(inst)
        await self.wait_ready(inst)
        return inst

    async def wait_ready(self, inst: Instance, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient(timeout=2) as client:
            while time.monotonic() < deadline:
                if inst.process and inst.process.poll() is not None:
                    raise RuntimeError(f"{inst.service} exited: see {inst.log_path}")
                try:
                    if (await client.get(f"{inst.url}/healthz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.3)
        raise RuntimeError(f"{inst.service} not healthy within {timeout_s}s: see {inst.log_path}")

    def kill(self, inst: Instance) -> None:
        """kill -9: no shutdown hooks, no offset commits, whatever was in flight is cut."""
        if inst.process and inst.process.poll() is None:
            os.killpg(inst.process.pid, signal.SIGKILL)
            inst.process.wait()

    def stop(self, inst: Instance) -> None:
        if inst.process and inst.process.poll() is None:
            os.killpg(inst.process.pid, signal.SIGTERM)
            try:
                inst.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill(inst)

    async def restart(self, inst: Instance) -> None:
        """Start the same instance again on the same port (clients keep their address)."""
        self._spawn(inst)
        await self.wait_ready(inst)

    def _spawn(self, inst: Instance) -> None:
        inst.process = subprocess.Popen(
            [sys.executable, "-m", inst.service],
            env=self.env(inst.service, inst.port),
            stdout=(inst.log_path or Path(os.devnull)).open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: kill -9 reaches the whole service
            # Ended with the bench, however the bench ends: a service left running from a stopped
            # chaos run kept fetching from a broker whose topics were gone, on half a core, under the next.
            preexec_fn=_end_with_parent,
        )

    def first(self, service: str) -> Instance:
        return self.instances[service][0]

    def stop_all(self) -> None:
        for group in self.instances.values():
            for inst in group:
                self.stop(inst)


def _end_with_parent() -> None:
    """In the child before exec: SIGTERM when the process that started it ends (Linux prctl)."""
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def stack(*args: str) -> None:
    subprocess.run(["bash", str(STACK), *args], check=True, stdout=subprocess.DEVNULL)


def component_pid(name: str) -> int:
    return int((LOCAL / "run" / f"{name}.pid").read_text())


async def cleanup(suite: Suite) -> None:
    """Drop the run's databases and topics."""
    from aiokafka.admin import AIOKafkaAdminClient
    from pymongo import AsyncMongoClient

    mongo: AsyncMongoClient = AsyncMongoClient(suite.mongodb_url)
    for name in await mongo.list_database_names():
        if name.startswith(f"{suite.name}_"):
            await mongo.drop_database(name)
    await mongo.close()
    admin = AIOKafkaAdminClient(bootstrap_servers=suite.bootstrap)
    await admin.start()
    ours = [t for t in await admin.list_topics() if t.startswith(suite.prefix)]
    if ours:
        await admin.delete_topics(ours)
    await admin.close()
