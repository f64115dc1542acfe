"""The whole suite in process for the console's page tests: intake, dispatch, warranty, parts and
engineering each served on a real port, and the console configured with their addresses and the
same topic prefix. Started once per module (the page tests share it; each test makes its own cases).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from console.config import ConsoleSettings
from console.entrypoints.http import create_app as console_app
from dispatch.config import DispatchSettings
from dispatch.entrypoints.http import create_app as dispatch_app
from engineering.config import EngineeringSettings
from engineering.entrypoints.http import create_app as engineering_app
from intake.config import IntakeSettings
from intake.entrypoints.http import create_app as intake_app
from notifications.config import NotificationsSettings
from notifications.entrypoints.http import create_app as notifications_app
from parts.config import PartsSettings
from parts.entrypoints.http import create_app as parts_app
from shared.http.server import CLIENT_KEEPALIVE_S
from shared.testing.backends import Backends, repo_root
from shared.testing.fixtures import Isolation, bounded, eventually, serving, started
from shared.testing.identities import api_keys, idempotency_key
from warranty.config import WarrantySettings
from warranty.entrypoints.http import create_app as warranty_app

KEYS = api_keys()  # deploy/local/dev-credentials.json, by role
# The README's screenshots are refreshed on request (`make screenshots`); an ordinary test run keeps
# its own under .local/ so it leaves the working tree as it found it.
SCREENSHOTS = (
    repo_root() / "docs" / "screenshots"
    if os.environ.get("UPDATE_SCREENSHOTS") == "1"
    else repo_root() / ".local" / "screenshots"
)


@dataclass
class Suite:
    console: str
    urls: dict[str, str]
    clients: dict[str, httpx.AsyncClient] = field(default_factory=dict)
    console_app: Any = None

    def api(self, service: str) -> httpx.AsyncClient:
        return self.clients[service]

    async def hotline_case(
        self,
        *,
        phone: str,
        transcript: str,
        address: str = "广东省广州市天河区体育西路1号",
        product: dict[str, str] | None = None,
        key: str = "hotline",
    ) -> str:
        body: dict[str, Any] = {
            "caller_name": "张先生",
            "phone": phone,
            "called_at": "2026-11-26T09:30:00",
            "transcript": transcript,
            "agent_id": "hotline-desk",
            "address": address,
        }
        if product:
            body["product"] = product
        res = await self.api("intake").post(
            "/v1/complaints/hotline",
            json=body,
            headers={"X-API-Key": KEYS[key], "Idempotency-Key": idempotency_key()},
        )
        assert res.status_code == 202, res.text
        return res.json()["case_id"]

    async def case(self, case_id: str, role: str = "manager") -> dict[str, Any]:
        res = await self.api("dispatch").get(f"/v1/cases/{case_id}", headers={"X-API-Key": KEYS[role]})
        return res.json() if res.status_code == 200 else {}

    async def assigned(self, case_id: str, *, decided: bool = False) -> dict[str, Any]:
        """The case once dispatch assigned it (and, when asked, once warranty's decision reached it)."""

        async def ready() -> dict[str, Any] | None:
            case = await self.case(case_id)
            if case.get("assignee") and (not decided or case.get("warranty")):
                return case
            return None

        return await eventually(ready, timeout_s=30)

    async def with_liu(self, case_id: str, *, decided: bool = False) -> dict[str, Any]:
        """The case assigned to sp-liu, the specialist whose key the tests hold. Dispatch's load rule passes
        her over once she holds more than half of the department's open cases (from ten on), which depends
        on what earlier tests left open: such a case is reassigned to her by the manager."""
        case = await self.assigned(case_id, decided=decided)
        if case["assignee"] == "sp-liu":
            return case
        res = await self.api("dispatch").post(
            f"/v1/cases/{case_id}/assignment",
            headers={"X-API-Key": KEYS["manager"]},
            json={"specialist_id": "sp-liu", "reason": "测试：由刘工负责"},
        )
        assert res.status_code in (200, 201), res.text
        return await self.case(case_id)


def suite_policy(directory: Path) -> Path:
    """Dispatch's policy for the suite: online complaints wait for the manager's confirmation."""
    policy = yaml.safe_load(
        (Path(__import__("dispatch").__file__).parent / "policy.yaml").read_text(encoding="utf-8")
    )
    policy["assignment"]["modes"] = {"*": {"*": "auto"}, "online": {"*": "confirm"}}
    path = directory / "policy.yaml"
    path.write_text(yaml.safe_dump(policy, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
async def suite(backends: Backends, dev_credentials_file: Path, tmp_path_factory) -> AsyncIterator[Suite]:
    iso = Isolation(backends, uuid.uuid4().hex[:10], dev_credentials_file)
    fast = {"outbox_relay_interval_s": 0.5}
    policy = suite_policy(tmp_path_factory.mktemp("policy"))
    apps = {
        "intake": intake_app(iso.settings(IntakeSettings, rate_limit_online_per_ip="1000/minute")),
        "dispatch": dispatch_app(
            iso.settings(DispatchSettings, scan_interval_s=0.5, policy_file=policy, **fast)
        ),
        "warranty": warranty_app(iso.settings(WarrantySettings)),
        "parts": parts_app(iso.settings(PartsSettings, scan_interval_s=0.5, **fast)),
        "engineering": engineering_app(iso.settings(EngineeringSettings, **fast)),
        "notifications": notifications_app(
            iso.settings(NotificationsSettings, delivery_interval_s=0.3, quiet_hours="", **fast)
        ),
    }
    try:
        async with AsyncExitStack() as stack:
            # Started side by side (each start is mostly waiting for Kafka), then each served.
            lifespans = [started(app) for app in apps.values()]
            results = await asyncio.gather(*(cm.__aenter__() for cm in lifespans), return_exceptions=True)
            for cm, result in zip(lifespans, results, strict=True):
                if not isinstance(result, BaseException):
                    stack.push_async_exit(cm)
            if failed := [r for r in results if isinstance(r, BaseException)]:
                raise failed[0]
            urls: dict[str, str] = {}
            for name, app in apps.items():
                urls[name] = await stack.enter_async_context(serving(app))
            console = console_app(
                iso.settings(
                    ConsoleSettings,
                    intake_url=urls["intake"],
                    dispatch_url=urls["dispatch"],
                    warranty_url=urls["warranty"],
                    parts_url=urls["parts"],
                    engineering_url=urls["engineering"],
                    notifications_url=urls["notifications"],
                    intake_public_url=urls["intake"],
                    sse_keepalive_s=5.0,
                )
            )
            await stack.enter_async_context(started(console))
            console_url = await stack.enter_async_context(serving(console))
            feed = console.state.runtime.components["console"].feed
            await eventually(lambda: feed.ready.is_set(), timeout_s=30)
            suite = Suite(console=console_url, urls=urls, console_app=console)
            for name, url in urls.items():
                suite.clients[name] = await stack.enter_async_context(
                    httpx.AsyncClient(
                        base_url=url, timeout=30, limits=httpx.Limits(keepalive_expiry=CLIENT_KEEPALIVE_S)
                    )
                )
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            yield suite
    finally:
        await iso.cleanup()


@pytest.fixture
def keys() -> dict[str, str]:
    return KEYS


class Pages:
    """Browser contexts signed in as a role; every one is closed after the test (open live streams too)."""

    def __init__(self, browser: Any, suite: Suite) -> None:
        self.browser = browser
        self.suite = suite
        self.contexts: list[Any] = []

    async def new(self, *, phone: bool = False) -> Any:
        from shared.testing.browser import PHONE

        options = PHONE if phone else {"viewport": {"width": 1280, "height": 900}}
        context = await self.browser.new_context(locale="zh-CN", **options)
        context.set_default_timeout(15_000)
        self.contexts.append(context)
        return await context.new_page()

    async def signed_in(self, role: str, *, phone: bool = False, pick: bool = False) -> Any:
        page = await self.new(phone=phone)
        await page.goto(f"{self.suite.console}/signin")
        if pick:  # the development role picker
            await page.click(f'[data-role="{role}"]')
        else:
            await page.fill("#api_key", KEYS[role])
            await page.click("#signin")
        await page.wait_for_selector("#who")
        return page

    @staticmethod
    async def shot(page: Any, name: str) -> None:
        """Keep a screenshot of a main page (for the README with UPDATE_SCREENSHOTS=1)."""
        await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    async def close(self) -> None:
        async with bounded("closing browser contexts", 30):
            for context in self.contexts:
                await context.close()


@pytest.fixture
async def pages(browser: Any, suite: Suite) -> AsyncIterator[Pages]:
    p = Pages(browser, suite)
    try:
        yield p
    finally:
        await p.close()
