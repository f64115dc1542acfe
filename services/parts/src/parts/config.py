"""Parts settings: the shared ones and its own port."""

from __future__ import annotations

from pydantic import AliasChoices, Field

from shared.config import ServiceSettings


class PartsSettings(ServiceSettings):
    service_name: str = "parts"
    http_port: int = Field(default=8004, validation_alias=AliasChoices("PARTS_PORT", "HTTP_PORT"))
