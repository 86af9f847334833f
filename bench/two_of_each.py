"""Two web processes and two workers, proven at 5,000 dispatches (issue 16, item 4).

Run: ``.venv/bin/python bench/two_of_each.py [--n 5000] [--clients 50] [--sample 5]``.

Two ``songda web`` processes behind one port (the round-robin balancer of tests/tcp_proxy.py:
each new connection goes to the next one, and every request opens a new connection) and two
``songda worker`` processes, all real child processes (``counted_songda.py``, as in
``email_throughput.py``'s ``split``) on one fresh PostgreSQL database, one queue name on the
local Redis and one data directory, deliver to a counting SMTP sink. C concurrent clients create
N dispatches through the balancer. Once all are served the processes are stopped and the run
fails (exit code 1) unless: every dispatch is ``served`` with exactly one ``dispatch_served``
event and one attempt, the sink received exactly N messages for the N distinct recipients (no
e-mail sent twice), every dispatch's chain verifies (:func:`tracking.chain.verify_chain`) and
``songda verify --db`` passes on a sample, and each worker sent at least a tenth of the
attempts (each attempt names the worker that claimed it, each worker's row its process id; the
split is printed). That every rate limit and lock-out is shared by the two web processes is shown
by ``tests/integration/delivery/test_two_of_each.py`` (the short, CI version of this run).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import sys
import tempfile
import time
import uuid
from contextlib import AsyncExitStack
from pathlib import Path

import aiohttp
import sqlalchemy as sa
from email_throughput import bounded, check_outcome
from throughput_cases import create_dispatches, upload_pdf
from throughput_service import (
    Database,
    Options,
    Service,
    ServiceProcess,
    counts_path,
    forget_queue,
    free_port,
    fresh_database,
    new_api_key,
    running_process,
    service_env,
    wait_ready,
    wait_until_served,
)
from throughput_sink import STALL_SECONDS, CountingSink, sink_server

from delivery.domain import Event
from delivery.storage.engine import create_engine
from delivery.storage.rows import event_from_row
from delivery.storage.schema import attempts, dispatches, events, workers
from delivery.vocabulary import EventType
from tracking.chain import verify_chain

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from tcp_proxy import RoundRobin

PROCESSES = (("web-1", "web"), ("web-2", "web"), ("worker-1", "worker"), ("worker-2", "worker"))


async def run(opts: Options, sample: int, workdir: Path) -> list[str]:
    """One run on a fresh database; prints its figures, returns its failures."""
    async with fresh_database("postgresql", workdir) as database:
        failures, ids = await serve_all(opts, database, workdir)
        failures += await check_records(database, opts.n)
        failures += await verify_sample(opts, database, workdir, random.sample(ids, sample))
    return failures


async def serve_all(
    opts: Options, database: Database, workdir: Path
) -> tuple[list[str], list[str]]:
    """Start the four processes, create N dispatches through the balancer, wait until served."""
    key = await new_api_key(database.url)
    queue = f"songda:bench:{uuid.uuid4().hex}"
    sink = CountingSink(opts.n)
    web_ports = [free_port(), free_port()]
    try:
        async with AsyncExitStack() as stack:
            smtp_port = await stack.enter_async_context(sink_server(sink))
            processes: list[ServiceProcess] = []
            worker_names: dict[int, str] = {}
            for name, command in PROCESSES:
                port = web_ports[len(processes) % 2]
                env = service_env(opts, database.url, workdir, port, smtp_port, queue, name)
                log = workdir / f"{name}.log"
                proc = await stack.enter_async_context(running_process(command, env, log))
                processes.append(ServiceProcess(command, proc, log, counts_path(workdir, name)))
                if command == "worker":
                    worker_names[proc.pid] = name
            balancer = RoundRobin([("127.0.0.1", port) for port in web_ports])
            base = f"http://127.0.0.1:{await balancer.start()}"
            stack.push_async_callback(balancer.close)
            connector = aiohttp.TCPConnector(limit=opts.clients, force_close=True)
            session = await stack.enter_async_context(aiohttp.ClientSession(connector=connector))
            for port in web_ports:
                each = Service(tuple(processes), f"http://127.0.0.1:{port}", queue)
                await wait_ready(session, each)
            auth = {"Authorization": f"Bearer {key.token}"}
            document_id = await upload_pdf(session, base, auth)
            started = time.perf_counter()
            failures = await create_dispatches(session, base, auth, document_id, opts)
            created = time.perf_counter() - started
            await sink.wait(STALL_SECONDS)
            states = await wait_until_served(database.url, opts.n, key.id)
            elapsed = time.perf_counter() - started
            Service(tuple(processes), base, queue).check_alive()
            shares = await worker_shares(database.url, worker_names)
        # The processes are stopped: nothing can still arrive in the sink.
        failures += check_outcome(opts.n, sink, states)
    finally:
        await forget_queue(queue)
    print(
        f"  {opts.n} dispatches through 2 web processes (connections per web: "
        f"{balancer.served}) and 2 workers\n"
        f"  created in {created:.1f} s ({opts.n / created:.0f}/s), all served in {elapsed:.1f} s "
        f"({opts.n / elapsed:.0f} dispatches/s)\n"
        f"  sink: {sink.messages} messages, {len(sink.recipients)} distinct recipients\n"
        f"  attempts sent per worker: "
        + ", ".join(f"{name} {count:,}" for name, count in sorted(shares.items()))
    )
    if sorted(shares) != sorted(worker_names.values()) or min(shares.values()) < opts.n // 10:
        failures.append(f"a worker sent less than a tenth of the attempts: {shares}")
    return failures, await dispatch_ids(database)


async def worker_shares(url: str, names: dict[int, str]) -> dict[str, int]:
    """Attempts per worker process (by its name in ``names``, process id → name): each attempt
    names the worker that claimed it, each worker's row its process id. Read while the workers
    run: a worker that stops removes its row."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                sa.select(workers.c.pid, sa.func.count())
                .select_from(attempts.join(workers, attempts.c.claimed_by == workers.c.id))
                .group_by(workers.c.pid)
            )
            return {names.get(pid, f"pid {pid}"): int(count) for pid, count in rows}
    finally:
        await engine.dispose()


async def dispatch_ids(database: Database) -> list[str]:
    engine = create_engine(database.url)
    try:
        async with engine.connect() as conn:
            return [str(i) for i in await conn.scalars(sa.select(dispatches.c.id))]
    finally:
        await engine.dispose()


async def check_records(database: Database, n: int) -> list[str]:
    """One ``dispatch_served`` event and one attempt per dispatch; every chain verifies."""
    engine = create_engine(database.url)
    try:
        async with engine.connect() as conn:
            served = await conn.execute(
                sa.select(events.c.dispatch_id, sa.func.count())
                .where(events.c.type == EventType.DISPATCH_SERVED)
                .group_by(events.c.dispatch_id)
            )
            served_counts: dict[str, int] = {str(d): int(c) for d, c in served}
            attempt_count = await conn.scalar(sa.select(sa.func.count()).select_from(attempts))
            rows = await conn.execute(sa.select(events).order_by(events.c.seq))
            chains: dict[str, list[Event]] = {}
            for row in rows.mappings():
                chains.setdefault(row["dispatch_id"], []).append(event_from_row(row))
    finally:
        await engine.dispose()
    broken = [d for d, chain in chains.items() if not verify_chain(chain).valid]
    twice = [d for d, count in served_counts.items() if count != 1]
    print(
        f"  dispatch_served events: {sum(served_counts.values())} for {len(served_counts)} "
        f"dispatches ({len(twice)} served twice); attempts: {attempt_count}; "
        f"chains verified: {len(chains) - len(broken)} of {len(chains)}"
    )
    failures = [f"served more than once: {twice[:5]}"] if twice else []
    failures += [f"{len(broken)} broken chains: {broken[:5]}"] if broken else []
    if len(served_counts) != n or attempt_count != n:
        failures.append(f"{len(served_counts)} served, {attempt_count} attempts for {n}")
    return failures


async def verify_sample(
    opts: Options, database: Database, workdir: Path, sample: list[str]
) -> list[str]:
    """``songda verify --db`` on each sampled dispatch, as an operator would run it."""
    env = service_env(opts, database.url, workdir, 0, 0, "unused", "verify")
    failures = []
    for dispatch_id in sample:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "delivery.cli.main",
            "verify",
            "--db",
            dispatch_id,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await proc.communicate()
        if proc.returncode != 0:
            failures.append(f"songda verify --db {dispatch_id}: {output.decode()[-300:]}")
    print(f"  songda verify --db: {len(sample) - len(failures)} of {len(sample)} sampled pass")
    return failures


def parse_args(argv: list[str] | None = None) -> tuple[Options, int]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000, help="dispatches")
    parser.add_argument("--clients", type=int, default=50, help="concurrent HTTP clients")
    parser.add_argument("--sample", type=int, default=5, help="dispatches for songda verify --db")
    parser.add_argument("--pool-size", type=int, default=4, help="SMTP connections per worker")
    parser.add_argument("--timeout", type=float, default=1200, help="seconds for the whole run")
    args = parser.parse_args(argv)
    if args.n < 1 or args.clients < 1 or not 0 <= args.sample <= args.n:
        parser.error("bad arguments")
    opts = Options(
        args.n, args.clients, ("postgresql",), ("two",), args.pool_size, args.timeout, None
    )
    return opts, args.sample


async def main(opts: Options, sample: int) -> int:
    print(f"Songda, two of each: {opts.n} dispatches, {opts.clients} HTTP clients")
    workdir = Path(tempfile.mkdtemp(prefix="songda-bench-two-"))
    failures: list[str] = []

    async def work() -> None:
        failures.extend(await run(opts, sample, workdir))

    try:
        await bounded(opts, failures, work())
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print("  0 lost, 0 served twice, 0 duplicate e-mails, chains intact" if not failures else "")
    for failure in failures:
        print(f"  FAILED: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(*parse_args())))
