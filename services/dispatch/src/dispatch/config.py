"""Dispatch settings: the shared ones, its port, and where its targets and starting roster come from."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field

from shared.config import ServiceSettings

_HERE = Path(__file__).parent


class DispatchSettings(ServiceSettings):
    service_name: str = "dispatch"
    http_port: int = Field(default=8002, validation_alias=AliasChoices("DISPATCH_PORT", "HTTP_PORT"))
    targets_file: Path = Field(
        default=_HERE / "targets.yaml",
        validation_alias=AliasChoices("DISPATCH_TARGETS_FILE", "TARGETS_FILE"),
        description="Time targets per category and priority, and the follow-up delay.",
    )
    policy_file: Path = Field(
        default=_HERE / "policy.yaml",
        validation_alias=AliasChoices("DISPATCH_POLICY_FILE", "POLICY_FILE"),
        description="Assignment settings (seed of the manager's settings) and closure rules: repeat links, "
        "reopening on low satisfaction, follow-up escalation.",
    )
    roster_seed_file: Path | None = Field(
        default=_HERE / "roster.seed.yaml",
        validation_alias=AliasChoices("DISPATCH_ROSTER_SEED_FILE", "ROSTER_SEED_FILE"),
        description="Specialists loaded when the roster is empty (none: start empty).",
    )
    scan_interval_s: float = Field(
        default=30.0, gt=0, description="How often missed targets and due follow-ups are checked."
    )
    public_rate_limit: str = Field(
        default="30/minute", description="Status-page look-ups per client address (guards the case numbers)."
    )
    unknown_case_grace_s: float = Field(
        default=120.0,
        gt=0,
        description="An event about a case not yet known is retried while younger than this, then dead-lettered.",
    )
    quality_pdf_font: Path = Field(
        default=Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
        validation_alias=AliasChoices("QUALITY_PDF_FONT", "PDF_FONT"),
        description="A TrueType font with Chinese glyphs, embedded in the quality department's monthly report.",
    )
    report_check_interval_s: float = Field(
        default=3600,
        gt=0,
        description="How often the monthly report of the month just ended is looked for "
        "(generated once, from the first day of the month, China time).",
    )
    figures_compact_interval_s: float = Field(
        default=30.0,
        gt=0,
        description="How often the days whose cases changed are folded into one document each, for statistics.",
    )
