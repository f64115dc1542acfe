"""The roster and each specialist's open workload, as routing reads them for every new case.

Counting open cases per specialist is an aggregation over the open cases, too costly to repeat for
every complaint under load. The board re-reads both every `ttl_s` seconds and counts its own
assignments in between; balancing needs the right order of magnitude, not the exact count of this
second. One refresh at a time: the handlers running at once keep routing on the last board meanwhile.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from dispatch.adapters.repository import CaseQueries, RosterRepository
from dispatch.domain.routing import Specialist


@dataclass
class WorkloadBoard:
    roster_repo: RosterRepository
    cases: CaseQueries
    ttl_s: float = 30.0
    _roster: list[Specialist] = field(default_factory=list)
    _workloads: dict[str, int] = field(default_factory=dict)
    _read_at: float = float("-inf")
    _refreshing: asyncio.Lock = field(default_factory=asyncio.Lock)

    def _stale(self) -> bool:
        return time.monotonic() - self._read_at > self.ttl_s

    async def current(self) -> tuple[list[Specialist], dict[str, int]]:
        if self._stale() and not (self._refreshing.locked() and self._roster):
            async with self._refreshing:
                if self._stale():  # whoever waited behind the refresh finds it done
                    roster = await self.roster_repo.all()
                    self._workloads = await self.cases.open_workloads([s.specialist_id for s in roster])
                    self._roster, self._read_at = roster, time.monotonic()
        return self._roster, self._workloads

    def assigned(self, specialist_id: str) -> None:
        self._workloads[specialist_id] = self._workloads.get(specialist_id, 0) + 1

    def invalidate(self) -> None:
        """After a roster change: the next case reads it afresh."""
        self._read_at = float("-inf")
