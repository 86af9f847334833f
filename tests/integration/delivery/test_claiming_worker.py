"""The send and render workers pick up jobs in one Redis script per batch of free slots
(delivery/jobs/claiming_worker.py, docs/decisions/0061): still at most ``max_jobs`` at a time,
every job once, never one that another worker holds or one not yet due, and never a question to
Redis about a job the worker is running itself."""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from typing import Any

from arq.constants import in_progress_key_prefix
from arq.worker import func
from conftest import eventually

from delivery.context import Context
from delivery.jobs.claiming_worker import ClaimingWorker
from delivery.jobs.worker import stop_workers

MAX_JOBS = 5


class Recorder:
    """A job function's view from outside: who started, who ended, how many at once."""

    def __init__(self) -> None:
        self.started: Counter[str] = Counter()
        self.ended: Counter[str] = Counter()
        self.running = 0
        self.most_at_once = 0
        self.release = asyncio.Event()

    async def hold(self, _job: dict[str, Any], name: str) -> None:
        self.started[name] += 1
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            await self.release.wait()
        finally:
            self.running -= 1
            self.ended[name] += 1


def claiming_worker(ctx: Context, queue: str, recorder: Recorder) -> ClaimingWorker:
    return ClaimingWorker(
        functions=[func(recorder.hold, name="hold", keep_result=0)],
        redis_pool=ctx.queue.pool,
        queue_name=queue,
        max_jobs=MAX_JOBS,
        poll_delay=0.01,
        keep_result=0,
        handle_signals=False,
    )


async def test_jobs_start_as_slots_free_each_once_and_none_held_elsewhere(ctx: Context) -> None:
    pool = ctx.queue.pool
    queue = f"songda-test-claiming-{secrets.token_hex(4)}"
    recorder = Recorder()
    names = [f"job-{i:02d}" for i in range(12)]
    for name in names:
        await pool.enqueue_job("hold", name, _job_id=name, _queue_name=queue)
    # Another worker holds one; another is due only later.
    await pool.psetex(in_progress_key_prefix + "held", 60_000, b"1")
    await pool.enqueue_job("hold", "held", _job_id="held", _queue_name=queue)
    await pool.enqueue_job("hold", "later", _job_id="later", _queue_name=queue, _defer_by=3600)

    worker = claiming_worker(ctx, queue, recorder)
    asked_about: list[str] = []
    running_when_asked: list[str] = []
    claim = worker._claim

    async def watched_claim(job_ids: list[str], limit: int) -> Any:
        asked_about.extend(job_ids)
        running_when_asked.extend(j for j in job_ids if worker._running_here(j))
        return await claim(job_ids, limit)

    worker._claim = watched_claim  # type: ignore[method-assign]
    task = asyncio.create_task(worker.async_run())
    try:

        async def slots_full() -> bool:
            return sum(recorder.started.values()) == MAX_JOBS

        await eventually(slots_full)
        await asyncio.sleep(0.2)  # several polls while every slot is taken
        assert sum(recorder.started.values()) == MAX_JOBS
        recorder.release.set()

        async def all_ran() -> bool:
            return sum(recorder.ended.values()) == len(names)

        await eventually(all_ran)
        await asyncio.sleep(0.2)  # more polls: nothing else may start
        assert recorder.started == Counter({name: 1 for name in names})
        assert recorder.ended == recorder.started
        assert recorder.most_at_once == MAX_JOBS
        assert running_when_asked == []  # its own running jobs were passed over, unasked
        assert "held" in asked_about  # asked, and refused: another worker holds it
        assert "later" not in asked_about  # not listed before it is due
        assert sorted(m.decode() for m in await pool.zrange(queue, 0, -1)) == ["held", "later"]
    finally:
        await stop_workers([worker], [task])
        await pool.delete(queue, in_progress_key_prefix + "held")
        await pool.delete(*(f"arq:job:{j}" for j in ("held", "later")))


async def test_two_workers_on_one_queue_run_each_job_once(ctx: Context) -> None:
    pool = ctx.queue.pool
    queue = f"songda-test-claiming-{secrets.token_hex(4)}"
    recorder = Recorder()
    recorder.release.set()
    names = [f"job-{i:03d}" for i in range(200)]
    for name in names:
        await pool.enqueue_job("hold", name, _job_id=name, _queue_name=queue)
    # Both list the same jobs at once and race to start them.
    workers = [claiming_worker(ctx, queue, recorder) for _ in range(2)]
    tasks = [asyncio.create_task(w.async_run()) for w in workers]
    try:

        async def all_ran() -> bool:
            return sum(recorder.ended.values()) == len(names)

        await eventually(all_ran)
        assert recorder.started == Counter({name: 1 for name in names})
        assert all(w.jobs_complete > 0 for w in workers)  # both took part
        assert await pool.zcard(queue) == 0
    finally:
        await stop_workers(workers, tasks)
        await pool.delete(queue)
