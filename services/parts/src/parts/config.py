"""Parts settings: the shared ones, its port, sourcing deadlines, quote validity and the PDF font."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field

from shared.config import ServiceSettings

_HERE = Path(__file__).parent


class PartsSettings(ServiceSettings):
    service_name: str = "parts"
    http_port: int = Field(default=8004, validation_alias=AliasChoices("PARTS_PORT", "HTTP_PORT"))
    local_sourcing_hours: float = Field(
        default=48, gt=0, description="Path A's deadline before the supplier is asked."
    )
    rma_hours: float = Field(
        default=24,
        gt=0,
        validation_alias=AliasChoices("RMA_HOURS", "PARTS_RMA_HOURS"),
        description="Path B: the supplier's RMA number is due this long after path B opens.",
    )
    defective_to_company_hours: float = Field(
        default=96,
        gt=0,
        validation_alias=AliasChoices("DEFECTIVE_TO_COMPANY_HOURS", "PARTS_DEFECTIVE_TO_COMPANY_HOURS"),
        description="Path B: the defective part reaches the company this long after the RMA number.",
    )
    defective_to_supplier_hours: float = Field(
        default=96,
        gt=0,
        validation_alias=AliasChoices("DEFECTIVE_TO_SUPPLIER_HOURS", "PARTS_DEFECTIVE_TO_SUPPLIER_HOURS"),
        description="Path B: the defective part reaches the supplier this long after it reached the company.",
    )
    good_part_to_field_hours: float = Field(
        default=120,
        gt=0,
        validation_alias=AliasChoices("GOOD_PART_TO_FIELD_HOURS", "PARTS_GOOD_PART_TO_FIELD_HOURS"),
        description="Path B: the good part reaches the dealer or regional manager this long after the RMA number.",
    )
    quote_valid_days: int = Field(default=30, ge=1, description="How long an issued quote holds.")
    restock_days: int = Field(
        default=10, ge=1, description="What the customer is told when an item is out of stock."
    )
    reference_file: Path = Field(
        default=_HERE / "reference.yaml",
        description="The suppliers of key parts "
        "(regional managers are in the shared reference data, per region).",
    )
    pdf_font: Path = Field(
        default=Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
        validation_alias=AliasChoices("PARTS_PDF_FONT", "PDF_FONT"),
        description="A TrueType font with Chinese glyphs, embedded in the repair record PDF.",
    )
    scan_interval_s: float = Field(
        default=60, gt=0, description="How often path A and path B deadlines are checked."
    )
    unknown_case_grace_s: float = Field(
        default=60, gt=0, description="Wait this long for a case's assignment."
    )
