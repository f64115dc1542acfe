"""Notifications settings: the shared ones, its port, the channel providers (keys, templates, sign name),
quiet hours and the delivery retry policy. Provider secrets come from the environment only."""

from __future__ import annotations

import json
import re
from typing import Literal

from pydantic import AliasChoices, Field, field_validator, model_validator

from shared.config import ServiceSettings

Provider = Literal["local", "aliyun", "wechat"]
_PLACEHOLDER = re.compile(r"^dev-|change-?me|placeholder|example|^test-", re.IGNORECASE)


def _real(value: str) -> bool:
    """Set, and not a placeholder (the deployment's CHANGE-ME stops a production start-up)."""
    return bool(value) and not _PLACEHOLDER.search(value)


class NotificationsSettings(ServiceSettings):
    service_name: str = "notifications"
    http_port: int = Field(default=8008, validation_alias=AliasChoices("NOTIFICATIONS_PORT", "HTTP_PORT"))

    sms_provider: Literal["local", "aliyun"] = Field(
        default="local",
        validation_alias=AliasChoices("NOTIFY_SMS_PROVIDER", "SMS_PROVIDER"),
        description="local: every message is recorded (GET /v1/local-deliveries) and nothing leaves; aliyun: "
        "Alibaba Cloud SMS (dysmsapi SendSms). Production refuses local.",
    )
    wechat_provider: Literal["local", "wechat"] = Field(
        default="local",
        validation_alias=AliasChoices("NOTIFY_WECHAT_PROVIDER", "WECHAT_PROVIDER"),
        description="local, or wechat: template messages of the WeChat official account (cgi-bin/message/template/send).",
    )

    aliyun_sms_endpoint: str = Field(
        default="https://dysmsapi.aliyuncs.com/", validation_alias=AliasChoices("ALIYUN_SMS_ENDPOINT")
    )
    aliyun_sms_access_key_id: str = Field(
        default="", validation_alias=AliasChoices("ALIYUN_SMS_ACCESS_KEY_ID")
    )
    aliyun_sms_access_key_secret: str = Field(
        default="",
        validation_alias=AliasChoices("ALIYUN_SMS_ACCESS_KEY_SECRET"),
        description="Signs each request (HMAC-SHA1); never logged.",
    )
    aliyun_sms_sign_name: str = Field(
        default="英德售后",
        validation_alias=AliasChoices("ALIYUN_SMS_SIGN_NAME"),
        description="The approved SMS signature (签名).",
    )
    aliyun_sms_templates: dict[str, str] = Field(
        default_factory=dict,
        validation_alias=AliasChoices("ALIYUN_SMS_TEMPLATES"),
        description='JSON: message kind → approved template code, e.g. {"reply": "SMS_123", "quote": "SMS_124"}.',
    )

    wechat_api_base: str = Field(
        default="https://api.weixin.qq.com", validation_alias=AliasChoices("WECHAT_API_BASE")
    )
    wechat_app_id: str = Field(default="", validation_alias=AliasChoices("WECHAT_APP_ID"))
    wechat_app_secret: str = Field(
        default="",
        validation_alias=AliasChoices("WECHAT_APP_SECRET"),
        description="Fetches the access token; never logged.",
    )
    wechat_templates: dict[str, str] = Field(
        default_factory=dict,
        validation_alias=AliasChoices("WECHAT_TEMPLATES"),
        description="JSON: message kind → template id of the official account.",
    )

    quiet_hours: str = Field(
        default="21:00-08:00",
        validation_alias=AliasChoices("NOTIFY_QUIET_HOURS", "QUIET_HOURS"),
        description="No SMS in this window, China time (HH:MM-HH:MM; empty: none). A message falling in it waits "
        "for its end. WeChat messages are not held.",
    )
    max_attempts: int = Field(
        default=8, ge=1, le=50, description="Attempts before a message is failed and dead-lettered."
    )
    retry_first_delay_s: float = Field(
        default=30.0, gt=0, description="First retry after this long, then doubling."
    )
    retry_max_delay_s: float = Field(default=3600.0, gt=0, description="Longest wait between two attempts.")
    lease_s: float = Field(
        default=60.0,
        gt=0,
        description="A message being sent is someone's for this long; an instance that died "
        "while sending leaves it to another after it (at-least-once).",
    )
    delivery_interval_s: float = Field(
        default=5.0,
        gt=0,
        description="How often due messages are looked for (retries, the end of quiet hours, messages another "
        "instance queued); a message this instance queues goes at once.",
    )
    provider_timeout_s: float = Field(default=10.0, gt=0, description="Longest wait for a provider's answer.")
    unknown_case_grace_s: float = Field(
        default=120.0,
        gt=0,
        description="A message for a case whose complaint (and phone) is not known yet waits this long, then is dead-lettered.",
    )

    @field_validator("aliyun_sms_templates", "wechat_templates", mode="before")
    @classmethod
    def _json(cls, value: object) -> object:
        return json.loads(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _production_sends(self) -> NotificationsSettings:
        if self.app_env == "production":
            if self.sms_provider == "local":
                raise ValueError("NOTIFY_SMS_PROVIDER=local in production: no SMS would reach a customer")
            if self.sms_provider == "aliyun" and not all(
                _real(v) for v in (self.aliyun_sms_access_key_id, self.aliyun_sms_access_key_secret)
            ):
                raise ValueError(
                    "ALIYUN_SMS_ACCESS_KEY_ID and ALIYUN_SMS_ACCESS_KEY_SECRET: set real keys for aliyun"
                )
            if self.wechat_provider == "wechat" and not all(
                _real(v) for v in (self.wechat_app_id, self.wechat_app_secret)
            ):
                raise ValueError("WECHAT_APP_ID and WECHAT_APP_SECRET: set real keys for wechat")
        return self
