"""Create the topics a service needs, with the partition counts and retention from the registry."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from shared.config import ServiceSettings
from shared.contracts.registry import TopicSpec
from shared.logging import get_logger

log = get_logger(__name__)


async def ensure_topics(
    settings: ServiceSettings, specs: Iterable[TopicSpec], *, timeout_s: float = 30.0
) -> None:
    """Create any missing topic; existing topics are left as they are (idempotent)."""
    wanted = {settings.topic(t.name): t for t in specs}
    if not wanted:
        return
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=f"{settings.service_name}-admin",
        request_timeout_ms=int(timeout_s * 1000),
    )
    await asyncio.wait_for(admin.start(), timeout_s)
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(
                name=name,
                num_partitions=spec.partitions,
                replication_factor=settings.kafka_replication_factor,
                topic_configs={"retention.ms": str(spec.retention_ms)},
            )
            for name, spec in wanted.items()
            if name not in existing
        ]
        if missing:
            try:
                await admin.create_topics(missing, timeout_ms=int(timeout_s * 1000))
            except TopicAlreadyExistsError:
                pass  # another instance created it between our list and create: that is fine
            log.info("topics created", topics=[t.name for t in missing])
        await _wait_until_visible(admin, set(wanted), timeout_s)
    finally:
        await admin.close()


async def _wait_until_visible(admin: AIOKafkaAdminClient, names: set[str], timeout_s: float) -> None:
    """Topic creation is asynchronous in the controller; wait until metadata shows every topic."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        if names <= set(await admin.list_topics()):
            return
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"topics not visible after {timeout_s}s: {sorted(names)}")
        await asyncio.sleep(0.1)
