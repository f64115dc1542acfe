"""Engineering settings: the shared ones and its own port."""

from __future__ import annotations

from pydantic import AliasChoices, Field

from shared.config import ServiceSettings


class EngineeringSettings(ServiceSettings):
    service_name: str = "engineering"
    http_port: int = Field(default=8005, validation_alias=AliasChoices("ENGINEERING_PORT", "HTTP_PORT"))
