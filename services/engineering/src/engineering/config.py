"""Engineering settings: the shared ones, its port, how many installers must quote, and the relay's pace."""

from __future__ import annotations

from pydantic import AliasChoices, Field

from shared.config import ServiceSettings


class EngineeringSettings(ServiceSettings):
    service_name: str = "engineering"
    http_port: int = Field(default=8005, validation_alias=AliasChoices("ENGINEERING_PORT", "HTTP_PORT"))
    min_installer_quotes: int = Field(
        default=3,
        ge=1,
        validation_alias=AliasChoices("ENGINEERING_MIN_INSTALLER_QUOTES", "MIN_INSTALLER_QUOTES"),
        description="Quotes from this many different installers before a project goes to management (R-EN-1: 至少三家).",
    )
