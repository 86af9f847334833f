"""Flat cost (issue 16, item 3): what one dispatch costs, create → served, at 1 k, 100 k and 1 M
existing dispatches.

Run: ``PYTHONPATH=. .venv/bin/python bench/flat_cost.py [--sizes 1000,100000,1000000] [--n 2000]
[--clients 50] [--topology run|split] [--timeout 600]``.

For each size, smallest first:

1. **Seed** a fresh PostgreSQL database (:func:`throughput_service.fresh_database`, migrated)
   with that many existing dispatches and their history — contacts, attempts, events, outcomes,
   webhook deliveries — through ``workspace.py``'s seeding (``workspace_seed.py``, ``COPY``, then
   ``VACUUM ANALYZE``). Its seconds are printed.
2. **Settle** it as a service that keeps up would have left it (:func:`settle`): the seeded
   dispatches that are served get their certificate rows, and the few timers the seeding made
   overdue (a sweep that fell behind) are moved a day ahead. Otherwise the measured window would
   also render certificates and advance a backlog — other benches' work (``backlog.py``,
   ``sweep.py``) — and that work grows with the size. The seeded case system's webhook endpoint
   (not on loopback) is disabled: the throughput scenario has none.
3. **Run the e-mail throughput scenario** on it (``email_throughput.py``'s
   :func:`~email_throughput.measure_songda`: the service in child processes through
   ``counted_songda.py``, ``--topology run`` = ``songda run``, ``split`` = ``songda web`` +
   ``songda worker``; a new API key of the seeded court; ``--n`` dispatches created by
   ``--clients`` concurrent clients, each served by e-mail into the sink). It counts only the key's
   own dispatches, so the seeded ones (other keys) never count as served.

Per size it prints the existing dispatches, dispatches/s (first request → N-th mail), **service
CPU ms per dispatch** (user + system CPU seconds of the service process(es) from the first request
until all N are served, ÷ N: the main cost figure, less sensitive to other load on the machine
than the rate), DB round trips per dispatch (statements, BEGINs, commits, rollbacks, pre-pings:
``throughput_report.round_trips``), and each one's ratio to the smallest size's. **PASS** when the
CPU ms per dispatch and the dispatches/s of all sizes are within 20 % of each other (largest ÷
smallest ≤ 1.2). Exit code 1 if a run failed.

Needs PostgreSQL (``SONGDA_BENCH_PG_URL``, an admin URL; a ``songda_bench_*`` database per size,
dropped after) and Redis (``SONGDA_BENCH_REDIS_URL``).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from email_throughput import TOPOLOGIES, bounded, measure_songda
from throughput_report import Result, labelled, round_trips, topology_label
from throughput_service import Options, fresh_database
from workspace import seed_database

from delivery.domain import DispatchState
from delivery.storage.engine import create_engine
from delivery.storage.schema import certificates, dispatches, events, webhook_endpoints
from delivery.vocabulary import EventType

TOLERANCE = 1.2  # largest ÷ smallest of each figure across the sizes
DEFAULT_SIZES = "1000,100000,1000000"


@dataclass
class SizeRun:
    """One size: the seeding and the throughput run on it."""

    size: int
    seed_seconds: float = 0.0
    result: Result = field(default_factory=lambda: Result("postgresql", "run"))

    @property
    def ok(self) -> bool:
        return bool(self.result.counts) and not self.result.failures

    @property
    def cpu_ms(self) -> float:
        """Service CPU ms per dispatch: the measure shares CPU per second over the window that
        ran until all N were served (N ÷ served/s seconds), so it is their sum ÷ served/s."""
        return sum(self.result.service_cpu.values()) / self.result.served_rate * 1000

    def round_trips(self, n: int) -> float:
        return sum(round_trips("postgresql", self.result.counts).values()) / n


async def settle(url: str) -> dict[str, int]:
    """Make the seeded database one whose service has kept up, and keep the run on loopback:
    a certificate row for each served dispatch's service (as ``render_certificate`` leaves it;
    the sweep enqueues a render for every served dispatch without one), no overdue timer, and
    the seeded case system's webhook endpoint (``https://case-system.example``, which every
    dispatch of its courts would notify) disabled, as the throughput scenario has none.
    Returns what it changed, by what."""
    engine = create_engine(url)
    d, e = dispatches.c, events.c
    served = (
        sa.select(
            e.id,
            d.id,
            d.locale,
            e.hash,
            sa.literal(50_000),
            e.hash,
            e.seq,
            d.served_at,
            d.service_date,
            d.legal_basis,
            d.served_at,
        )
        .join_from(dispatches, events, e.dispatch_id == d.id)
        .where(d.state == DispatchState.SERVED.value, e.type == EventType.DISPATCH_SERVED.value)
    )
    columns = [
        "id",
        "dispatch_id",
        "locale",
        "sha256",
        "size",
        "chain_head",
        "chain_seq",
        "served_at",
        "service_date",
        "legal_basis",
        "created_at",
    ]
    try:
        async with engine.begin() as conn:
            issued = (
                await conn.execute(certificates.insert().from_select(columns, served))
            ).rowcount
            now = (await conn.execute(sa.select(sa.func.now()))).scalar_one()
            moved = (
                await conn.execute(
                    dispatches.update()
                    .where(d.next_action_at < now)
                    .values(next_action_at=now + timedelta(days=1))
                )
            ).rowcount
            disabled = (
                await conn.execute(webhook_endpoints.update().values(enabled=False))
            ).rowcount
        autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        async with autocommit.connect() as conn:
            await conn.execute(sa.text("VACUUM ANALYZE certificates, dispatches"))
    finally:
        await engine.dispose()
    return {
        "certificates of served dispatches": issued,
        "overdue timers moved a day ahead": moved,
        "webhook endpoints disabled": disabled,
    }


async def run_size(opts: Options, size: int) -> SizeRun:
    """A fresh database seeded with ``size`` dispatches, then the throughput scenario on it."""
    run = SizeRun(size, result=Result("postgresql", opts.topologies[0]))
    workdir = Path(tempfile.mkdtemp(prefix=f"songda-flat-{size}-"))
    try:
        async with fresh_database("postgresql", workdir) as database:
            started = time.perf_counter()
            await seed_database(database.url, size)
            settled = await settle(database.url)
            run.seed_seconds = time.perf_counter() - started
            done = ", ".join(f"{what} {count:,}" for what, count in settled.items())
            print(f"settled: {done}; {run.seed_seconds:.0f} s in all", flush=True)
            await bounded(
                opts, run.result.failures, measure_songda(opts, database, workdir, run.result)
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return run


def print_size(opts: Options, run: SizeRun) -> None:
    """One size's figures as soon as it is measured (or its failures)."""
    for failure in run.result.failures[:10]:
        print(f"  FAILURE: {failure}")
    if not run.ok:
        return
    res, n = run.result, opts.n
    print(f"  dispatches/s           {res.dispatch_rate:9.1f}   (first request → N-th mail)")
    print(f"  service CPU ms/disp.   {run.cpu_ms:9.2f}   (first request → all served)")
    print(f"  DB round trips/disp.   {run.round_trips(n):9.1f}")
    kinds = sorted(
        ((k, v) for k, v in res.statements.items() if v / n >= 0.05), key=lambda kv: -kv[1]
    )
    print(labelled("  statements/dispatch    ", ", ".join(f"{k} {v / n:.1f}" for k, v in kinds)))


def summary(opts: Options, runs: list[SizeRun]) -> bool:
    """The table, the ratios to the smallest size and the verdict; True on PASS."""
    print(
        f"\n{'existing':>10} {'seed s':>7} {'disp/s':>8} {'ratio':>6} {'CPU ms/disp':>12} "
        f"{'ratio':>6} {'round trips/disp':>17} {'ratio':>6}  service CPU (cores)"
    )
    measured = [r for r in runs if r.ok]
    base = measured[0] if measured else None
    for r in runs:
        if not r.ok or base is None:
            print(f"{r.size:>10,} {r.seed_seconds:7.0f}  FAILED: {'; '.join(r.result.failures)}")
            continue
        res = r.result
        shares = ", ".join(f"{p} {s:.0%}" for p, s in res.service_cpu.items())
        print(
            f"{r.size:>10,} {r.seed_seconds:7.0f} {res.dispatch_rate:8.1f} "
            f"{res.dispatch_rate / base.result.dispatch_rate:6.2f} {r.cpu_ms:12.2f} "
            f"{r.cpu_ms / base.cpu_ms:6.2f} {r.round_trips(opts.n):17.1f} "
            f"{r.round_trips(opts.n) / base.round_trips(opts.n):6.2f}  {shares}"
        )
    if len(measured) < len(runs):
        print("FAILED: not every size was measured")
        return False
    if len(measured) < 2:
        print("one size: nothing to compare it with (give --sizes two or more)")
        return False
    spreads = {
        "CPU ms/dispatch": _spread([r.cpu_ms for r in measured]),
        "dispatches/s": _spread([r.result.dispatch_rate for r in measured]),
    }
    ok = all(spread <= TOLERANCE for spread in spreads.values())
    figures = ", ".join(f"{name} largest ÷ smallest {s:.2f}" for name, s in spreads.items())
    print(
        f"{'PASS' if ok else 'MISS'}: flat cost within {TOLERANCE - 1:.0%} across "
        f"{', '.join(f'{r.size:,}' for r in measured)} existing dispatches — {figures}"
    )
    return ok


def _spread(values: list[float]) -> float:
    return max(values) / min(values)


def parse_args(argv: list[str] | None = None) -> tuple[Options, list[int]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help="existing dispatches per run")
    parser.add_argument("--n", type=int, default=2000, help="new dispatches per size")
    parser.add_argument("--clients", type=int, default=50, help="concurrent HTTP clients")
    parser.add_argument("--topology", choices=sorted(TOPOLOGIES), default="run")
    parser.add_argument("--pool-size", type=int, default=4, help="SMTP connections")
    parser.add_argument(
        "--timeout", type=float, default=600, help="seconds per throughput run (not seeding)"
    )
    args = parser.parse_args(argv)
    try:
        sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    except ValueError:
        parser.error(f"--sizes: comma-separated numbers, not {args.sizes!r}")
    if not sizes or sizes[0] < 1 or args.n < 1 or args.clients < 1 or args.pool_size < 1:
        parser.error("sizes, --n, --clients and --pool-size must be positive")
    opts = Options(
        args.n,
        args.clients,
        ("postgresql",),
        (args.topology,),
        args.pool_size,
        args.timeout,
        None,
    )
    return opts, sizes


async def main(opts: Options, sizes: list[int]) -> int:
    topology = opts.topologies[0]
    print(
        f"Songda flat cost: {opts.n} new dispatches on databases of "
        f"{', '.join(f'{s:,}' for s in sizes)} existing ones; PostgreSQL, "
        f"{topology} = {topology_label(topology)}, {opts.clients} HTTP clients"
    )
    runs = []
    for size in sizes:
        print(f"\n== {size:,} existing dispatches ==", flush=True)
        run = await run_size(opts, size)
        print_size(opts, run)
        runs.append(run)
    summary(opts, runs)
    return 1 if any(not r.ok for r in runs) else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(*parse_args())))
