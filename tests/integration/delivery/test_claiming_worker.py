"""The send and render workers pick up jobs in one Redis script per batch of free slots
(delivery/jobs/claiming_worker.py, docs/decisions/0061): still at most ``max_jobs`` at a time,
every job once, never one that another worker holds or one not yet due, and never a question to
Redis about a job the worker is running itself."""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
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


@pytest.fixture
async def queue(ctx: Context) -> AsyncIterator[str]:
    """A queue of the test's own; its jobs' ids start with its name, and all goes after."""
    name = f"songda-test-claiming-{secrets.token_hex(4)}"
    yield name
    pool = ctx.queue.pool
    keys = [key async for key in pool.scan_iter(match=f"arq:*{name}*")]
    await pool.delete(name, *keys)


async def enqueue(ctx: Context, queue: str, *names: str, defer_by: int | None = None) -> None:
    """Jobs of ``hold`` on ``queue``, each with its name as its argument and its job id."""
    for name in names:
        await ctx.queue.pool.enqueue_job(
            "hold", name, _job_id=name, _queue_name=queue, _defer_by=defer_by
        )


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


def watch_claims(worker: ClaimingWorker) -> list[str]:
    """The job ids the worker's claims ask Redis about, as they are asked."""
    asked_about: list[str] = []
    claim = worker._claim

    async def watched_claim(job_ids: list[str], limit: int) -> Any:
        asked_about.extend(job_ids)
        return await claim(job_ids, limit)

    worker._claim = watched_claim  # type: ignore[method-assign]
    return asked_about


async def test_jobs_start_as_slots_free_each_once_and_none_held_elsewhere(
    ctx: Context, queue: str
) -> None:
    pool = ctx.queue.pool
    recorder = Recorder()
    names = [f"{queue}:{i:02d}" for i in range(12)]
    await enqueue(ctx, queue, *names)
    # Another worker holds one; another is due only later.
    held, later = f"{queue}:held", f"{queue}:later"
    await pool.psetex(in_progress_key_prefix + held, 60_000, b"1")
    await enqueue(ctx, queue, held)
    await enqueue(ctx, queue, later, defer_by=3600)

    worker = claiming_worker(ctx, queue, recorder)
    asked_about = watch_claims(worker)
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
        assert held in asked_about  # asked, and refused: another worker holds it
        assert later not in asked_about  # not listed before it is due
        assert sorted(m.decode() for m in await pool.zrange(queue, 0, -1)) == [held, later]
    finally:
        await stop_workers([worker], [task])


async def test_two_workers_on_one_queue_run_each_job_once(ctx: Context, queue: str) -> None:
    pool = ctx.queue.pool
    recorder = Recorder()
    recorder.release.set()
    names = [f"{queue}:{i:03d}" for i in range(200)]
    await enqueue(ctx, queue, *names)
    # Both list the same jobs at once and race to start them.
    workers = [claiming_worker(ctx, queue, recorder) for _ in range(2)]
    tasks = [asyncio.create_task(w.async_run()) for w in workers]
    try:

        async def all_ran() -> bool:
            return sum(recorder.ended.values()) == len(names)

        await eventually(all_ran)
        assert recorder.started == Counter({name: 1 for name in names})

        async def queue_empty() -> bool:  # arq takes a job off its queue as the job ends
            return await pool.zcard(queue) == 0

        await eventually(queue_empty)
        assert all(w.jobs_complete > 0 for w in workers)  # both took part
    finally:
        await stop_workers(workers, tasks)


async def test_the_script_starts_only_a_queued_due_job_held_nowhere(
    ctx: Context, queue: str
) -> None:
    pool = ctx.queue.pool
    worker = claiming_worker(ctx, queue, Recorder())
    due, later, gone = f"{queue}:due", f"{queue}:later", f"{queue}:gone"
    await enqueue(ctx, queue, later, defer_by=3600)
    await enqueue(ctx, queue, due)
    assert await worker._claim([later, gone], 1) == (2, [])  # not due; not queued
    assert await pool.exists(in_progress_key_prefix + later) == 0
    looked, started = await worker._claim([due, later], 1)
    assert (looked, [job_id for job_id, _score in started]) == (1, [due])
    assert started[0][1] == int(await pool.zscore(queue, due))
    assert await pool.pttl(in_progress_key_prefix + due) > 0
    assert await worker._claim([due], 1) == (1, [])  # in progress now: not again


async def test_a_failed_claim_gives_its_slots_back(ctx: Context, queue: str) -> None:
    recorder = Recorder()
    recorder.release.set()
    worker = claiming_worker(ctx, queue, recorder)
    names = [f"{queue}:{i:02d}" for i in range(8)]
    await enqueue(ctx, queue, *names)
    claim = worker._claim
    failures = 0

    async def failing_twice(job_ids: list[str], limit: int) -> Any:
        nonlocal failures
        if failures < 2:
            failures += 1
            raise ConnectionError("Redis went away")
        return await claim(job_ids, limit)

    worker._claim = failing_twice  # type: ignore[method-assign]
    slots = worker.sem._value
    for _ in range(2):
        with pytest.raises(ConnectionError):
            await worker.start_jobs([n.encode() for n in names])
        assert (worker.sem._value, worker.job_counter) == (slots, 0)
    task = asyncio.create_task(worker.async_run())
    try:

        async def all_ran() -> bool:
            return sum(recorder.ended.values()) == len(names)

        await eventually(all_ran)
        assert recorder.most_at_once <= MAX_JOBS
    finally:
        await stop_workers([worker], [task])


async def test_a_job_running_here_is_never_asked_about_again(ctx: Context, queue: str) -> None:
    recorder = Recorder()
    worker = claiming_worker(ctx, queue, recorder)
    asked_about = watch_claims(worker)
    long = f"{queue}:long"
    await enqueue(ctx, queue, long)
    task = asyncio.create_task(worker.async_run())
    try:

        async def started() -> bool:
            return recorder.started[long] == 1

        await eventually(started)
        # Free slots: the worker polls every 10 ms and lists the running job each time.
        await asyncio.sleep(0.3)
        assert asked_about == [long]  # once, to start it
        recorder.release.set()
    finally:
        await stop_workers([worker], [task])
