"""The sweep: re-enqueue every piece of due work recorded in the database.

Timers live in the database (``next_action_at``) and are read on the injected clock; the queue
only executes. Because job ids are deterministic, sweeping often is harmless, and a flushed Redis
or a killed worker only delays work until the next sweep. A ``sending`` attempt is released when
the worker that claimed it has stopped heartbeating (delivery/jobs/liveness.py), read on the wall
clock, not the legal one. It also folds the reports' logged tally changes into their cells
(docs/decisions/0060), so a report adds up seconds of log, not months.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from delivery.context import Context
from delivery.domain import AttemptState
from delivery.jobs.liveness import STALE_AFTER, alive_workers, dead_workers
from delivery.methods import POLLERS
from delivery.services.certificates import unissued
from delivery.services.timestamps import due_timestamps, flag_overdue
from delivery.services.transactions import dispatch_transaction
from delivery.storage import timers
from delivery.storage.outcome_tallies import fold_changes
from delivery.storage.workers import forget_worker
from delivery.vocabulary import EventType

BATCH = 1000
# How long one sweep may keep paging through due work (wall clock; below the job's 60 s
# timeout): 100,000 due timers are re-enqueued in one sweep, page by page.
BUDGET_SECONDS = 45.0
# Enqueues of one page in flight at once: each is a few Redis round trips, so one at a time
# the sweep waited on the network (bench/sweep.py).
ENQUEUE_AT_ONCE = 50
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepReport:
    advanced: int
    sends: int
    deliveries: int
    rescued: int
    polled: int = 0  # polls of a provider enqueued (postal tracking: the webhook's fallback)
    certificates: int = 0  # served dispatches whose certificate was not issued yet
    timestamps: int = 0  # chain checkpoints whose RFC 3161 token is due to be asked for
    timestamps_flagged: int = 0  # checkpoints newly past the flag window without a token


async def sweep(ctx: Context) -> SweepReport:
    now = ctx.clock.now()
    rescued = await release_dead_workers_work(ctx)

    deadline = asyncio.get_running_loop().time() + BUDGET_SECONDS

    async def drain(
        fetch: timers.DueFetch, enqueue: Callable[[Sequence[Any]], Awaitable[None]]
    ) -> int:
        return await _drain(ctx, now, deadline, fetch, enqueue)

    advanced = await drain(timers.due_dispatches, lambda r: ctx.queue.advance(r[0], r[1]))
    sends = await drain(timers.due_sends, lambda r: ctx.queue.send(r[0], r[1], r[2]))
    deliveries = await drain(timers.due_deliveries, lambda r: ctx.queue.deliver_webhook(r[0], r[1]))
    polls = 0
    for poller in POLLERS.values():
        claimed = await poller.claim_due(ctx)
        for attempt_id, provider_ref in claimed:
            await ctx.queue.poll(poller.job, attempt_id, provider_ref, now)
        polls += len(claimed)
    missing = await unissued(ctx, BATCH)
    for dispatch_id, served_seq in missing:
        await ctx.queue.render_certificate(dispatch_id, served_seq)
    await fold_changes(ctx.engine)
    stamps = await due_timestamps(ctx, BATCH)
    for dispatch_id, checkpoint_seq, tries in stamps:
        await ctx.queue.timestamp_checkpoint(dispatch_id, checkpoint_seq, tries)
    return SweepReport(
        advanced,
        sends,
        deliveries,
        rescued,
        polls,
        len(missing),
        len(stamps),
        await flag_overdue(ctx, BATCH),
    )


async def _drain(
    ctx: Context,
    now: datetime,
    deadline: float,
    fetch: timers.DueFetch,
    enqueue: Callable[[Sequence[Any]], Awaitable[None]],
) -> int:
    """Enqueue every row ``fetch`` finds due, a page of ``BATCH`` at a time (each page a short
    read of its own, after the last row of the one before), until a page comes back short or
    the sweep's time is up; the next sweep goes on from the longest due. Job ids are
    deterministic, so a row enqueued twice runs once."""
    gate = asyncio.Semaphore(ENQUEUE_AT_ONCE)

    async def one(row: Sequence[Any]) -> None:
        async with gate:
            await enqueue(row)

    after = None
    count = 0
    while True:
        rows = await fetch(ctx.engine, now, BATCH, after)
        await asyncio.gather(*(one(row) for row in rows))
        count += len(rows)
        if len(rows) < BATCH or asyncio.get_running_loop().time() > deadline:
            return count
        after = timers.cursor_of(rows[-1])


DEAD_WORKER = "the worker sending it stopped; whether the provider accepted is unknown"
ABANDONED = (
    "the worker's send job ended without an outcome; whether the provider accepted is unknown"
)


async def release_dead_workers_work(ctx: Context) -> int:
    """Release the claims of workers that stopped heartbeating and let their jobs run again;
    how many claims were released. Run by the sweep and, every few seconds, by each worker's
    upkeep loop (which does not wait behind the queue's backlog as the sweep job does).

    Only a process whose own heartbeats have gone through for longer than the staleness
    window may call another worker dead: right after a database outage every heartbeat is
    stale, live workers' too.
    """
    if ctx.liveness is not None and not ctx.liveness.steady_for(STALE_AFTER):
        return 0
    stuck = await _dead_claims(ctx)
    for attempt_id, dispatch_id in stuck:
        await release_claim(ctx, dispatch_id, attempt_id, DEAD_WORKER)
    await _free_dead_workers_jobs(ctx)
    return len(stuck)


async def _free_dead_workers_jobs(ctx: Context) -> None:
    """The jobs a dead worker was running run again now (not after arq's job timeout)."""
    wall_now = ctx.wall_clock.now()
    async with ctx.engine.connect() as conn:
        dead = list((await conn.scalars(dead_workers(wall_now))).all())
        if not dead:
            return
        alive = list((await conn.scalars(alive_workers(wall_now))).all())
    freed = await ctx.queue.free_orphaned_jobs(alive, dead)
    for worker_id in dead:
        await forget_worker(ctx.engine, worker_id)
    log.warning(
        "worker(s) stopped heartbeating; their claims and jobs are released",
        extra={"workers": dead, "jobs": freed},
    )


async def _dead_claims(ctx: Context) -> list[tuple[str, str]]:
    """``sending`` attempts whose claiming worker has no heartbeat within the window."""
    alive = alive_workers(ctx.wall_clock.now())
    rows = await timers.claims_outside(ctx.engine, alive, BATCH)
    return [(attempt_id, dispatch_id) for attempt_id, dispatch_id in rows]


async def release_claim(ctx: Context, dispatch_id: str, attempt_id: str, reason: str) -> None:
    """A send whose outcome was never learnt: back to pending, due now, to be sent again (with
    the same Message-ID) — unless this process journalled its acceptance meanwhile."""
    if ctx.journal is not None and ctx.journal.holds(attempt_id) is not None:
        return
    async with dispatch_transaction(ctx.engine, ctx.clock, dispatch_id) as tx:
        attempt = await tx.attempt(attempt_id)
        if attempt is None or attempt.state != AttemptState.SENDING:
            return
        attempt.next_action_at = tx.now
        tx.change_attempt(
            attempt,
            AttemptState.PENDING,
            EventType.ATTEMPT_SEND_INTERRUPTED,
            source="worker",
            reason=reason,
        )
    # A job id of its own (the try number): the killed job's id may stay "in progress" in arq
    # for its timeout + 10 s, and the send must not wait for that.
    await ctx.queue.send(dispatch_id, attempt_id, attempt.tries)
