"""One service process: its store, publisher, consumer and keys, started and stopped together.

A service's `create_app(settings)` calls `service_app(...)` with a `wire` function that builds its
repositories and registers its event handlers on the runtime before the consumer starts.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from fastapi import APIRouter, FastAPI
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from shared.config import ServiceSettings
from shared.http.app import ReadinessCheck, create_service_app
from shared.http.auth import Credentials, load_credentials
from shared.http.commands import install_change_errors
from shared.kafka.consumer import EventConsumer, RetryPolicy
from shared.kafka.publisher import EventPublisher, PublishFailed
from shared.logging import get_logger
from shared.mongo import Document, connect, database, ping
from shared.unit_of_work import Aggregates, M, Store

log = get_logger(__name__)


class ServiceRuntime:
    def __init__(
        self,
        settings: ServiceSettings,
        *,
        retry_policy: RetryPolicy | None = None,
        on_fatal: Callable[[BaseException], None] | None = None,
    ) -> None:
        self.settings = settings
        self.credentials: Credentials = load_credentials(settings)  # refuses placeholders in production
        self.mongo: AsyncMongoClient[Document] = connect(settings)
        self.db: AsyncDatabase[Document] = database(self.mongo, settings)
        self.store = Store(self.db)
        self.publisher = EventPublisher(settings)
        kwargs: dict[str, Any] = {"publisher": self.publisher, "policy": retry_policy}
        if on_fatal is not None:
            kwargs["on_fatal"] = on_fatal
        self.consumer = EventConsumer(settings, **kwargs)
        # Anything a service wants to keep on the runtime (its repositories, limiter...).
        self.components: dict[str, Any] = {}
        self._background: list[tuple[str, Callable[[], Awaitable[None]]]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._aggregates: list[Aggregates[Any]] = []

    def background(self, name: str, loop: Callable[[], Awaitable[None]]) -> None:
        """A periodic job (deadline scanner, outbox relay) run alongside the consumers."""
        self._background.append((name, loop))

    def aggregates(
        self,
        collection: str,
        model: type[M],
        *,
        id_field: str,
        correlation: Callable[[M], str] | None = None,
        query_fields: Callable[[M], dict[str, Any]] | None = None,
        kind: str | None = None,
    ) -> Aggregates[M]:
        """The records of one aggregate in `collection`, changed only through the unit of work, with
        the relay of their outbox running in the background."""
        agg = Aggregates(
            self.db[collection],
            model,
            id_field=id_field,
            producer=self.settings.service_name,
            publisher=self.publisher,
            correlation=correlation,
            query_fields=query_fields,
            kind=kind,
        )
        self._aggregates.append(agg)
        self.background(
            f"outbox-relay:{collection}",
            partial(agg.outbox.relay_forever, self.settings.outbox_relay_interval_s),
        )
        return agg

    async def ensure_indexes(self) -> None:
        """The unit of work's own indexes (the relay's queue) on every aggregate collection."""
        for agg in self._aggregates:
            await agg.ensure_indexes()

    async def start(self) -> None:
        try:
            await self.ensure_indexes()
        except Exception as exc:
            # Keep serving: /readyz reports the store, and the next start creates them.
            log.warning("store not reachable at start-up; indexes not ensured", error=repr(exc))
        try:
            await self.publisher.start()
        except PublishFailed as exc:
            # Keep serving: /readyz reports it and publishing retries the connection.
            log.warning("Kafka not reachable at start-up; publishing will retry", error=str(exc))
        if self.settings.run_consumers:
            await asyncio.wait_for(self.consumer.start(), 60)
            self._tasks = [
                asyncio.create_task(_guarded(name, job), name=name) for name, job in self._background
            ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        _, stuck = await asyncio.wait(self._tasks, timeout=15) if self._tasks else (set(), set())
        for task in stuck:  # cancelled and still running: a job that swallowed it; the stop goes on
            log.error("background job did not stop within 15 s; leaving it", job=task.get_name())
        try:
            # Uncommitted offsets are simply redelivered, so a stop that hangs is abandoned, not awaited.
            await asyncio.wait_for(self.consumer.stop(), 30)
        except TimeoutError:
            log.error("consumer did not stop within 30 s; leaving it")
        for agg in self._aggregates:
            try:  # what was published is removed from the documents before the store goes
                await asyncio.wait_for(agg.outbox.flush(), 10)
            except Exception as exc:
                log.warning(
                    "published events not removed at shutdown; the relay may publish them again",
                    error=repr(exc),
                )
        await self.publisher.stop()
        await self.mongo.close()

    def stalls(self) -> list[str]:
        """Why this process is stuck, if it is: /healthz fails on it, so it is restarted."""
        stall = self.consumer.stall() if self.settings.run_consumers else None
        return [f"consumer: {stall}"] if stall else []

    def readiness(self) -> list[ReadinessCheck]:
        return [
            ReadinessCheck("kafka", self.publisher.ready),
            ReadinessCheck("store", lambda: ping(self.mongo)),
        ]


async def _guarded(name: str, job: Callable[[], Awaitable[None]]) -> None:
    """Keep a background job alive: log what broke it and start it again after a pause."""
    while True:
        try:
            await job()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            me = asyncio.current_task()
            if me is not None and me.cancelling():
                # Asked to stop, and something below turned the cancellation into an error of its own
                # (a driver call cut short): stop all the same, or the service's shutdown waits forever.
                raise asyncio.CancelledError from None
            log.exception("background job failed; restarting in 5 s", job=name)
            await asyncio.sleep(5)


def service_app(
    settings: ServiceSettings,
    *,
    title: str,
    description: str,
    routers: Sequence[APIRouter] = (),
    wire: Callable[[ServiceRuntime], Awaitable[None]] | None = None,
    max_body_bytes: int = 256 * 1024,
    runtime_factory: Callable[[ServiceSettings], ServiceRuntime] = ServiceRuntime,
    uploads: tuple[str, int] | None = None,
) -> FastAPI:
    """The FastAPI app of a service, with the runtime on `app.state.runtime` while it runs."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = runtime_factory(settings)
        app.state.runtime = runtime
        app.state.credentials = runtime.credentials
        if wire is not None:
            await wire(runtime)
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = create_service_app(
        service=settings.service_name,
        title=title,
        description=description,
        lifespan=lifespan,
        readiness=lambda a: a.state.runtime.readiness(),
        stalls=lambda a: a.state.runtime.stalls(),
        max_body_bytes=max_body_bytes,
        uploads=uploads,
    )
    install_change_errors(app)
    for router in routers:
        app.include_router(router)
    return app
