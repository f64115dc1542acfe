"""Parts's HTTP API."""

from __future__ import annotations

from fastapi import FastAPI

from parts.config import PartsSettings
from shared.service import service_app


def create_app(settings: PartsSettings | None = None) -> FastAPI:
    settings = settings or PartsSettings()
    return service_app(
        settings,
        title="英德售后 · Parts",
        description="Key-part local sourcing and supplier RMA, repair records, consumable stock and quotes (R-PA-1..4). Arrives with the parts issue.",
    )
