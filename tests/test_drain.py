"""Shutdown's drain, in process: a job run past the grace period is cut off before the database closes."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from bot.jobs import Jobs
from bot.settings import Settings


def jobs_of(settings: Settings) -> Jobs:
    return Jobs(*cast(Any, (None, None, None, None, None)), settings)


async def test_a_job_run_past_the_grace_is_cancelled_and_awaited(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    jobs = jobs_of(settings)
    ended: list[str] = []
    started = asyncio.Event()

    async def backup() -> None:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            await asyncio.sleep(0.05)  # its own clean-up, which the drain waits for
            ended.append("cancelled")
            raise

    scheduled = asyncio.create_task(jobs.tracked(backup)())  # as the scheduler runs it
    await started.wait()
    assert await jobs.drain(0.2) == 1
    assert ended == ["cancelled"]  # over before the drain returned: the database may close now
    await asyncio.wait_for(scheduled, 5)  # the scheduler's run ends quietly, not with a CancelledError
    assert "1 job runs were still going after the grace period: cut off (" in caplog.text
    assert "backup" in caplog.text


async def test_a_job_run_within_the_grace_finishes(settings: Settings) -> None:
    jobs = jobs_of(settings)
    ended: list[str] = []

    async def poll() -> None:
        await asyncio.sleep(0.2)
        ended.append("done")

    scheduled = asyncio.create_task(jobs.tracked(poll)())
    await asyncio.sleep(0)
    assert await jobs.drain(10) == 0
    assert ended == ["done"] and not jobs._running
    await scheduled


async def test_a_failing_job_still_fails_for_the_scheduler(settings: Settings) -> None:
    jobs = jobs_of(settings)

    async def expire() -> None:
        raise RuntimeError("database locked")

    with pytest.raises(RuntimeError, match="database locked"):
        await jobs.tracked(expire)()
    assert not jobs._running
