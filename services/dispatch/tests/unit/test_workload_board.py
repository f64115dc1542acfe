"""The workload board routing reads: one refresh at a time, the last board served meanwhile."""

from __future__ import annotations

import asyncio

from dispatch.adapters.workload import WorkloadBoard
from dispatch.domain.routing import AssignmentPolicy, Specialist

ROSTER = [Specialist("S-01", "李工", "quality"), Specialist("S-02", "王工", "quality")]


class SlowStore:
    """Stands in for the roster and case repositories: counts the scans, each taking a while."""

    def __init__(self) -> None:
        self.scans = 0
        self.open = {"S-01": 3, "S-02": 1}

    async def all(self) -> list[Specialist]:
        return ROSTER

    async def open_workloads(self, specialist_ids: list[str]) -> dict[str, int]:
        self.scans += 1
        await asyncio.sleep(0.05)
        return {s: self.open[s] for s in specialist_ids}

    async def assignment(self) -> AssignmentPolicy | None:
        return None  # nothing stored: the file's settings apply


async def test_handlers_at_once_share_one_refresh() -> None:
    store = SlowStore()
    board = WorkloadBoard(store, store, store, ttl_s=60)  # type: ignore[arg-type]
    boards = await asyncio.gather(*(board.current() for _ in range(8)))
    assert store.scans == 1
    assert all(b == (ROSTER, {"S-01": 3, "S-02": 1}, AssignmentPolicy()) for b in boards)


async def test_a_stale_board_is_served_while_one_handler_refreshes_it() -> None:
    store = SlowStore()
    board = WorkloadBoard(store, store, store, ttl_s=60)  # type: ignore[arg-type]
    await board.current()
    board.assigned("S-02")
    board.invalidate()
    store.open = {"S-01": 0, "S-02": 0}
    refresher = asyncio.create_task(board.current())
    await asyncio.sleep(0.01)  # the refresh is under way
    assert (await board.current())[:2] == (
        ROSTER,
        {"S-01": 3, "S-02": 2},
    )  # the last board, own assignment counted
    assert (await refresher)[:2] == (ROSTER, {"S-01": 0, "S-02": 0})
    assert store.scans == 2
