"""Engineering's HTTP API."""

from __future__ import annotations

from fastapi import FastAPI

from engineering.config import EngineeringSettings
from shared.service import service_app


def create_app(settings: EngineeringSettings | None = None) -> FastAPI:
    settings = settings or EngineeringSettings()
    return service_app(
        settings,
        title="英德售后 · Engineering",
        description="Installation projects from won bid to archived acceptance (R-EN-1..5). Arrives with the engineering issue.",
    )
