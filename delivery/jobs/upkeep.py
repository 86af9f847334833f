"""A worker's upkeep loop: heartbeat, replay of journalled acceptances, abandoned claims.

Started from the worker's start-up hook. Every :data:`~delivery.jobs.liveness.HEARTBEAT_EVERY` it
writes its heartbeat, records any acceptance still only in the journal (start-up: those left by
a killed process), releases claims of its own that no job is sending any more (a send job that
ended — timed out, cancelled, or failed on the database — without an outcome), and releases the
claims and jobs of workers that stopped heartbeating (as the sweep does, but not queued behind
the backlog). While the database is down it retries sooner, backing off to the heartbeat
period, and says so once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from delivery.context import Context
from delivery.infra.outages import DATABASE, outage_of
from delivery.jobs.acceptance_journal import AcceptanceJournal
from delivery.jobs.liveness import HEARTBEAT_EVERY, WorkerLiveness
from delivery.services.sending import replay_acceptances
from delivery.services.sweep import ABANDONED, release_claim, release_dead_workers_work
from delivery.storage.workers import claims_of

log = logging.getLogger(__name__)
FIRST_RETRY_SECONDS = 0.5


class Upkeep:
    """The running loop of one worker process; :meth:`stop` ends it and removes the worker."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.liveness = WorkerLiveness(ctx.engine, ctx.wall_clock)
        ctx.liveness = self.liveness
        ctx.journal = AcceptanceJournal(ctx.settings.data_dir, self.liveness.worker_id)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Load the journal and try one round now (start-up replay), then loop."""
        assert self.ctx.journal is not None
        left = self.ctx.journal.load()
        if left:
            log.warning("acceptances found in the journal, recording them", extra={"n": len(left)})
        await self.round()
        self._task = asyncio.create_task(self._loop())

    async def round(self) -> bool:
        """One heartbeat + replay + orphan release; False when the database was unreachable."""
        try:
            await self.liveness.beat()
            replayed = await replay_acceptances(self.ctx)
            if replayed:
                log.info("journalled acceptances recorded", extra={"n": replayed})
            await self._release_orphans()
            await release_dead_workers_work(self.ctx)
        except Exception as exc:
            if outage_of(exc) is None:
                raise
            self.liveness.missed()
            self.ctx.outages.down(DATABASE, exc)
            return False
        self.ctx.outages.up(DATABASE)
        return True

    async def _release_orphans(self) -> None:
        own = self.liveness
        for attempt_id, dispatch_id in await claims_of(self.ctx.engine, own.worker_id):
            if attempt_id not in own.in_flight:
                await release_claim(self.ctx, dispatch_id, attempt_id, ABANDONED)

    async def _loop(self) -> None:
        failures = 0
        while True:
            await asyncio.sleep(pause(failures))
            try:
                healthy = await self.round()
            except Exception:
                log.exception("worker upkeep failed; trying again")
                healthy = False
            failures = 0 if healthy else failures + 1

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            await self.liveness.stop()
        if self.ctx.journal is not None:
            self.ctx.journal.close()


def pause(failures: int) -> float:
    """The heartbeat period; after failed rounds 0.5 s, 1 s, 2 s, … up to that period."""
    period = HEARTBEAT_EVERY.total_seconds()
    if failures == 0:
        return period
    return float(min(period, FIRST_RETRY_SECONDS * 2 ** min(failures - 1, 8)))
