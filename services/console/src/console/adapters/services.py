"""One HTTP client per service. Every call carries the signed-in user's own key, so each service
decides what this user may see and do; the console adds none of their rules.

Keys and query strings are never logged (a query may hold a customer's phone).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from console.config import ConsoleSettings
from shared.http.server import CLIENT_KEEPALIVE_S
from shared.logging import get_logger
from shared.requestid import current_request_id

log = get_logger(__name__)

SERVICES = ("intake", "dispatch", "warranty", "parts", "engineering", "notifications")


@dataclass(frozen=True)
class Api:
    """What a service answered: status and body (JSON when it was JSON, else text)."""

    status: int
    data: Any = None
    text: str = ""
    content_type: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    raw: bytes = b""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self, default: Any = None) -> Any:
        return self.data if self.ok and self.data is not None else default

    @property
    def detail(self) -> Any:
        return self.data.get("detail") if isinstance(self.data, dict) else (self.text or None)


class ServiceClient:
    """Calls one service's public HTTP API as the given user."""

    def __init__(
        self, name: str, base_url: str, *, timeout_s: float, transport: httpx.AsyncBaseTransport | None = None
    ):
        self.name = name
        self.base_url = base_url.rstrip("/")
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 5.0)),
            transport=transport,
            headers={"User-Agent": "yingde-console/0.1"},
            follow_redirects=False,
            limits=httpx.Limits(keepalive_expiry=CLIENT_KEEPALIVE_S),
        )

    async def call(
        self,
        method: str,
        path: str,
        *,
        key: str | None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
    ) -> Api:
        """`data` and `files` send a multipart form (an upload) instead of JSON."""
        sent: dict[str, str] = dict(headers or {})
        if key:
            sent["X-API-Key"] = key
        request_id = current_request_id()
        if request_id is not None:
            # The page's request id goes on: the service's events name it as their cause.
            sent.setdefault("X-Request-ID", str(request_id))
        clean = {k: v for k, v in (params or {}).items() if v is not None and v != ""}
        try:
            if files is not None:
                res = await self._client.request(
                    method, path, params=clean or None, data=dict(data or {}), files=dict(files), headers=sent
                )
            else:
                res = await self._client.request(method, path, params=clean or None, json=json, headers=sent)
        except httpx.HTTPError as exc:
            log.warning(
                "service unreachable", service=self.name, method=method, path=path, error=type(exc).__name__
            )
            return Api(
                503, {"detail": f"{self.name} is unavailable ({type(exc).__name__}); try again shortly"}
            )
        content_type = res.headers.get("content-type", "")
        data: Any = None
        if "json" in content_type:
            try:
                data = res.json()
            except ValueError:
                data = None
        if res.status_code >= 500:
            log.warning("service error", service=self.name, method=method, path=path, status=res.status_code)
        return Api(
            res.status_code,
            data,
            res.text if data is None and "text" in content_type else "",
            content_type,
            dict(res.headers),
            res.content,
        )

    async def get(self, path: str, *, key: str | None, params: Mapping[str, Any] | None = None) -> Api:
        return await self.call("GET", path, key=key, params=params)

    async def post(
        self, path: str, *, key: str | None, json: Any = None, headers: Mapping[str, str] | None = None
    ) -> Api:
        return await self.call("POST", path, key=key, json=json, headers=headers)

    async def upload(
        self,
        path: str,
        *,
        key: str | None,
        data: Mapping[str, str],
        files: Mapping[str, tuple[str, bytes, str]],
        headers: Mapping[str, str] | None = None,
    ) -> Api:
        """A multipart form with its file(s), as the browser sent them to the console."""
        return await self.call("POST", path, key=key, data=data, files=files, headers=headers)

    async def put(self, path: str, *, key: str | None, json: Any = None) -> Api:
        return await self.call("PUT", path, key=key, json=json)

    async def ready(self) -> bool:
        try:
            res = await self._client.get("/healthz", timeout=2.0)
        except httpx.HTTPError:
            return False
        return res.status_code == 200

    async def close(self) -> None:
        await self._client.aclose()


class Services:
    """The clients, by name: services.dispatch.get(...)."""

    def __init__(self, settings: ConsoleSettings) -> None:
        timeout = settings.service_timeout_s
        self.intake = ServiceClient("intake", settings.intake_url, timeout_s=timeout)
        self.dispatch = ServiceClient("dispatch", settings.dispatch_url, timeout_s=timeout)
        self.warranty = ServiceClient("warranty", settings.warranty_url, timeout_s=timeout)
        self.parts = ServiceClient("parts", settings.parts_url, timeout_s=timeout)
        self.engineering = ServiceClient("engineering", settings.engineering_url, timeout_s=timeout)
        self.notifications = ServiceClient("notifications", settings.notifications_url, timeout_s=timeout)

    def all(self) -> list[ServiceClient]:
        return [self.intake, self.dispatch, self.warranty, self.parts, self.engineering, self.notifications]

    async def close(self) -> None:
        for client in self.all():
            await client.close()
