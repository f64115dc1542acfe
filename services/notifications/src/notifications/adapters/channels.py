"""Channel adapters: how a message leaves (the local record, Alibaba Cloud SMS, WeChat template messages).

Each adapter hands the provider the message id as its idempotency key (Aliyun `OutId`, WeChat
`client_msg_id`, the local record's id) and answers with the provider's message id, or raises
DeliveryError saying whether trying again may help. Neither the phone number nor a secret is ever
logged; errors carry the provider's code and message only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import quote

import httpx
import orjson
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from notifications.domain.message import Message
from shared.mongo import bson_safe


class DeliveryError(Exception):
    """The provider did not take the message. `permanent`: trying again will not help (a bad number,
    a missing template); otherwise it is retried later."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.permanent = permanent


@dataclass(frozen=True)
class Delivery:
    provider_message_id: str | None


class ChannelAdapter(Protocol):
    name: str

    async def send(self, message: Message) -> Delivery: ...


class LocalAdapter:
    """Records every message instead of sending it (development, tests, the console's sent box). The
    record's id is the message id: a second attempt of the same message records nothing new."""

    name = "local"

    def __init__(
        self, deliveries: AsyncCollection, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.deliveries = deliveries
        self._clock = clock

    async def send(self, message: Message) -> Delivery:
        record = {
            "_id": message.message_id,
            "case_id": message.case_id,
            "kind": message.kind,
            "channel": message.channel,
            "to": message.to,
            "text": message.text,
            "params": message.params,
            "template": message.template,
            "delivered_at": self._clock(),
        }
        try:
            await self.deliveries.insert_one(bson_safe(record))
        except DuplicateKeyError:
            pass  # delivered by an earlier attempt: the customer has it once
        return Delivery(provider_message_id=f"local-{message.message_id}")


# ------------------------------------------------------------------------------------ Alibaba Cloud SMS

# Answers worth another try later (throttling, the provider's own trouble, an account to top up).
_ALIYUN_TRANSIENT = {
    "isv.BUSINESS_LIMIT_CONTROL",
    "Throttling.User",
    "Throttling",
    "isp.SYSTEM_ERROR",
    "isp.RAM_PERMISSION_DENY",
    "isv.AMOUNT_NOT_ENOUGH",
    "isv.OUT_OF_SERVICE",
    "ServiceUnavailable",
}


def _percent(value: str) -> str:
    """RFC 3986 percent-encoding as Alibaba Cloud's RPC signature requires."""
    return quote(value, safe="-_.~")


def aliyun_signature(params: dict[str, str], secret: str, method: str = "GET") -> str:
    """Signature version 1.0 (HMAC-SHA1) of Alibaba Cloud's RPC APIs: the sorted, percent-encoded query."""
    canonical = "&".join(f"{_percent(k)}={_percent(v)}" for k, v in sorted(params.items()))
    to_sign = f"{method}&{_percent('/')}&{_percent(canonical)}"
    digest = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class AliyunSms:
    """dysmsapi SendSms (2017-05-25): sign name and template code approved in the console, variables as JSON."""

    name = "aliyun"

    def __init__(
        self,
        *,
        endpoint: str,
        access_key_id: str,
        access_key_secret: str,
        sign_name: str,
        templates: dict[str, str],
        client: httpx.AsyncClient,
    ) -> None:
        self.endpoint = endpoint
        self._key_id = access_key_id
        self._secret = access_key_secret
        self.sign_name = sign_name
        self.templates = templates
        self._client = client

    def request_params(
        self, message: Message, *, now: datetime | None = None, nonce: str | None = None
    ) -> dict[str, str]:
        template = self.templates.get(message.kind)
        if not template:
            raise DeliveryError(
                f"no SMS template code for {message.kind} (ALIYUN_SMS_TEMPLATES)", permanent=True
            )
        params = {
            "AccessKeyId": self._key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "RegionId": "cn-hangzhou",
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": nonce or uuid.uuid4().hex,
            "SignatureVersion": "1.0",
            "Timestamp": (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": "2017-05-25",
            "PhoneNumbers": message.to,
            "SignName": self.sign_name,
            "TemplateCode": template,
            "TemplateParam": orjson.dumps(message.params).decode(),
            "OutId": message.message_id,
        }
        params["Signature"] = aliyun_signature(params, self._secret)
        return params

    async def send(self, message: Message) -> Delivery:
        params = self.request_params(message)
        try:
            res = await self._client.get(self.endpoint, params=params)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"aliyun unreachable: {type(exc).__name__}", permanent=False) from exc
        body = _json(res)
        code = str(body.get("Code", res.status_code))
        if res.status_code == 200 and code == "OK":
            return Delivery(provider_message_id=body.get("BizId"))
        reason = f"{code}: {body.get('Message', '')}"[:300]
        raise DeliveryError(reason, permanent=code not in _ALIYUN_TRANSIENT and res.status_code < 500)


# ------------------------------------------------------------------------------------ WeChat template messages

_WECHAT_TOKEN_EXPIRED = {40001, 40014, 42001}
_WECHAT_TRANSIENT = {-1, 45009, 45047}  # system busy, API call limit reached, too many messages to one user


class WechatTemplate:
    """The official account's template messages: an access token (cached until it expires), then
    cgi-bin/message/template/send with each variable as {"value": ...}."""

    name = "wechat"

    def __init__(
        self,
        *,
        api_base: str,
        app_id: str,
        app_secret: str,
        templates: dict[str, str],
        client: httpx.AsyncClient,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api_base = api_base.rstrip("/")
        self._app_id = app_id
        self._secret = app_secret
        self.templates = templates
        self._client = client
        self._monotonic = monotonic
        self._token: tuple[str, float] | None = None

    async def _access_token(self) -> str:
        if self._token is not None and self._monotonic() < self._token[1]:
            return self._token[0]
        try:
            res = await self._client.get(
                f"{self.api_base}/cgi-bin/token",
                params={"grant_type": "client_credential", "appid": self._app_id, "secret": self._secret},
            )
        except httpx.HTTPError as exc:
            raise DeliveryError(f"wechat unreachable: {type(exc).__name__}", permanent=False) from exc
        body = _json(res)
        if "access_token" not in body:
            raise DeliveryError(
                f"wechat token: {body.get('errcode')} {body.get('errmsg', '')}"[:300], permanent=False
            )
        # Renewed a minute early: a token that expires while a message is on its way costs a retry.
        self._token = (
            body["access_token"],
            self._monotonic() + max(60, int(body.get("expires_in", 7200)) - 60),
        )
        return self._token[0]

    async def send(self, message: Message) -> Delivery:
        template = self.templates.get(message.kind)
        if not template:
            raise DeliveryError(
                f"no WeChat template id for {message.kind} (WECHAT_TEMPLATES)", permanent=True
            )
        token = await self._access_token()
        payload = {
            "touser": message.to,
            "template_id": template,
            "client_msg_id": message.message_id,
            "data": {k: {"value": v} for k, v in message.params.items()},
        }
        try:
            res = await self._client.post(
                f"{self.api_base}/cgi-bin/message/template/send", params={"access_token": token}, json=payload
            )
        except httpx.HTTPError as exc:
            raise DeliveryError(f"wechat unreachable: {type(exc).__name__}", permanent=False) from exc
        body = _json(res)
        errcode = int(body.get("errcode", -1 if res.status_code >= 500 else 0))
        if errcode == 0 and res.status_code == 200:
            return Delivery(provider_message_id=str(body.get("msgid", "")) or None)
        if errcode in _WECHAT_TOKEN_EXPIRED:
            self._token = None
        reason = f"{errcode}: {body.get('errmsg', '')}"[:300]
        raise DeliveryError(reason, permanent=errcode not in _WECHAT_TOKEN_EXPIRED | _WECHAT_TRANSIENT)


def _json(res: httpx.Response) -> dict[str, Any]:
    try:
        data = res.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


@dataclass
class Channels:
    sms: ChannelAdapter
    wechat: ChannelAdapter

    def of(self, channel: str) -> ChannelAdapter:
        return self.sms if channel == "sms" else self.wechat
