"""A sweep that keeps up (issue 16, item 5): how long one sweep takes to put N due timers back
on the queue.

Run: ``.venv/bin/python bench/sweep.py [--n 100000] [--keep] [--database NAME]``.

Seeds N dispatches on a fresh PostgreSQL database (``bench/workspace_seed.py``), makes every
one open and due (``next_action_at`` an hour ago: a backlog after an outage), then runs one
``delivery.services.sweep.sweep`` against the local Redis under a queue of its own. Printed: the
due dispatches, how many the sweep enqueued, its seconds and rate, and in the same run the time
of one page (``BATCH`` rows) — the sweep before issue 16 enqueued one page per 10 s tick, so it
needed ⌈due ÷ BATCH⌉ ticks. Target: all due work re-enqueued within 60 s, each page a short read.

Needs PostgreSQL (``SONGDA_BENCH_PG_URL``, an admin URL) and Redis (``SONGDA_BENCH_REDIS_URL``).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import tempfile
import time
from datetime import timedelta

import sqlalchemy as sa
from workspace import bench_context, database, seed_database

from delivery.domain import DispatchState
from delivery.runtime import close_context
from delivery.services import sweep as sweeping
from delivery.storage import timers
from delivery.storage.schema import dispatches

TARGET_SECONDS = 60.0
TICK_SECONDS = 10  # the sweep's cron before and after (delivery/jobs/worker.py SWEEP_SECONDS)


async def main(args: argparse.Namespace) -> int:
    async with database(args) as url:
        if not args.database:
            await seed_database(url, args.n)
        with tempfile.TemporaryDirectory(prefix="songda-sweep-bench-") as tmp:
            ctx = await bench_context(tmp, url)
            try:
                now = ctx.clock.now()
                async with ctx.engine.begin() as conn:
                    due = (
                        await conn.execute(
                            dispatches.update().values(
                                state=DispatchState.IN_PROGRESS.value,
                                next_action_at=now - timedelta(hours=1),
                            )
                        )
                    ).rowcount
                started = time.perf_counter()
                await timers.due_dispatches(ctx.engine, ctx.clock.now(), sweeping.BATCH)
                page = time.perf_counter() - started
                started = time.perf_counter()
                report = await sweeping.sweep(ctx)
                seconds = time.perf_counter() - started
                async with ctx.engine.connect() as conn:
                    still_due = await conn.scalar(
                        sa.select(sa.func.count()).where(dispatches.c.next_action_at <= now)
                    )
            finally:
                await ctx.queue.pool.delete(*ctx.queue.queue_names)
                await close_context(ctx)
    ticks = math.ceil(due / sweeping.BATCH)
    print(f"\ndue dispatches           {due:>10,}")
    print(f"enqueued by one sweep    {report.advanced:>10,}  (due in the database: {still_due:,})")
    print(f"one sweep                {seconds:>10.1f} s  ({report.advanced / seconds:,.0f}/s)")
    print(f"one page of {sweeping.BATCH:,} (read)   {page * 1000:>7.1f} ms")
    before = f"{ticks * TICK_SECONDS:>10,} s  ({ticks:,} ticks of {TICK_SECONDS} s)"
    print(f"before (a page per tick) {before}")
    ok = report.advanced == due and seconds <= TARGET_SECONDS
    print(
        f"{'PASS' if ok else 'MISS'}: every due dispatch re-enqueued by one sweep within "
        f"{TARGET_SECONDS:.0f} s — ratio {seconds / TARGET_SECONDS:.2f}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="dispatches to seed")
    parser.add_argument("--keep", action="store_true", help="keep the seeded database")
    parser.add_argument("--database", help="use a database kept by --keep (no seeding)")
    sys.exit(asyncio.run(main(parser.parse_args())))
