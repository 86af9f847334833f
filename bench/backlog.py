"""Fair work under a backlog: how long a new dispatch's e-mail takes while certificates wait.

Run: ``.venv/bin/python bench/backlog.py [--n 1000] [--probes 30] [--interval 0.5]
[--arrangements queues,single]``.

Issue 12, item 2: after a 500-dispatch batch a new dispatch's e-mail waited 48 s, because the
batch's certificate jobs held all 50 job slots of the one worker while they waited for the 2
renderers. For each arrangement, on PostgreSQL (a fresh database each) with the local Redis and
an SMTP sink in this process:

1. **Backlog.** ``songda web`` and ``songda worker --queues send`` serve N dispatches (created
   by C concurrent clients, e-mail to recipient-confirmed addresses); the send worker is then
   stopped, leaving N certificate jobs waiting on the render queue.
2. **Worker.** The arrangement's worker starts: ``queues`` is ``songda worker`` (a worker per
   queue: the send path with its 50 slots, rendering bounded by the renderers); ``single`` is
   the arrangement before issue 12 (``bench/single_queue_songda.py``: one queue, one worker, 50
   slots for every kind — the N jobs are moved into that one queue first).
3. **Probe.** ≥ 20 new dispatches, one every ``--interval`` seconds, each to its own address:
   the time from sending ``POST /api/v1/dispatches`` to its message arriving in the sink. Printed
   as p50 / p99 / max, with the certificates still waiting when the probe ended (the backlog was
   there throughout). Target: p99 ≤ 2 s with the per-queue workers.

A probe whose mail has not arrived ``--probe-timeout`` seconds after the last request counts as
that timeout (so p99 shows it) and is reported as missing.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import sqlalchemy as sa
from aiosmtpd.smtp import SMTP, Envelope, Session
from redis.asyncio import Redis
from throughput_cases import create_dispatches, dispatch_body, upload_pdf
from throughput_service import (
    REDIS_URL,
    Options,
    forget_queue,
    free_port,
    fresh_database,
    log_tail,
    new_api_key,
    service_env,
    wait_until_served,
)
from throughput_sink import CountingSink, sink_server

from delivery.jobs.job_queue import QueueKind, queue_name_of
from delivery.storage.engine import create_engine
from delivery.storage.schema import certificates

BENCH_DIR = Path(__file__).resolve().parent
SONGDA = (sys.executable, "-m", "delivery.cli.main")
SINGLE_QUEUE = (sys.executable, str(BENCH_DIR / "single_queue_songda.py"))
ARRANGEMENTS = {
    "queues": (*SONGDA, "worker"),
    "single": (*SINGLE_QUEUE, "worker"),
}
LABELS = {
    "queues": "a worker per queue (send: 50 slots; render: bounded by the renderers)",
    "single": "one queue, one worker, 50 slots for every kind (before issue 12)",
}
TARGET_P99 = 2.0
MIN_PROBES = 20


@dataclass(frozen=True)
class BacklogOptions:
    n: int
    clients: int
    probes: int
    interval: float
    probe_timeout: float
    arrangements: tuple[str, ...]


@dataclass
class Outcome:
    arrangement: str
    latencies: list[float] = field(default_factory=list)
    missing: int = 0
    waiting_before: int = 0
    waiting_after: int = 0
    issued_per_second: float = 0.0  # certificates, from the worker's start to the probe's end
    failures: list[str] = field(default_factory=list)

    def quantile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class ArrivalSink(CountingSink):
    """Counts like the throughput bench's sink and notes when each recipient's first message
    arrived."""

    def __init__(self, expected: int) -> None:
        super().__init__(expected)
        self.arrived: dict[str, float] = {}
        self.probes: set[str] = set()  # the addresses awaited by the probe
        self.probes_in = asyncio.Event()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        now = time.perf_counter()
        for recipient in envelope.rcpt_tos:
            self.arrived.setdefault(recipient, now)
        if self.probes and self.probes <= self.arrived.keys():
            self.probes_in.set()
        return await super().handle_DATA(server, session, envelope)


@asynccontextmanager
async def songda(command: tuple[str, ...], env: dict[str, str], log: Path) -> AsyncIterator[Any]:
    """A service process (its output in ``log``), stopped with SIGTERM at the end."""
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(*command, env=env, stdout=out, stderr=out)
    try:
        yield proc
    finally:
        await stop(proc)


async def stop(proc: Any) -> None:
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def until(check: Any, what: str, proc: Any, log: Path, within: float = 120) -> None:
    deadline = time.perf_counter() + within
    while not await check():
        if proc.returncode is not None:
            raise RuntimeError(f"the service exited with {proc.returncode}:\n{log_tail(log)}")
        if time.perf_counter() > deadline:
            raise RuntimeError(f"{what}: not within {within:.0f}s\n{log_tail(log)}")
        await asyncio.sleep(0.1)


async def issued(url: str) -> int:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return int(await conn.scalar(sa.select(sa.func.count()).select_from(certificates)) or 0)
    finally:
        await engine.dispose()


async def measure(opts: BacklogOptions, arrangement: str) -> Outcome:
    outcome = Outcome(arrangement)
    workdir = Path(tempfile.mkdtemp(prefix=f"songda-backlog-{arrangement}-"))
    queue = f"songda:bench:{uuid.uuid4().hex}"
    render_queue = queue_name_of(queue, QueueKind.RENDER)
    redis = Redis.from_url(REDIS_URL)
    sink = ArrivalSink(opts.n)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    try:
        async with AsyncExitStack() as stack:
            database = await stack.enter_async_context(fresh_database("postgresql", workdir))
            smtp_port = await stack.enter_async_context(sink_server(sink))
            backlog = Options(opts.n, opts.clients, ("postgresql",), ("split",), 4, 0, None)
            env = service_env(
                backlog,
                database.url,
                workdir,
                port,
                smtp_port,
                queue,
                "web",
            )
            web_log = workdir / "web.log"
            web = await stack.enter_async_context(songda((*SONGDA, "web"), env, web_log))
            session = await stack.enter_async_context(aiohttp.ClientSession())
            key = await new_api_key(database.url)
            auth = {"Authorization": f"Bearer {key.token}"}

            async def web_ready() -> bool:
                try:
                    async with session.get(f"{base}/healthz") as response:
                        return response.status == 200
                except aiohttp.ClientError:
                    return False

            await until(web_ready, "web server", web, web_log)
            document_id = await upload_pdf(session, base, auth)

            # 1. The backlog: N served dispatches whose certificates wait on the render queue.
            send_log = workdir / "send-worker.log"
            async with songda((*SONGDA, "worker", "--queues", "send"), env, send_log):
                outcome.failures += await create_dispatches(
                    session, base, auth, document_id, backlog
                )
                await sink.wait(60)
                states = await wait_until_served(database.url, opts.n, key.id)
                if states.get("served", 0) != opts.n:
                    raise RuntimeError(f"backlog: expected {opts.n} served, found {states}")
            if arrangement == "single":
                await redis.zunionstore(queue, [queue, render_queue])
                await redis.delete(render_queue)
            waiting_in = render_queue if arrangement == "queues" else queue
            outcome.waiting_before = int(await redis.zcard(waiting_in))

            # 2. The arrangement's worker, with the backlog in front of it.
            worker_log = workdir / "worker.log"
            worker = await stack.enter_async_context(
                songda(ARRANGEMENTS[arrangement], env, worker_log)
            )

            async def polling() -> bool:
                return bool(await redis.exists(f"{queue}:health-check"))

            await until(polling, "worker", worker, worker_log)
            worker_started, issued_before = time.perf_counter(), await issued(database.url)

            # 3. The probe.
            sent: dict[str, float] = {}
            bodies = [dispatch_body(opts.n + i, document_id) for i in range(opts.probes)]
            sink.probes = {body["recipient"]["emails"][0]["address"] for body in bodies}
            for i, body in enumerate(bodies):
                sent[body["recipient"]["emails"][0]["address"]] = time.perf_counter()
                async with session.post(f"{base}/api/v1/dispatches", json=body, headers=auth) as r:
                    if r.status != 201:
                        outcome.failures.append(f"probe {i}: HTTP {r.status}")
                await asyncio.sleep(opts.interval)
            with suppress(TimeoutError):
                await asyncio.wait_for(sink.probes_in.wait(), opts.probe_timeout)
            outcome.waiting_after = int(await redis.zcard(waiting_in))
            outcome.issued_per_second = (await issued(database.url) - issued_before) / (
                time.perf_counter() - worker_started
            )
            for address, started in sent.items():
                arrived = sink.arrived.get(address)
                if arrived is None:
                    outcome.missing += 1
                    outcome.latencies.append(opts.probe_timeout)
                else:
                    outcome.latencies.append(arrived - started)
    except Exception as exc:  # a failed run is reported, not a traceback
        outcome.failures.append(f"{type(exc).__name__}: {exc}")
    finally:
        await forget_queue(queue)
        await forget_queue(render_queue)
        await redis.aclose()
        shutil.rmtree(workdir, ignore_errors=True)
    return outcome


def report(opts: BacklogOptions, outcomes: list[Outcome]) -> int:
    print(
        f"\n{'arrangement':<12} {'p50 s':>7} {'p99 s':>7} {'max s':>7} {'missing':>8} "
        f"{'certs waiting (start → end)':>28} {'issued/s':>9}  target p99 ≤ {TARGET_P99:.0f} s"
    )
    failed = False
    for o in outcomes:
        if o.failures or not o.latencies:
            failed = True
            print(f"{o.arrangement:<12} FAILED: " + "; ".join(o.failures[:5]))
            continue
        p99 = o.quantile(0.99)
        verdict = "PASS" if p99 <= TARGET_P99 and not o.missing else "MISS"
        print(
            f"{o.arrangement:<12} {statistics.median(o.latencies):7.2f} {p99:7.2f} "
            f"{max(o.latencies):7.2f} {o.missing:8d} "
            f"{f'{o.waiting_before} → {o.waiting_after}':>28} {o.issued_per_second:9.2f}  {verdict}"
        )
    for o in outcomes:
        print(f"  {o.arrangement}: {LABELS[o.arrangement]}")
    print(
        f"({opts.probes} probe dispatches, one every {opts.interval} s, after {opts.n} served "
        "dispatches left their certificates waiting; latency = POST → message in the sink)"
    )
    return 1 if failed else 0


def parse_args(argv: list[str] | None = None) -> BacklogOptions:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="dispatches in the backlog")
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients for it")
    parser.add_argument("--probes", type=int, default=30, help=f"new dispatches (≥ {MIN_PROBES})")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between probes")
    parser.add_argument("--probe-timeout", type=float, default=120.0)
    parser.add_argument("--arrangements", default="queues,single")
    args = parser.parse_args(argv)
    arrangements = tuple(a.strip() for a in args.arrangements.split(",") if a.strip())
    if args.n < 1 or args.probes < MIN_PROBES or not set(arrangements) <= set(ARRANGEMENTS):
        parser.error(f"--n ≥ 1, --probes ≥ {MIN_PROBES}, arrangements from {list(ARRANGEMENTS)}")
    return BacklogOptions(
        args.n, args.clients, args.probes, args.interval, args.probe_timeout, arrangements
    )


async def main(opts: BacklogOptions) -> int:
    print(
        f"Songda backlog: {opts.n} certificates waiting, then {opts.probes} new dispatches; "
        "PostgreSQL, songda web + worker in child processes, SMTP sink in this process"
    )
    outcomes = []
    for arrangement in opts.arrangements:
        outcome = await measure(opts, arrangement)
        print(f"  {arrangement}: done ({len(outcome.latencies)} probes)", flush=True)
        outcomes.append(outcome)
    return report(opts, outcomes)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
