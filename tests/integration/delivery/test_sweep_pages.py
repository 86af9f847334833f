"""A sweep that keeps up (issue 16, item 5): due work is read a page at a time, each page a
short read of its own after the last row of the one before, until none is left, so a backlog
of any size is put back on the queue by one sweep. Rows due at the same instant (the manual
clock gives them all one) are neither skipped nor read twice."""

from __future__ import annotations

import pytest
from api_client import Api

from delivery.services import sweep as sweeping


async def test_one_sweep_puts_back_every_page_of_a_flushed_queue(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = [await api.new_dispatch(reference=f"backlog-{n}") for n in range(7)]
    attempts = {d["attempts"][0]["id"] for d in created}
    pool = api.ctx.queue.pool
    jobs = [
        key async for key in pool.scan_iter(match="arq:job:send:*") if _attempt(key) in attempts
    ]
    assert len(jobs) == 7, "each attempt's send job should have been queued"
    await pool.delete(*api.ctx.queue.queue_names, *jobs)  # the queue is lost
    monkeypatch.setattr(sweeping, "BATCH", 3)

    report = await sweeping.sweep(api.ctx)

    assert report.sends == 7
    queued = {_attempt(key) async for key in pool.scan_iter(match="arq:job:send:*")}
    assert queued >= attempts


def _attempt(job_key: bytes) -> str:
    """The attempt of an ``arq:job:send:<attempt>:<tries>`` key."""
    return job_key.decode().split(":")[3]
