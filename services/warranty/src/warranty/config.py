"""Warranty settings: the shared ones, its port, and where the dated rule sets live."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field

from shared.config import ServiceSettings
from shared.rulesets import RULESETS_DIR


class WarrantySettings(ServiceSettings):
    service_name: str = "warranty"
    http_port: int = Field(default=8003, validation_alias=AliasChoices("WARRANTY_PORT", "HTTP_PORT"))
    rulesets_dir: Path = Field(
        default=RULESETS_DIR,
        validation_alias=AliasChoices("WARRANTY_RULESETS_DIR", "RULESETS_DIR"),
        description="Directory of dated rule-set YAML files (shared with engineering's maintenance year); the one in "
        "effect on a decision's day decides.",
    )
