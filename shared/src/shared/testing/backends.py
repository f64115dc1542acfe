"""Finding the real Kafka broker and MongoDB-compatible store a test session runs against.

In order: explicit environment (KAFKA_BOOTSTRAP_SERVERS and MONGODB_URL), containers where a Docker
engine answers (testcontainers), else the native local stack (deploy/local/stack.sh up infra).
Whatever is chosen must answer; otherwise the session fails. It never skips.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient
from pymongo import AsyncMongoClient

from shared.mongo import Document


class BackendUnavailable(RuntimeError):
    pass


@dataclass(frozen=True)
class Backends:
    kafka_bootstrap_servers: str
    mongodb_url: str
    source: str  # env | testcontainers | native


def repo_root() -> Path:
    for base in (Path.cwd(), *Path.cwd().parents, *Path(__file__).resolve().parents):
        if (base / "deploy" / "local" / "stack.sh").is_file():
            return base
    raise BackendUnavailable("cannot find the repository (deploy/local/stack.sh) from here")


def docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def start_backends(stack: ExitStack) -> Backends:
    """Start (or find) the backends; containers are stopped when `stack` closes."""
    kafka, mongo = os.environ.get("KAFKA_BOOTSTRAP_SERVERS"), os.environ.get("MONGODB_URL")
    if kafka or mongo:
        if not (kafka and mongo):
            raise BackendUnavailable("set both KAFKA_BOOTSTRAP_SERVERS and MONGODB_URL, or neither")
        return Backends(kafka, mongo, "env")
    if os.environ.get("YINGDE_TEST_BACKEND", "auto") != "native" and docker_answers():
        return _containers(stack)
    return _native(stack)


def _containers(stack: ExitStack) -> Backends:
    from testcontainers.community.kafka import KafkaContainer
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs

    kafka = stack.enter_context(KafkaContainer("confluentinc/cp-kafka:7.9.0").with_kraft())
    # The suite's transactions need a replica set: one node, as in deploy/compose.yaml, with the same
    # short lifetime for a transaction a killed process left open. (testcontainers' MongoDbContainer
    # runs a standalone server with a root user, which a replica set would also need a key file for.)
    mongo = stack.enter_context(
        DockerContainer("mongo:7")
        .with_command("--replSet rs0 --bind_ip_all --setParameter transactionLifetimeLimitSeconds=10")
        .with_exposed_ports(27017)
    )
    wait_for_logs(mongo, "Waiting for connections", timeout=120)
    initiated = mongo.exec(
        ["mongosh", "--quiet", "--eval", "rs.initiate(); while (!db.hello().isWritablePrimary) sleep(200)"]
    )
    if initiated.exit_code != 0:
        raise BackendUnavailable(f"the MongoDB container's replica set did not start: {initiated.output!r}")
    url = f"mongodb://{mongo.get_container_host_ip()}:{mongo.get_exposed_port(27017)}/?directConnection=true"
    return Backends(kafka.get_bootstrap_server(), url, "testcontainers")


def _stack_running(root: Path) -> bool:
    """Kafka and the store of this checkout's native stack are up (`make up`, or an earlier session)."""
    run = Path(os.environ.get("YINGDE_LOCAL_DIR", root / ".local")) / "run"
    for component in ("kafka", "store"):
        try:
            os.kill(int((run / f"{component}.pid").read_text()), 0)
        except (OSError, ValueError):
            return False
    return True


def _native(stack: ExitStack) -> Backends:
    """The native stack: reused when `make up` runs it (and left running), else started for this
    session and stopped when it ends, so the machine is left as the session found it."""
    root = repo_root()
    script = str(root / "deploy/local/stack.sh")
    reused = _stack_running(root)
    result = subprocess.run(["bash", script, "up", "infra"], capture_output=True, text=True, timeout=1800)
    if result.returncode != 0:
        raise BackendUnavailable(
            f"the native stack did not start (deploy/local/stack.sh up infra):\n{result.stdout[-3000:]}"
            f"\n{result.stderr[-3000:]}"
        )
    if reused:
        print("\nnative stack: reusing the Kafka and store `make up` runs (left running)", flush=True)
    else:
        print("\nnative stack: started Kafka and the store for this session (stopped at its end)", flush=True)
        stack.callback(subprocess.run, ["bash", script, "down"], capture_output=True, timeout=120)
    port_kafka = os.environ.get("KAFKA_PORT", "9092")
    port_mongo = os.environ.get("MONGO_PORT", "27017")
    return Backends(f"127.0.0.1:{port_kafka}", f"mongodb://127.0.0.1:{port_mongo}/", "native")


async def verify(backends: Backends, timeout_s: float = 60.0) -> None:
    """Both backends answer a real request, or BackendUnavailable says which does not."""
    try:
        admin = AIOKafkaAdminClient(
            bootstrap_servers=backends.kafka_bootstrap_servers, request_timeout_ms=10000
        )
        await asyncio.wait_for(admin.start(), timeout_s)
        try:
            await asyncio.wait_for(admin.list_topics(), timeout_s)
        finally:
            await admin.close()
    except Exception as exc:
        raise BackendUnavailable(
            f"Kafka at {backends.kafka_bootstrap_servers} ({backends.source}): {exc!r}"
        ) from exc
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        backends.mongodb_url, serverSelectionTimeoutMS=int(timeout_s * 1000)
    )
    try:
        await client.admin.command("ping")
    except Exception as exc:
        raise BackendUnavailable(f"store at {backends.mongodb_url} ({backends.source}): {exc!r}") from exc
    finally:
        await client.close()
