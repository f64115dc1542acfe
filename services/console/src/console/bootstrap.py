"""Wires the console onto the shared service runtime: the five service clients and the live feed.

The console keeps no records of its own and publishes nothing: it never touches MongoDB (the shared
runtime makes a lazy client that the console leaves unused, and /readyz does not ask for the store)
and runs no consumer group. Its one Kafka job, the live feed, runs as a background job.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from console.adapters.live_feed import LiveFeed
from console.adapters.services import Services
from console.config import ConsoleSettings
from shared.config import ServiceSettings
from shared.http.app import ReadinessCheck
from shared.http.ratelimit import RateLimiter
from shared.service import ServiceRuntime


@dataclass(frozen=True)
class DevKey:
    role: str
    id: str
    key: str


@dataclass
class Console:
    settings: ConsoleSettings
    services: Services
    feed: LiveFeed
    limiter: RateLimiter
    dev_keys: list[DevKey] = field(default_factory=list)


def dev_keys(settings: ConsoleSettings) -> list[DevKey]:
    """The development keys to pick from on the sign-in page: never outside development and test."""
    if (
        settings.app_env not in ("development", "test")
        or settings.credentials_json
        or not settings.credentials_file
    ):
        return []
    path = Path(settings.credentials_file)
    if not path.is_file():
        return []
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))

    def items(value: Any) -> list[dict[str, Any]]:
        return value if isinstance(value, list) else [value] if value else []

    found: list[DevKey] = []
    for e in items(data.get("hotline")):
        found.append(DevKey("hotline", e.get("id", "hotline"), e["api_key"]))
    for e in items(data.get("regional_manager")):
        found.append(DevKey("regional_manager", e["manager_id"], e["api_key"]))
    for e in items(data.get("dealer")):
        found.append(DevKey("dealer", e["dealer_code"], e["api_key"]))
    for role, value in (data.get("staff") or {}).items():
        for e in items(value):
            found.append(DevKey(role, e["id"], e["api_key"]))
    # Only keys that are marked as development keys are ever shown.
    return [k for k in found if k.key.startswith("dev-")]


class ConsoleRuntime(ServiceRuntime):
    """The shared runtime, ready when the live feed is, and closing the service clients on stop."""

    def readiness(self) -> list[ReadinessCheck]:
        console: Console = self.components["console"]

        async def feed_ready() -> bool:
            return console.feed.ready.is_set()

        return [ReadinessCheck("kafka", self.publisher.ready), ReadinessCheck("live_feed", feed_ready)]

    async def stop(self) -> None:
        console: Console | None = self.components.get("console")
        if console is not None:
            console.feed.close_all()
        await super().stop()
        if console is not None:
            await console.services.close()


def runtime_factory(settings: ServiceSettings) -> ServiceRuntime:
    return ConsoleRuntime(settings)


async def wire(runtime: ServiceRuntime) -> None:
    settings = runtime.settings
    assert isinstance(settings, ConsoleSettings)
    console = Console(
        settings=settings,
        services=Services(settings),
        feed=LiveFeed(settings),
        limiter=RateLimiter(),
        dev_keys=dev_keys(settings),
    )
    runtime.components["console"] = console
    # run_consumers=False (an HTTP-only instance) also leaves the live feed off: pages still work,
    # they just do not update by themselves.
    runtime.background("live-feed", console.feed.run)
