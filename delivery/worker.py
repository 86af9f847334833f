"""The arq workers: thin job functions that call the services, plus the periodic sweep.

One arq ``Worker`` per queue kind (``delivery.queue.QueueKind``), each with its own job bound
and timeout: the send path may run many short jobs at once, rendering only as many as there are
renderers to feed, so certificates waiting never hold a slot a send needs. arq re-runs a killed
job only after the longest ``job_timeout`` of its worker's functions (+ 10 s): the send worker's
short timeout keeps that delay short for sends (docs/decisions/0025).
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
from delivery.pdf_rendering import MAX_RENDERS
from delivery.queue import QueueKind
from delivery.services import (
    certificates,
    postal,
    progress,
    sending,
    sweep,
    timestamps,
    webhook_delivery,
)

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
    await webhook_delivery.deliver_webhook(job["songda"], job["http"], delivery_id)


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
    job["http"] = aiohttp.ClientSession(timeout=webhook_delivery.TIMEOUT)


async def _shutdown(job: dict[str, Any]) -> None:
    http = job.pop("http", None)  # None: stopped before its start-up ran
    if http is not None:
        await http.close()


SWEEP_SECONDS = {0, 30}
STOP_SECONDS = 1.0


# arq takes at most ``max_jobs`` new jobs per poll and then sleeps ``poll_delay``: with its default
# of 0.5 s that capped the worker at 100 jobs/s. An idle poll is one cheap Redis command.
POLL_DELAY = 0.05


def _functions(kind: QueueKind) -> list[Function]:
    if kind is QueueKind.RENDER:
        return _timed((render_certificate, timestamp_checkpoint), RENDER_JOB_TIMEOUT)
    return _timed((advance, send, deliver_webhook, poll_tracking), SEND_JOB_TIMEOUT)


def _timed(jobs: Iterable[Callable[..., Awaitable[None]]], timeout: int) -> list[Function]:
    return [func(cast(WorkerCoroutine, job), keep_result=0, timeout=timeout) for job in jobs]


def build_worker(
    ctx: Context,
    kind: QueueKind = QueueKind.SEND,
    *,
    poll_delay: float = POLL_DELAY,
    periodic_sweep: bool = True,
) -> Worker:
    """A worker for ``kind``'s queue bound to ``ctx`` (its Redis pool, its database, its clock).

    The send worker also runs the sweep, which enqueues every kind on its own queue;
    ``periodic_sweep=False`` leaves sweeping to the caller: tests that move a manual clock
    sweep exactly when they mean to.
    """
    sweeps = [
        cron(
            cast(WorkerCoroutine, sweep_job),
            second=SWEEP_SECONDS,
            run_at_startup=True,
            keep_result=0,
            timeout=SEND_JOB_TIMEOUT,
        )
    ]
    sending_kind = kind is QueueKind.SEND
    return Worker(
        functions=_functions(kind),
        cron_jobs=sweeps if periodic_sweep and sending_kind else [],
        redis_pool=ctx.queue.pool,
        queue_name=ctx.queue.name_of(kind),
        ctx={"songda": ctx},
        on_startup=cast(StartupShutdown, _startup),
        on_shutdown=cast(StartupShutdown, _shutdown),
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
    """One worker per kind (default: every kind, as ``songda run`` and ``songda worker`` run)."""
    return [
        build_worker(ctx, kind, poll_delay=poll_delay, periodic_sweep=periodic_sweep)
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
