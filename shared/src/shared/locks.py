"""One asyncio lock per aggregate id: an optimisation, never the guarantee.

The guarantee is the store's: every write of an aggregate is conditional on the version it read
(shared.unit_of_work), so writers in different processes never overwrite each other. Within one
process this lock queues writers of the same aggregate behind each other, so they do not read the
same version and all but one retry.
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
