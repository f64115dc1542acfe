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
    maintenance_visit_every_months: int = Field(
        default=3,
        ge=0,
        le=12,
        validation_alias=AliasChoices(
            "ENGINEERING_MAINTENANCE_VISIT_EVERY_MONTHS", "MAINTENANCE_VISIT_EVERY_MONTHS"
        ),
        description="Acceptance plans a maintenance visit this often within the maintenance year (0: none).",
    )
    maintenance_visit_grace_days: int = Field(
        default=7,
        ge=0,
        le=90,
        validation_alias=AliasChoices(
            "ENGINEERING_MAINTENANCE_VISIT_GRACE_DAYS", "MAINTENANCE_VISIT_GRACE_DAYS"
        ),
        description="A planned visit not made this many days after it fell due is escalated (once).",
    )
    scan_interval_s: float = Field(
        default=300, gt=0, description="How often missed maintenance visits are checked."
    )
