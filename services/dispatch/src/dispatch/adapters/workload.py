"""The roster, each specialist's open workload and the manager's assignment settings, as routing
reads them for every new case.

Counting open cases per specialist is an aggregation over the open cases, too costly to repeat for
every complaint under load. The board re-reads both every `ttl_s` seconds and counts its own
assignments in between; balancing needs the right order of magnitude, not the exact count of this
second. One refresh at a time: the handlers running at once keep routing on the last board meanwhile.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from dispatch.adapters.repository import CaseQueries, RosterRepository, SettingsRepository
from dispatch.domain.routing import AssignmentPolicy, Specialist


@dataclass
class WorkloadBoard:
    roster_repo: RosterRepository
    cases: CaseQueries
    settings: SettingsRepository
    default_policy: AssignmentPolicy = field(default_factory=AssignmentPolicy)
    ttl_s: float = 30.0
    _roster: list[Specialist] = field(default_factory=list)
    _workloads: dict[str, int] = field(default_factory=dict)
    _policy: AssignmentPolicy | None = None
    _read_at: float = float("-inf")
    _refreshing: asyncio.Lock = field(default_factory=asyncio.Lock)

    def _stale(self) -> bool:
        return time.monotonic() - self._read_at > self.ttl_s

    async def current(self) -> tuple[list[Specialist], dict[str, int], AssignmentPolicy]:
        if self._stale() and not (self._refreshing.locked() and self._roster):
            async with self._refreshing:
                if self._stale():  # whoever waited behind the refresh finds it done
                    roster = await self.roster_repo.all()
                    self._workloads = await self.cases.open_workloads([s.specialist_id for s in roster])
                    self._policy = await self.settings.assignment() or self.default_policy
                    self._roster, self._read_at = roster, time.monotonic()
        return self._roster, self._workloads, self._policy or self.default_policy

    def assigned(self, specialist_id: str) -> None:
        self._workloads[specialist_id] = self._workloads.get(specialist_id, 0) + 1

    def invalidate(self) -> None:
        """After a roster or settings change: the next case reads them afresh."""
        self._read_at = float("-inf")
