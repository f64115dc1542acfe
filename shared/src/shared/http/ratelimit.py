"""Per-key and per-IP request limits (429 with Retry-After), in process memory.

Each instance counts its own requests; behind a load balancer the effective limit is the per-instance
limit times the number of instances, which is what we want for protecting each process.
"""

from __future__ import annotations

import math
import time

from fastapi import HTTPException, status
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import FixedWindowRateLimiter


class RateLimiter:
    def __init__(self) -> None:
        self._limiter = FixedWindowRateLimiter(MemoryStorage())

    async def hit(self, limit: str | RateLimitItem, *identity: str) -> None:
        """Count one request for `identity` against `limit` ("600/minute"); 429 when exceeded."""
        item = parse(limit) if isinstance(limit, str) else limit
        if await self._limiter.hit(item, *identity):
            return
        stats = await self._limiter.get_window_stats(item, *identity)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail=f"rate limit {item} exceeded for {identity[0]}",
            headers={"Retry-After": str(retry_after)},
        )
