"""Wires intake's own dependencies onto the shared service runtime: submissions store, rate limiter."""

from __future__ import annotations

from dataclasses import dataclass

from intake.adapters.repository import SubmissionRepository
from intake.config import IntakeSettings
from shared.http.ratelimit import RateLimiter
from shared.kafka.publisher import EventPublisher
from shared.service import ServiceRuntime


@dataclass(frozen=True)
class Intake:
    settings: IntakeSettings
    submissions: SubmissionRepository
    publisher: EventPublisher
    limiter: RateLimiter


async def wire(runtime: ServiceRuntime) -> None:
    assert isinstance(runtime.settings, IntakeSettings)
    runtime.components["intake"] = Intake(
        settings=runtime.settings,
        submissions=SubmissionRepository(runtime.db),
        publisher=runtime.publisher,
        limiter=RateLimiter(),
    )
