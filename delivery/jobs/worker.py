"""The arq workers: thin job functions that call the services, plus the periodic sweep.

One arq ``Worker`` per queue kind (``delivery.jobs.job_queue.QueueKind``), each with its own job
bound and timeout: the send path may run many short jobs at once, rendering only as many as there
are renderers to feed, so certificates waiting never hold a slot a send needs. arq re-runs a killed
job only after the longest ``job_timeout`` of its worker's functions (+ 10 s): the send worker's
short timeout keeps that delay short for sends (docs/decisions/0025).

Every job ends quietly when PostgreSQL or Redis is unreachable (delivery/jobs/resilience.py);
the start-up hook starts the process's heartbeat and acceptance-journal loop, once for all its
workers, which share one job context (docs/decisions/0024).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, cast

import aiohttp
from arq import cron
from arq.typing import StartupShutdown, WorkerCoroutine
from arq.worker import Function, Worker, func

from delivery.context import Context
from delivery.infra.pdf_rendering import MAX_RENDERS
from delivery.jobs.claiming_worker import ClaimingWorker
from delivery.jobs.job_queue import QueueKind
from delivery.jobs.resilience import (
    job_ended,
    job_started,
    outage_tolerant,
    start_upkeep,
    stop_upkeep,
)
from delivery.methods import POLLERS, Poller
from delivery.services import certificates, progress, sending, sweep, timestamps, webhook_delivery

# Sends, webhooks and polls each carry their own network timeouts (SMTP 30 s, webhooks 15 s).
SEND_JOB_TIMEOUT = 60
# A certificate: the render, the signature and a TSA that may take up to its 60 s timeout.
RENDER_JOB_TIMEOUT = 180
# A render job also spends time off the renderers (database, TSA): twice their number keeps
# them busy while the rest of a backlog waits in Redis, holding nothing.
RENDER_JOBS = 2 * MAX_RENDERS


async def advance(job: dict[str, Any], dispatch_id: str) -> None:
    await progress.advance(job["songda"], dispatch_id)


async def send(job: dict[str, Any], dispatch_id: str, attempt_id: str) -> None:
    await sending.send(job["songda"], dispatch_id, attempt_id)


async def deliver_webhook(job: dict[str, Any], delivery_id: str) -> None:
    await webhook_delivery.deliver_webhook(job["songda"], job["webhooks"], delivery_id)


def poll_job(poller: Poller) -> Callable[..., Awaitable[None]]:
    """The job that runs one of ``poller``'s polls, under the job name the poller gives."""

    async def poll(job: dict[str, Any], attempt_id: str, provider_ref: str) -> None:
        await poller.poll(job["songda"], attempt_id, provider_ref)

    poll.__name__ = poll.__qualname__ = poller.job  # arq's name for it: what the queue holds
    return poll


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
    for client in ("http", "webhooks"):
        session = job.pop(client, None)  # None: stopped before its start-up ran, or closed
        if session is not None:
            await session.close()


# Every 10 s: a dead worker's claims are released within a minute (docs/decisions/0024).
SWEEP_SECONDS = {0, 10, 20, 30, 40, 50}
STOP_SECONDS = 1.0


# arq takes at most ``max_jobs`` new jobs per poll and then sleeps ``poll_delay``: with its default
# of 0.5 s that capped the worker at 100 jobs/s. An idle poll is one cheap Redis command.
POLL_DELAY = 0.05


def _functions(kind: QueueKind) -> list[Function]:
    if kind is QueueKind.RENDER:
        return _timed((render_certificate, timestamp_checkpoint), RENDER_JOB_TIMEOUT)
    polls = [poll_job(poller) for poller in POLLERS.values()]
    return _timed((advance, send, deliver_webhook, *polls), SEND_JOB_TIMEOUT)


def _timed(jobs: Iterable[Callable[..., Awaitable[None]]], timeout: int) -> list[Function]:
    return [
        func(cast(WorkerCoroutine, outage_tolerant(job)), keep_result=0, timeout=timeout)
        for job in jobs
    ]


def build_worker(
    ctx: Context,
    kind: QueueKind = QueueKind.SEND,
    *,
    poll_delay: float = POLL_DELAY,
    periodic_sweep: bool = True,
    job_ctx: dict[str, Any] | None = None,
) -> Worker:
    """A worker for ``kind``'s queue bound to ``ctx`` (its Redis pool, its database, its clock).

    The send worker also runs the sweep, which enqueues every kind on its own queue;
    ``periodic_sweep=False`` leaves sweeping to the caller: tests that move a manual clock
    sweep exactly when they mean to. ``job_ctx``: the job context shared with the process's
    other workers (one set of HTTP clients, one heartbeat).
    """
    sweeps = [
        cron(
            cast(WorkerCoroutine, outage_tolerant(sweep_job)),
            second=SWEEP_SECONDS,
            run_at_startup=True,
            keep_result=0,
            timeout=SEND_JOB_TIMEOUT,
        )
    ]
    sending_kind = kind is QueueKind.SEND
    return ClaimingWorker(
        functions=_functions(kind),
        cron_jobs=sweeps if periodic_sweep and sending_kind else [],
        redis_pool=ctx.queue.pool,
        queue_name=ctx.queue.name_of(kind),
        ctx=job_ctx if job_ctx is not None else {"songda": ctx},
        on_startup=cast(StartupShutdown, _startup),
        on_shutdown=cast(StartupShutdown, _shutdown),
        on_job_start=cast(StartupShutdown, job_started),
        after_job_end=cast(StartupShutdown, job_ended),
        handle_signals=False,
        max_jobs=ctx.settings.worker_concurrency if sending_kind else RENDER_JOBS,
        poll_delay=poll_delay,
        keep_result=0,
    )


def build_workers(
    ctx: Context,
    kinds: Iterable[QueueKind] = tuple(QueueKind),
    *,
    poll_delay: float = POLL_DELAY,
    periodic_sweep: bool = True,
) -> list[Worker]:
    """One worker per kind (default: every kind, as ``songda run`` and ``songda worker`` run),
    sharing one job context: the start-up hook runs once for all of them."""
    job_ctx: dict[str, Any] = {"songda": ctx}
    return [
        build_worker(
            ctx, kind, poll_delay=poll_delay, periodic_sweep=periodic_sweep, job_ctx=job_ctx
        )
        for kind in kinds
    ]


async def stop_workers(workers: list[Worker], tasks: list[asyncio.Task[None]]) -> None:
    """Stop the workers (``tasks`` run their ``async_run``) and wait for them to end.

    Every worker stops polling before any closes: they share the context's Redis pool, which
    ``Worker.close`` disconnects. A worker stopped before it started (a signal during start-up)
    or with jobs still running (cancelled, as arq does on a signal; the sweep runs them again)
    still closes, so shutdown always reaches the private Redis and the render pool.
    """
    for arq_worker in workers:
        arq_worker.handle_sig(signal.SIGUSR1)
    running = set(tasks)
    while running:
        # Again until they end: a cancellation that lands while a Redis command's own timeout
        # expires can be taken for that timeout (asyncio.timeout in 3.11), and the poll loop
        # would go on for ever.
        for task in running:
            task.cancel()
        _done, running = await asyncio.wait(running, timeout=STOP_SECONDS)
    for arq_worker in workers:
        with contextlib.suppress(asyncio.CancelledError):
            await arq_worker.close()
