"""Engineering settings: the shared ones, its port, how many installers must quote, and the relay's pace."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field

from shared.config import ServiceSettings
from shared.rulesets import RULESETS_DIR


class EngineeringSettings(ServiceSettings):
    service_name: str = "engineering"
    http_port: int = Field(default=8005, validation_alias=AliasChoices("ENGINEERING_PORT", "HTTP_PORT"))
    min_installer_quotes: int = Field(
        default=3,
        ge=1,
        validation_alias=AliasChoices("ENGINEERING_MIN_INSTALLER_QUOTES", "MIN_INSTALLER_QUOTES"),
        description="Quotes from this many different installers before a project goes to management (R-EN-1: 至少三家).",
    )
    rulesets_dir: Path = Field(
        default=RULESETS_DIR,
        validation_alias=AliasChoices("WARRANTY_RULESETS_DIR", "RULESETS_DIR"),
        description="The dated rule sets warranty decides with; the installation maintenance year "
        "(installation_workmanship_months) is read from the one in effect, never from code.",
    )
