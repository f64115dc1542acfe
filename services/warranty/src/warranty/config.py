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
    unknown_case_grace_s: float = Field(
        default=120,
        gt=0,
        description="How long an event about a case not yet assigned waits before dead letters.",
    )
    overdue_scan_interval_s: float = Field(
        default=3600,
        gt=0,
        validation_alias=AliasChoices("WARRANTY_OVERDUE_SCAN_INTERVAL_S", "OVERDUE_SCAN_INTERVAL_S"),
        description="How often repairs past 30 (or, waiting for parts, 90) days are re-decided.",
    )
    public_rate_limit: str = Field(
        default="30/minute",
        validation_alias=AliasChoices("WARRANTY_PUBLIC_RATE_LIMIT", "PUBLIC_RATE_LIMIT"),
        description="Uploads and activations from the public pages, per address.",
    )
