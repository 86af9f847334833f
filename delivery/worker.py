"""The arq worker: thin job functions that call the services, plus the periodic sweep.

Every job ends quietly when PostgreSQL or Redis is unreachable (delivery/worker_resilience.py);
the start-up hook starts the worker's heartbeat and acceptance-journal loop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast

import aiohttp
from arq import cron
from arq.typing import StartupShutdown, WorkerCoroutine
from arq.worker import Function, Worker, func

from delivery.context import Context
from delivery.services import (
    certificates,
    postal,
    progress,
    sending,
    sweep,
    timestamps,
    webhook_delivery,
)
from delivery.worker_resilience import (
    job_ended,
    job_started,
    outage_tolerant,
    start_upkeep,
    stop_upkeep,
)

JOB_TIMEOUT = 120


async def advance(job: dict[str, Any], dispatch_id: str) -> None:
    await progress.advance(job["songda"], dispatch_id)


async def send(job: dict[str, Any], dispatch_id: str, attempt_id: str) -> None:
    await sending.send(job["songda"], dispatch_id, attempt_id)


async def deliver_webhook(job: dict[str, Any], delivery_id: str) -> None:
    await webhook_delivery.deliver_webhook(job["songda"], job["webhooks"], delivery_id)


async def poll_tracking(job: dict[str, Any], attempt_id: str, tracking_number: str) -> None:
    await postal.poll_piece(job["songda"], attempt_id, tracking_number)


async def render_certificate(job: dict[str, Any], dispatch_id: str) -> None:
    await certificates.issue_certificates(job["songda"], dispatch_id)


async def timestamp_checkpoint(job: dict[str, Any], dispatch_id: str, checkpoint_seq: str) -> None:
    await timestamps.timestamp_checkpoint(
        job["songda"], job["http"], dispatch_id, int(checkpoint_seq)
    )


async def sweep_job(job: dict[str, Any]) -> None:
    await sweep.sweep(job["songda"])


async def _startup(job: dict[str, Any]) -> None:
    if "http" not in job:  # arq runs the hook again when its loop restarts after a Redis outage
        job["http"] = aiohttp.ClientSession(timeout=webhook_delivery.TIMEOUT)
        job["webhooks"] = webhook_delivery.webhook_client(job["songda"])
    await start_upkeep(job)


async def _shutdown(job: dict[str, Any]) -> None:
    await stop_upkeep(job)
    await job.pop("http").close()
    await job.pop("webhooks").close()


# Every 10 s: a dead worker's claims are released within a minute (docs/decisions/0024).
SWEEP_SECONDS = {0, 10, 20, 30, 40, 50}


# arq takes at most ``max_jobs`` new jobs per poll and then sleeps ``poll_delay``: with its default
# of 0.5 s that capped the worker at 100 jobs/s. An idle poll is one cheap Redis command.
POLL_DELAY = 0.05


def _job(coroutine: Callable[..., Awaitable[None]]) -> Function:
    return func(
        cast(WorkerCoroutine, outage_tolerant(coroutine)), keep_result=0, timeout=JOB_TIMEOUT
    )


def build_worker(
    ctx: Context, *, poll_delay: float = POLL_DELAY, periodic_sweep: bool = True
) -> Worker:
    """A worker bound to ``ctx`` (its queue's Redis pool, its database, its clock).

    ``periodic_sweep=False`` leaves sweeping to the caller: tests that move a manual clock
    sweep exactly when they mean to.
    """
    sweeps = [
        cron(
            cast(WorkerCoroutine, outage_tolerant(sweep_job)),
            second=SWEEP_SECONDS,
            run_at_startup=True,
            keep_result=0,
            timeout=JOB_TIMEOUT,
        )
    ]
    return Worker(
        functions=[
            _job(advance),
            _job(send),
            _job(deliver_webhook),
            _job(poll_tracking),
            _job(render_certificate),
            _job(timestamp_checkpoint),
        ],
        cron_jobs=sweeps if periodic_sweep else [],
        redis_pool=ctx.queue.pool,
        queue_name=ctx.queue.queue_name,
        ctx={"songda": ctx},
        on_startup=cast(StartupShutdown, _startup),
        on_shutdown=cast(StartupShutdown, _shutdown),
        on_job_start=cast(StartupShutdown, job_started),
        after_job_end=cast(StartupShutdown, job_ended),
        handle_signals=False,
        max_jobs=ctx.settings.worker_concurrency,
        poll_delay=poll_delay,
        keep_result=0,
    )
