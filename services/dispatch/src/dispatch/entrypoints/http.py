"""Dispatch's HTTP API."""

from __future__ import annotations

from fastapi import FastAPI

from dispatch.config import DispatchSettings
from shared.service import service_app


def create_app(settings: DispatchSettings | None = None) -> FastAPI:
    settings = settings or DispatchSettings()
    return service_app(
        settings,
        title="英德售后 · Dispatch",
        description="Cases from triage and assignment to the one outward reply, closure, follow-up visits and statistics (R-DS-1..4). Consumers arrive with the dispatch issue.",
    )
