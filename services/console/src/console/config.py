"""Console settings: the shared ones, its port, where the five services answer, and the session secret."""

from __future__ import annotations

from pydantic import AliasChoices, Field, model_validator

from shared.config import ServiceSettings

# Clearly a development value: refused when APP_ENV=production (see _production_needs_a_secret).
DEV_SESSION_SECRET = "dev-console-session-secret-not-for-production"


class ConsoleSettings(ServiceSettings):
    service_name: str = "console"
    http_port: int = Field(default=8006, validation_alias=AliasChoices("CONSOLE_PORT", "HTTP_PORT"))
    intake_url: str = Field(
        default="http://127.0.0.1:8001",
        validation_alias=AliasChoices("INTAKE_URL"),
        description="Where intake's API answers.",
    )
    dispatch_url: str = Field(
        default="http://127.0.0.1:8002",
        validation_alias=AliasChoices("DISPATCH_URL"),
        description="Where dispatch's API answers.",
    )
    warranty_url: str = Field(
        default="http://127.0.0.1:8003",
        validation_alias=AliasChoices("WARRANTY_URL"),
        description="Where warranty's API answers.",
    )
    parts_url: str = Field(
        default="http://127.0.0.1:8004",
        validation_alias=AliasChoices("PARTS_URL"),
        description="Where parts' API answers.",
    )
    engineering_url: str = Field(
        default="http://127.0.0.1:8005",
        validation_alias=AliasChoices("ENGINEERING_URL"),
        description="Where engineering's API answers.",
    )
    notifications_url: str = Field(
        default="http://127.0.0.1:8008",
        validation_alias=AliasChoices("NOTIFICATIONS_URL"),
        description="Where notifications' API answers (messages to customers).",
    )
    intake_public_url: str = Field(
        default="http://127.0.0.1:8001",
        validation_alias=AliasChoices("INTAKE_PUBLIC_URL", "PUBLIC_URL"),
        description="The customers' complaint form, linked from the public status page.",
    )
    service_timeout_s: float = Field(
        default=10.0, gt=0, description="Longest wait for one call to a service."
    )
    session_secret: str = Field(
        default=DEV_SESSION_SECRET,
        validation_alias=AliasChoices("CONSOLE_SESSION_SECRET", "SESSION_SECRET"),
        description="Signs the sign-in cookie. The development default is refused when APP_ENV=production.",
    )
    session_hours: float = Field(
        default=12.0, gt=0, description="A sign-in lasts this long (one working day)."
    )
    cookie_secure: bool | None = Field(
        default=None, description="Send the sign-in cookie over HTTPS only (default: in production only)."
    )
    public_status_rate_limit: str = Field(
        default="20/minute",
        description="Customer status look-ups per client address (guards the case numbers).",
    )
    sse_max_stream_s: float = Field(
        default=300.0, gt=0, description="A live stream is closed after this long; the browser reconnects."
    )
    sse_keepalive_s: float = Field(
        default=15.0, gt=0, description="A comment line this often keeps proxies open."
    )

    @model_validator(mode="after")
    def _production_needs_a_secret(self) -> ConsoleSettings:
        if self.app_env == "production" and (
            self.session_secret == DEV_SESSION_SECRET
            or len(self.session_secret) < 32
            or "change-me" in self.session_secret.lower()  # the placeholder in deploy/k8s
        ):
            raise ValueError("CONSOLE_SESSION_SECRET: set a secret of at least 32 characters in production")
        return self

    @property
    def secure_cookies(self) -> bool:
        return self.app_env == "production" if self.cookie_secure is None else self.cookie_secure
