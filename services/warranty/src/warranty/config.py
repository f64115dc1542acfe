"""Warranty settings: the shared ones and its own port."""

from __future__ import annotations

from pydantic import AliasChoices, Field

from shared.config import ServiceSettings


class WarrantySettings(ServiceSettings):
    service_name: str = "warranty"
    http_port: int = Field(default=8003, validation_alias=AliasChoices("WARRANTY_PORT", "HTTP_PORT"))
