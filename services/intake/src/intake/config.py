"""Intake settings: the shared ones plus the channel limits and the public form's address."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, model_validator

from shared.config import ServiceSettings


class IntakeSettings(ServiceSettings):
    service_name: str = "intake"
    http_port: int = Field(default=8001, validation_alias=AliasChoices("INTAKE_PORT", "HTTP_PORT"))
    public_url: str = Field(
        default="http://127.0.0.1:8001",
        validation_alias=AliasChoices("INTAKE_PUBLIC_URL", "PUBLIC_URL"),
        description="Address customers reach the complaint page at; the QR codes point here.",
    )
    activation_url: str = Field(
        default="http://127.0.0.1:8006/activation",
        validation_alias=AliasChoices("WARRANTY_ACTIVATION_URL"),
        description="The console's public warranty activation page, linked from the QR page with the serial.",
    )
    max_body_bytes: int = Field(default=64 * 1024, description="Largest complaint body accepted (413 above).")
    rate_limit_per_key: str = Field(default="6000/minute", description="Requests per API key.")
    rate_limit_per_ip: str = Field(
        default="1200/minute", description="Requests per client address, any channel."
    )
    rate_limit_online_per_ip: str = Field(
        default="20/minute", description="Public form submissions per client address."
    )

    @model_validator(mode="after")
    def _reachable_by_customers(self) -> IntakeSettings:
        """In production the QR codes and the activation link are opened on a customer's phone: an address
        on this machine would lead nowhere."""
        if self.app_env == "production":
            for env, url in (
                ("INTAKE_PUBLIC_URL", self.public_url),
                ("WARRANTY_ACTIVATION_URL", self.activation_url),
            ):
                if (urlsplit(url).hostname or "") in ("127.0.0.1", "localhost", "::1", "0.0.0.0", ""):
                    raise ValueError(
                        f"{env}={url} is not reachable from a customer's phone; set the public address"
                    )
        return self
