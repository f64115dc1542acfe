"""One asyncio lock per aggregate id, so writes to one document within a process never interleave.

Why: FerretDB v1 implements every update as read-then-write of the whole document, outside any
transaction, so two concurrent updates of one document can lose one of them, whatever their filter
(`{"_id": x, "version": v}` included). MongoDB applies a filtered update atomically, so there the
version check alone protects writers in different processes; in one process this lock protects
them on both. Kafka partitioning keeps one case's events on one consumer instance.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class KeyedLocks:
    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._waiters: dict[str, int] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._waiters[key] = self._waiters.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._waiters[key] -= 1
            if self._waiters[key] == 0:  # nobody else holds or waits: forget it
                del self._waiters[key]
                del self._locks[key]
