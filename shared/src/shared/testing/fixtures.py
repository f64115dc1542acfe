"""The pytest plugin every test directory uses (registered in the root conftest.py).

Kafka and the store start once per session; each test gets its own topic prefix and database, so
tests never see each other's events or records and no server is restarted between them.
"""

from __future__ import annotations

import asyncio
import io
import os
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack, asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from fastapi import FastAPI
from pymongo import AsyncMongoClient

from shared.config import ServiceSettings
from shared.mongo import Document
from shared.testing.backends import Backends, BackendUnavailable, repo_root, start_backends, verify

S = TypeVar("S", bound=ServiceSettings)


@pytest.fixture(scope="session")
def backends() -> Iterator[Backends]:
    with ExitStack() as stack:
        try:
            found = start_backends(stack)
            asyncio.run(verify(found))
        except BackendUnavailable as exc:
            pytest.fail(f"integration backend unavailable (tests never skip for this): {exc}", pytrace=False)
        yield found


@pytest.fixture(scope="session", autouse=True)
async def no_task_outlives_the_session(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """At the end, cancel what is left on the loop and name what refuses, instead of hanging forever."""
    yield
    current = asyncio.current_task()
    left = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
    for task in left:
        task.cancel()
    if left:
        _done, stuck = await asyncio.wait(left, timeout=15)
        if stuck:
            names = ", ".join(f"{t.get_name()} {t.get_coro()!r}" for t in stuck)
            # Every test has reported by now; closing the loop would wait on these forever.
            _summary_before_exit(
                request.config, f"WARNING: {len(stuck)} task(s) ignored cancellation at session end: {names}"
            )
            os._exit(1 if request.session.testsfailed else 0)


def _summary_before_exit(config: pytest.Config, warning: str) -> None:
    """os._exit skips pytest's own summary, and this teardown's output is captured: without this, a
    failing run ended on a row of dots and an F, with no report of what failed."""
    capture = config.pluginmanager.get_plugin("capturemanager")
    if capture is not None:
        capture.suspend_global_capture(in_=False)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        print(f"\n{warning}", file=sys.__stderr__, flush=True)
        return
    reporter.ensure_newline()
    reporter.summary_failures()
    reporter.summary_errors()
    reporter.short_test_summary()
    reporter.write_line("")
    reporter.write_line(warning, yellow=True)
    reporter.summary_stats()
    reporter.flush()


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
def dev_credentials_file() -> Path:
    return repo_root() / "deploy" / "local" / "dev-credentials.json"


class Isolation:
    """Builds settings for one test: unique topic prefix, unique databases, dropped afterwards."""

    def __init__(self, backends: Backends, unique: str, credentials: Path) -> None:
        self.backends = backends
        self.prefix = f"t{unique}."
        self.unique = unique
        self.credentials = credentials
        self.databases: set[str] = set()

    def settings(self, cls: type[S], **overrides: Any) -> S:
        service = cls.model_fields["service_name"].default
        values: dict[str, Any] = {
            "app_env": "test",
            "kafka_bootstrap_servers": self.backends.kafka_bootstrap_servers,
            "mongodb_url": self.backends.mongodb_url,
            "mongodb_database": f"t{self.unique}_{service}",
            "topic_prefix": self.prefix,
            "credentials_file": self.credentials,
            "log_json": False,
        }
        values.update(overrides)
        self.databases.add(values["mongodb_database"])
        return cls(**values)

    def topic(self, name: str) -> str:
        return f"{self.prefix}{name}"

    async def cleanup(self) -> None:
        async with bounded("test cleanup (drop databases, delete topics)", 60):
            await self._cleanup()

    async def _cleanup(self) -> None:
        client: AsyncMongoClient[Document] = AsyncMongoClient(
            self.backends.mongodb_url, serverSelectionTimeoutMS=5000
        )
        try:
            for name in self.databases:
                await client.drop_database(name)
        finally:
            await client.close()
        admin = AIOKafkaAdminClient(bootstrap_servers=self.backends.kafka_bootstrap_servers)
        await admin.start()
        try:
            ours = [t for t in await admin.list_topics() if t.startswith(self.prefix)]
            if ours:
                await admin.delete_topics(ours)
        finally:
            await admin.close()


@pytest.fixture
async def isolation(backends: Backends, unique: str, dev_credentials_file: Path) -> AsyncIterator[Isolation]:
    iso = Isolation(backends, unique, dev_credentials_file)
    yield iso
    await iso.cleanup()


@asynccontextmanager
async def started(app: FastAPI) -> AsyncIterator[FastAPI]:
    """Run an app's lifespan (store, publisher, consumers), each end bounded in time."""
    lifespan = app.router.lifespan_context(app)
    async with bounded("app start-up", 60):
        await lifespan.__aenter__()
    try:
        yield app
    finally:
        async with bounded("app shutdown", 60):
            await lifespan.__aexit__(None, None, None)


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Run an app and talk to it in process."""
    async with started(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=30) as client:
            yield client


@asynccontextmanager
async def bounded(what: str, seconds: float) -> AsyncIterator[None]:
    """Fail loudly, with every pending task's stack, instead of hanging the whole session."""
    try:
        async with asyncio.timeout(seconds):
            yield
    except TimeoutError:
        stacks = io.StringIO()
        for task in asyncio.all_tasks():
            print(f"--- {task.get_name()}: {task.get_coro()!r}", file=stacks)
            task.print_stack(limit=12, file=stacks)
        raise AssertionError(
            f"{what} took longer than {seconds}s; pending tasks:\n{stacks.getvalue()}"
        ) from None


async def eventually(check: Callable[[], Any], *, timeout_s: float = 20.0, interval_s: float = 0.1) -> Any:
    """Await `check()` until it returns something truthy (it may be sync or async)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    last: Any = None
    while loop.time() < deadline:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(interval_s)
    raise AssertionError(f"condition not met within {timeout_s}s (last value: {last!r})")


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    """Serve an app on a free local port over real HTTP (for the browser); yields its base URL."""
    import socket

    from shared.http.server import Server, server_config

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = Server(server_config(app, host="127.0.0.1", port=port))
    task = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: server.started, timeout_s=30, interval_s=0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        async with bounded("HTTP server shutdown", 30):
            await task


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    """Debian's headless Chromium driven by Playwright (it never downloads a browser of its own)."""
    from shared.testing.browser import launch

    async with launch() as b:
        yield b


class Bus:
    """Publish as another service would (its own durable publisher), and read topics back.

    Tests subclass it with the events of their scenario."""

    def __init__(self, isolation: Isolation) -> None:
        self.isolation = isolation
        self.publishers: dict[str, Any] = {}

    async def publish(self, owner: str, envelope: Any) -> Any:
        from shared.kafka.publisher import EventPublisher

        if owner not in self.publishers:
            self.publishers[owner] = EventPublisher(
                self.isolation.settings(ServiceSettings, service_name=owner)
            )
        await self.publishers[owner].publish(envelope)
        return envelope

    async def read(self, topic: str, until: Callable[[list[Any]], bool], settle_s: float = 0.5) -> list[Any]:
        from shared.testing.kafka import read_topic

        return await read_topic(
            self.isolation.backends.kafka_bootstrap_servers,
            self.isolation.topic(topic),
            until=until,
            settle_s=settle_s,
        )

    async def close(self) -> None:
        for publisher in self.publishers.values():
            await publisher.stop()


def unreachable_kafka() -> str:
    """A bootstrap address with nothing listening: connecting is refused at once, as to a stopped broker."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"
