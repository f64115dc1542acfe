"""Parts settings: the shared ones, its port, sourcing deadlines, quote validity and the PDF font."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field

from shared.config import ServiceSettings

_HERE = Path(__file__).parent


class PartsSettings(ServiceSettings):
    service_name: str = "parts"
    http_port: int = Field(default=8004, validation_alias=AliasChoices("PARTS_PORT", "HTTP_PORT"))
    local_sourcing_hours: float = Field(default=48, gt=0, description="Path A's deadline before the supplier is asked.")
    quote_valid_days: int = Field(default=30, ge=1, description="How long an issued quote holds.")
    restock_days: int = Field(default=10, ge=1, description="What the customer is told when an item is out of stock.")
    reference_file: Path = Field(default=_HERE / "reference.yaml", description="Regional managers and suppliers.")
    pdf_font: Path = Field(
        default=Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
        validation_alias=AliasChoices("PARTS_PDF_FONT", "PDF_FONT"),
        description="A TrueType font with Chinese glyphs, embedded in the repair record PDF.",
    )
    scan_interval_s: float = Field(default=60, gt=0, description="How often path A deadlines are checked.")
    unknown_case_grace_s: float = Field(default=60, gt=0, description="Wait this long for a case's assignment.")
