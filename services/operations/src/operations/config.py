"""Operations settings: the shared ones, its port, and how often the topics are sampled."""

from __future__ import annotations

from pydantic import AliasChoices, Field

from shared.config import ServiceSettings


class OperationsSettings(ServiceSettings):
    service_name: str = "operations"
    http_port: int = Field(default=8007, validation_alias=AliasChoices("OPERATIONS_PORT", "HTTP_PORT"))
    sample_interval_s: float = Field(
        default=10.0, gt=0, description="How often end offsets and lag are sampled."
    )
    sample_window: int = Field(
        default=12, ge=2, description="Samples kept per topic and partition (rates, trends)."
    )
