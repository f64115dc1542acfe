"""A service's background jobs: kept alive through failures, yet stopped when the service stops."""

from __future__ import annotations

import asyncio

from shared.service import _guarded


async def test_a_job_that_turns_its_cancellation_into_an_error_still_stops() -> None:
    """A driver call cut short by the stop can raise its own error instead of CancelledError; the
    guard took that for a failure and restarted the job, and the service's shutdown waited forever."""
    started = asyncio.Event()

    async def job() -> None:
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            raise RuntimeError("connection closed while waiting") from None

    task = asyncio.create_task(_guarded("sweeper", job))
    await started.wait()
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=5)
    assert task in done and task.cancelled()


async def test_a_job_that_fails_on_its_own_is_started_again(monkeypatch) -> None:
    runs = 0

    async def job() -> None:
        nonlocal runs
        runs += 1
        if runs == 1:
            raise RuntimeError("store unreachable")

    real_sleep = asyncio.sleep
    pauses: list[float] = []

    async def short_sleep(seconds: float) -> None:
        pauses.append(seconds)
        await real_sleep(0)

    monkeypatch.setattr(asyncio, "sleep", short_sleep)
    await asyncio.wait_for(_guarded("sweeper", job), 5)
    assert runs == 2 and pauses == [5]
