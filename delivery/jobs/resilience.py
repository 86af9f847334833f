"""Keeping a worker process up through PostgreSQL and Redis outages.

- :func:`outage_tolerant` wraps a job: a job that fails because a dependency is unreachable ends
  without a stack trace (one log line per outage, :class:`~delivery.infra.outages.Outages`); its
  work is still due in the database and the sweep enqueues it again.
- :func:`run_until_stopped` runs arq's poll loop and, when it dies because Redis went away, starts
  it again with backoff once Redis answers — arq itself would leave the process up but idle.
- :func:`start_upkeep`/:func:`stop_upkeep` are the start-up and shutdown hooks' part: the
  heartbeat and acceptance-journal loop (delivery/jobs/upkeep.py); :func:`job_started` and
  :func:`job_ended` note each job under the worker's id, so that when the worker dies the sweep
  frees its jobs at once instead of arq holding them for the longest job timeout + 10 s.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from arq.worker import Worker
from redis.exceptions import RedisError

from delivery.context import Context
from delivery.infra.outages import QUEUE, outage_of
from delivery.jobs.upkeep import Upkeep

log = logging.getLogger(__name__)
UPKEEP = "upkeep"
MAX_BACKOFF_SECONDS = 5.0

Job = Callable[..., Awaitable[None]]


def outage_tolerant(job: Job) -> Job:
    """``job``, ending quietly (logged once per outage) when a dependency is unreachable."""

    @functools.wraps(job)
    async def run(ctx: dict[str, Any], *args: Any) -> None:
        try:
            await job(ctx, *args)
        except Exception as exc:
            dependency = outage_of(exc)
            if dependency is None:
                raise
            ctx["songda"].outages.down(dependency, exc)

    return run


async def start_upkeep(job_ctx: dict[str, Any]) -> None:
    """Once per process (arq calls the start-up hook again after a Redis outage)."""
    if UPKEEP not in job_ctx:
        upkeep = Upkeep(job_ctx["songda"])
        job_ctx[UPKEEP] = upkeep
        await upkeep.start()


async def stop_upkeep(job_ctx: dict[str, Any]) -> None:
    upkeep = job_ctx.pop(UPKEEP, None)
    if upkeep is not None:
        await upkeep.stop()


async def job_started(job_ctx: dict[str, Any]) -> None:
    """Note the job under this worker's id (freed at once by a sweep if this worker dies)."""
    await _note(job_ctx, started=True)


async def job_ended(job_ctx: dict[str, Any]) -> None:
    await _note(job_ctx, started=False)


async def _note(job_ctx: dict[str, Any], *, started: bool) -> None:
    ctx: Context = job_ctx["songda"]
    if ctx.liveness is None:
        return
    note = ctx.queue.job_started if started else ctx.queue.job_ended
    try:
        await note(ctx.liveness.worker_id, job_ctx["job_id"])
    except Exception as exc:
        if outage_of(exc) is None:
            raise
        # Best effort: the poll loop notices (and logs) the outage; after it the sweep frees
        # whatever this note would have covered.


async def run_until_stopped(worker: Worker, ctx: Context) -> None:
    """arq's loop, restarted whenever it ends on an error (it stops on the first Redis error):
    a worker process that stays up but polls nothing would stall every court's work."""
    failures = 0
    while True:
        try:
            await worker.async_run()
            return
        except Exception as exc:
            if isinstance(exc, RedisError | OSError):
                ctx.outages.down(QUEUE, exc)
            else:
                log.exception("the worker's poll loop failed; starting it again")
            # Drop every pooled connection: each would fail once more after Redis is back.
            await ctx.queue.pool.connection_pool.disconnect()
            _forget_failed_jobs(worker)
        failures += 1
        await asyncio.sleep(min(MAX_BACKOFF_SECONDS, 0.25 * 2**failures))
        try:
            await ctx.queue.ping()
        except (RedisError, OSError):
            continue
        failures = 0
        ctx.outages.up(QUEUE)


def _forget_failed_jobs(worker: Worker) -> None:
    """Jobs that ended during the outage (arq could not record their end) are dropped here:
    arq's loop re-raises each such job's error when it next tidies up, which would end the
    restarted loop once per job. Their work is still due in the database."""
    for job_id, task in list(worker.tasks.items()):
        if task.done():
            del worker.tasks[job_id]
            if not task.cancelled():
                task.exception()
