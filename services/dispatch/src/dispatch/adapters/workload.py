"""The roster and each specialist's open workload, as routing reads them for every new case.

Counting open cases per specialist is a collection scan on FerretDB, too slow to repeat for every
complaint. The board re-reads both every `ttl_s` seconds and counts its own assignments in between;
balancing needs the right order of magnitude, not the exact count of this second.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from dispatch.adapters.repository import CaseRepository, RosterRepository
from dispatch.domain.routing import Specialist


@dataclass
class WorkloadBoard:
    roster_repo: RosterRepository
    cases: CaseRepository
    ttl_s: float = 10.0
    _roster: list[Specialist] = field(default_factory=list)
    _workloads: dict[str, int] = field(default_factory=dict)
    _read_at: float = float("-inf")

    async def current(self) -> tuple[list[Specialist], dict[str, int]]:
        if time.monotonic() - self._read_at > self.ttl_s:
            roster = await self.roster_repo.all()
            self._workloads = await self.cases.open_workloads([s.specialist_id for s in roster])
            self._roster, self._read_at = roster, time.monotonic()
        return self._roster, self._workloads

    def assigned(self, specialist_id: str) -> None:
        self._workloads[specialist_id] = self._workloads.get(specialist_id, 0) + 1

    def invalidate(self) -> None:
        """After a roster change: the next case reads it afresh."""
        self._read_at = float("-inf")
