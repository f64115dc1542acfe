"""Warranty's HTTP API."""

from __future__ import annotations

from fastapi import FastAPI

from warranty.config import WarrantySettings
from shared.service import service_app


def create_app(settings: WarrantySettings | None = None) -> FastAPI:
    settings = settings or WarrantySettings()
    return service_app(
        settings,
        title="英德售后 · Warranty",
        description="Unit registrations and explainable 三包 decisions (R-WA-1..6). Rules arrive with the warranty issue.",
    )
