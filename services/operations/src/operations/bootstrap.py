"""Wires operations onto the shared runtime: the Kafka view, the sampler, the replay records."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from operations.adapters.kafka_view import KafkaView, Sampler
from operations.config import OperationsSettings
from shared.logging import get_logger
from shared.service import ServiceRuntime

log = get_logger(__name__)


@dataclass
class Operations:
    view: KafkaView
    sampler: Sampler


async def wire(runtime: ServiceRuntime) -> None:
    settings = runtime.settings
    assert isinstance(settings, OperationsSettings)
    view = KafkaView(settings.kafka_bootstrap_servers, settings.topic_prefix)
    ops = Operations(view=view, sampler=Sampler(view, window=settings.sample_window))
    runtime.components["operations"] = ops

    async def sample_forever() -> None:
        try:
            while True:
                try:
                    await ops.sampler.sample()
                except Exception as exc:
                    log.warning("could not sample the topics", error=repr(exc))
                await asyncio.sleep(settings.sample_interval_s)
        finally:
            await view.close()  # the view's long-lived clients go with the service

    runtime.background("topic-sampler", sample_forever)
