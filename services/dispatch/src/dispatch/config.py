"""Dispatch settings: the shared ones and its own port."""

from __future__ import annotations

from pydantic import AliasChoices, Field

from shared.config import ServiceSettings


class DispatchSettings(ServiceSettings):
    service_name: str = "dispatch"
    http_port: int = Field(default=8002, validation_alias=AliasChoices("DISPATCH_PORT", "HTTP_PORT"))
