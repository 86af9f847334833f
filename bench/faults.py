"""Faults under a batch: nothing lost, nothing served twice, no mail sent twice, quick recovery.

```
.venv/bin/python bench/faults.py [--n 1000] [--clients 20] [--only NAME[,NAME…]] [--timeout 900]
```

Each scenario (``SCENARIOS``; add one by appending a :class:`Scenario` with its fault function)
starts Songda in child processes on a fresh data directory and a fresh database, as
``bench/email_throughput.py`` does (its helpers are reused: the counted ``songda`` processes, the
environment, the case-system client, the database set-up), creates N dispatches through the API,
and injects its fault once all are created and a third of the mail has arrived in the sink:

- ``worker-kill``: split deployment (``songda web`` + ``songda worker``, PostgreSQL); the worker
  is SIGKILLed and started again 1 s later.
- ``postgres-18s``: split; both processes reach PostgreSQL through a TCP proxy (tests/tcp_proxy.py)
  that is cut for 18 s — the shared server itself is never touched.
- ``run-kill``: ``songda run`` (SQLite, the local Redis) killed with -9 and started again 1 s
  later. (Its embedded redis-server after kill -9 is another part of issue 12; this run uses an
  external Redis so that part does not blur this one.)
- ``redis-flush``: split, on a private redis-server of the bench's own (unix socket in the work
  directory), FLUSHALL mid-batch.

Per scenario it prints **lost** (dispatches not served when the run ends), **double-served**
(``dispatch_served`` events beyond one per dispatch), **duplicate mail** (a second message to a
recipient although Songda had learnt the first one's acceptance), **re-sent, outcome unknown**
(a second message — same Message-ID — after the worker died inside the SMTP conversation, so
that nobody knew whether the relay had accepted: the issue's "genuinely unknown" case, which is
re-sent on purpose; a kill at a random moment catches a few of the pooled connections there),
**misdated** (dispatches whose ``served_at`` is not their first
acceptance, the earliest ``attempt_sent``), **recovery s** (from the fault until the last dispatch
whose attempt was in ``sending`` at the fault is served: what the fault delayed) and **drained s**
(from the fault until all N are served, which includes sending what was still to be sent).

Needs PostgreSQL (``SONGDA_BENCH_PG_URL``) and Redis (``SONGDA_BENCH_REDIS_URL``) as
``email_throughput.py`` does. ``SONGDA_BENCH_KEEP=1`` keeps each scenario's work directory (the
processes' logs, one per start) under ``/tmp/sd-faults-*``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import sqlalchemy as sa
from aiosmtpd.smtp import SMTP, Envelope, Session
from email_throughput import (
    REDIS_URL,
    SERVICE_SCRIPT,
    CountingSink,
    Database,
    Options,
    create_dispatches,
    forget_queue,
    free_port,
    fresh_database,
    log_tail,
    new_api_key,
    service_env,
    sink_server,
    stop_process,
    upload_pdf,
)
from redis.asyncio import Redis
from sqlalchemy.engine import make_url

from delivery.domain import AttemptState
from delivery.jobs.embedded_redis import EmbeddedRedis
from delivery.storage.engine import create_engine
from delivery.storage.schema import attempts, dispatches, events
from delivery.vocabulary import EventType

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from tcp_proxy import TcpProxy

OUTAGE_SECONDS = 18.0
RESTART_AFTER_SECONDS = 1.0
RECOVERY_TARGET = 60.0
FAULT_AT = 1 / 3  # of the mail in the sink


class FaultSink(CountingSink):
    """Counts like the throughput bench's sink, per recipient too; a wait for the fault."""

    def __init__(self, expected: int, fault_at: int) -> None:
        super().__init__(expected)
        self.fault_at = fault_at
        self.reached = asyncio.Event()
        self.per_recipient: Counter[str] = Counter()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.per_recipient.update(envelope.rcpt_tos)
        reply = await super().handle_DATA(server, session, envelope)
        if self.messages >= self.fault_at:
            self.reached.set()
        return reply


@dataclass
class Run:
    """One scenario's running service: its processes (restartable), proxy, Redis, sink."""

    scenario: Scenario
    workdir: Path
    envs: dict[str, dict[str, str]]
    database_url: str
    proxy: TcpProxy | None = None
    redis_url: str = REDIS_URL
    processes: dict[str, asyncio.subprocess.Process] = field(default_factory=dict)
    starts: int = 0
    notes: list[str] = field(default_factory=list)  # what a fault found wrong besides the tally

    async def start(self, command: str) -> None:
        self.starts += 1
        log = (self.workdir / f"{command}-{self.starts}.log").open("wb")
        with log:
            self.processes[command] = await asyncio.create_subprocess_exec(
                sys.executable,
                str(SERVICE_SCRIPT),
                command,
                env=self.envs[command],
                stdout=log,
                stderr=log,
            )

    async def kill(self, command: str) -> None:
        process = self.processes[command]
        process.send_signal(signal.SIGKILL)
        await process.wait()

    async def restart_after_kill(self, command: str) -> None:
        await self.kill(command)
        await asyncio.sleep(RESTART_AFTER_SECONDS)
        await self.start(command)

    async def stop(self) -> None:
        for process in self.processes.values():
            await stop_process(process)

    def check_alive(self) -> None:
        for command, process in self.processes.items():
            if process.returncode is not None:
                log = self.workdir / f"{command}-{self.starts}.log"
                raise RuntimeError(f"songda {command} exited:\n{log_tail(log)}")


# --- the faults ----------------------------------------------------------------------------------


async def kill_worker(run: Run) -> None:
    await run.restart_after_kill("worker")


async def kill_run(run: Run) -> None:
    await run.restart_after_kill("run")


async def kill_run_with_embedded_redis(run: Run) -> None:
    """``songda run`` on its private Redis killed with -9: the restart must end the orphaned
    redis-server (one process, a new one, holds the append-only file afterwards)."""
    await run.kill("run")
    orphans = redis_servers_in(run.workdir)
    if not orphans:
        run.notes.append("no orphaned redis-server after kill -9 (expected one)")
    await asyncio.sleep(RESTART_AFTER_SECONDS)
    await run.start("run")
    deadline = time.time() + RECOVERY_TARGET
    holders: set[int] = set()
    while time.time() < deadline:
        holders = redis_servers_in(run.workdir)
        if len(holders) == 1 and not holders & orphans:
            return
        await asyncio.sleep(0.5)
    run.notes.append(f"redis-servers on the data directory after restart: {holders}")


def redis_servers_in(data_dir: Path) -> set[int]:
    """Pids of the redis-server processes working in ``data_dir``'s private Redis directory."""
    target = (data_dir / "redis").resolve()
    found = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if Path(os.readlink(proc / "exe")).name.startswith("redis-server") and (
                Path(os.readlink(proc / "cwd")) == target
            ):
                found.add(int(proc.name))
        except OSError:
            continue
    return found


async def cut_postgres(run: Run) -> None:
    assert run.proxy is not None
    run.proxy.cut()
    await asyncio.sleep(OUTAGE_SECONDS)
    await run.proxy.restore()


async def flush_redis(run: Run) -> None:
    redis = Redis.from_url(run.redis_url)
    try:
        await redis.flushall()
    finally:
        await redis.aclose()


@dataclass(frozen=True)
class Scenario:
    name: str
    commands: tuple[str, ...]  # the ``songda`` processes: ("run",) or ("web", "worker")
    database: str
    fault: Callable[[Run], Awaitable[None]]
    proxied_database: bool = False
    private_redis: bool = False
    embedded_redis: bool = False  # ``songda run``'s own redis-server in its data directory


SPLIT = ("web", "worker")
SCENARIOS = (
    Scenario("worker-kill", SPLIT, "postgresql", kill_worker),
    Scenario("postgres-18s", SPLIT, "postgresql", cut_postgres, proxied_database=True),
    Scenario("run-kill", ("run",), "sqlite", kill_run),
    Scenario(
        "run-kill-embedded", ("run",), "sqlite", kill_run_with_embedded_redis, embedded_redis=True
    ),
    Scenario("redis-flush", SPLIT, "postgresql", flush_redis, private_redis=True),
)


@dataclass
class Outcome:
    scenario: str
    n: int
    lost: int = 0
    double_served: int = 0
    duplicate_mail: int = 0  # a message sent again although its acceptance had been learnt
    resent_unknown: int = 0  # sent again after a kill mid-conversation: the outcome was unknown
    misdated: int = 0
    recovery: float | None = None
    drained: float | None = None
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return (
            not self.failures
            and self.lost == self.double_served == self.duplicate_mail == self.misdated == 0
            and self.recovery is not None
            and self.recovery <= RECOVERY_TARGET
        )


# --- measuring -----------------------------------------------------------------------------------


async def in_flight(url: str) -> set[str]:
    """The dispatches with an attempt being sent (``sending``) right now."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                sa.select(attempts.c.dispatch_id).where(
                    attempts.c.state == AttemptState.SENDING.value
                )
            )
            return {row[0] for row in rows}
    finally:
        await engine.dispose()


async def served_times(url: str) -> dict[str, float]:
    """Dispatch id → when its (first) ``dispatch_served`` event was recorded, as a Unix time."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                sa.select(events.c.dispatch_id, sa.func.min(events.c.recorded_at))
                .where(events.c.type == EventType.DISPATCH_SERVED)
                .group_by(events.c.dispatch_id)
            )
            return {d: recorded.timestamp() for d, recorded in rows}
    finally:
        await engine.dispose()


async def wait_for_all(run: Run, url: str, n: int, deadline: float) -> None:
    while time.time() < deadline:
        run.check_alive()
        if len(await served_times(url)) >= n:
            return
        await asyncio.sleep(0.5)


async def tally(url: str, outcome: Outcome, sink: FaultSink) -> None:
    """Lost, double-served and misdated dispatches, from the database; the sink's second
    messages split into re-sends of an outcome Songda never learnt (the worker died in the
    SMTP conversation: its claim was released, ``attempt_send_interrupted``, and one
    acceptance is recorded) and duplicates of an acceptance it had learnt."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            served = {
                d: (state, at)
                for d, state, at in await conn.execute(
                    sa.select(dispatches.c.id, dispatches.c.state, dispatches.c.served_at)
                )
            }
            served_events = await conn.execute(
                sa.select(events.c.dispatch_id, sa.func.count())
                .where(events.c.type == EventType.DISPATCH_SERVED)
                .group_by(events.c.dispatch_id)
            )
            interrupted = set(
                (
                    await conn.scalars(
                        sa.select(events.c.dispatch_id).where(
                            events.c.type == EventType.ATTEMPT_SEND_INTERRUPTED
                        )
                    )
                ).all()
            )
            sent_count = dict(
                (
                    await conn.execute(
                        sa.select(events.c.dispatch_id, sa.func.count())
                        .where(events.c.type == EventType.ATTEMPT_SENT)
                        .group_by(events.c.dispatch_id)
                    )
                ).all()
            )
            of_address = dict(
                (await conn.execute(sa.select(attempts.c.address, attempts.c.dispatch_id))).all()
            )
            first_sent = dict(
                (
                    await conn.execute(
                        sa.select(events.c.dispatch_id, sa.func.min(events.c.occurred_at))
                        .where(events.c.type == EventType.ATTEMPT_SENT)
                        .group_by(events.c.dispatch_id)
                    )
                ).all()
            )
    finally:
        await engine.dispose()
    outcome.lost = outcome.n - sum(1 for state, _at in served.values() if state == "served")
    outcome.double_served = sum(max(0, count - 1) for _d, count in served_events)
    for recipient, count in sink.per_recipient.items():
        dispatch_id = of_address.get(recipient)
        unknown = dispatch_id in interrupted and sent_count.get(dispatch_id) == 1
        if count > 1 and unknown:
            outcome.resent_unknown += count - 1
        elif count > 1:
            outcome.duplicate_mail += count - 1
    outcome.misdated = sum(
        1 for d, (state, at) in served.items() if state == "served" and at != first_sent.get(d)
    )


# --- one scenario --------------------------------------------------------------------------------


@asynccontextmanager
async def scenario_services(
    scenario: Scenario, workdir: Path, database: Database
) -> AsyncIterator[tuple[Run, str]]:
    """The proxy or private Redis the scenario needs, and its (not yet started) Run."""
    async with AsyncExitStack() as stack:
        url = database.url
        proxy = None
        if scenario.proxied_database:
            target = make_url(url)
            proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5432)
            port = await proxy.start()
            stack.push_async_callback(proxy.close)
            url = target.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
        redis_url = REDIS_URL
        if scenario.private_redis:
            private = EmbeddedRedis(workdir)
            redis_url = await private.start()
            stack.push_async_callback(private.stop)
        yield Run(scenario, workdir, {}, url, proxy, redis_url), redis_url


async def run_scenario(scenario: Scenario, opts: Options) -> Outcome:
    outcome = Outcome(scenario.name, opts.n)
    workdir = Path(tempfile.mkdtemp(prefix="sd-faults-", dir="/tmp"))
    queue = f"songda:bench:faults:{uuid.uuid4().hex}"
    try:
        async with asyncio.timeout(opts.timeout), AsyncExitStack() as stack:
            database = await stack.enter_async_context(fresh_database(scenario.database, workdir))
            run, redis_url = await stack.enter_async_context(
                scenario_services(scenario, workdir, database)
            )
            sink = FaultSink(opts.n, max(1, int(opts.n * FAULT_AT)))
            smtp_port = await stack.enter_async_context(sink_server(sink))
            port = free_port()
            for command in scenario.commands:
                env = service_env(opts, run.database_url, workdir, port, smtp_port, queue, command)
                if scenario.embedded_redis:
                    del env["SONGDA_REDIS_URL"]
                else:
                    env["SONGDA_REDIS_URL"] = redis_url
                run.envs[command] = env
                await run.start(command)
            stack.push_async_callback(run.stop)
            token = await new_api_key(database.url)
            await drive(run, opts, port, sink, database.url, outcome, token=token)
            outcome.failures += run.notes
            await tally(database.url, outcome, sink)
    except TimeoutError:
        outcome.failures.append(f"timed out after {opts.timeout:.0f}s")
    except Exception as exc:  # a failed run is a row of the table, not a traceback
        outcome.failures.append(f"{type(exc).__name__}: {exc}")
    finally:
        await forget_queue(queue)
        if not os.environ.get("SONGDA_BENCH_KEEP"):
            shutil.rmtree(workdir, ignore_errors=True)
    return outcome


async def drive(
    run: Run,
    opts: Options,
    port: int,
    sink: FaultSink,
    direct_url: str,
    outcome: Outcome,
    *,
    token: str,
) -> None:
    """Create N dispatches, inject the fault at its moment, wait until all are served."""
    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {token}"}
    connector = aiohttp.TCPConnector(limit=opts.clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        await wait_for_web(run, session, base)
        document_id = await upload_pdf(session, base, auth)
        outcome.failures += await create_dispatches(session, base, auth, document_id, opts)
    await sink.reached.wait()
    fault_started = time.time()
    fault = asyncio.create_task(run.scenario.fault(run))
    affected = await in_flight(direct_url)
    await fault
    await wait_for_all(run, direct_url, opts.n, fault_started + opts.timeout)
    times = await served_times(direct_url)
    if affected and all(d in times for d in affected):
        outcome.recovery = max(times[d] for d in affected) - fault_started
    elif not affected:
        outcome.recovery = 0.0
    if len(times) >= opts.n:
        outcome.drained = max(times.values()) - fault_started


async def wait_for_web(run: Run, session: aiohttp.ClientSession, base: str) -> None:
    while True:
        run.check_alive()
        with suppress(aiohttp.ClientError):
            async with session.get(f"{base}/healthz") as response:
                if response.status == 200:
                    return
        await asyncio.sleep(0.2)


# --- the table -----------------------------------------------------------------------------------


def seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def table(outcomes: list[Outcome]) -> str:
    lines = [
        "| scenario | n | lost | double-served | duplicate mail | re-sent, outcome unknown | "
        "misdated | recovery s | drained s | result |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        verdict = "PASS" if o.passed else "FAIL"
        lines.append(
            f"| {o.scenario} | {o.n} | {o.lost} | {o.double_served} | {o.duplicate_mail} | "
            f"{o.resent_unknown} | {o.misdated} | {seconds(o.recovery)} | "
            f"{seconds(o.drained)} | {verdict} |"
        )
    for o in outcomes:
        lines += [f"{o.scenario}: {failure}" for failure in o.failures]
    return "\n".join(lines)


def parse(argv: list[str] | None = None) -> tuple[Options, tuple[Scenario, ...]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="dispatches per scenario")
    parser.add_argument("--clients", type=int, default=20, help="concurrent API clients")
    parser.add_argument(
        "--only", default="", help=f"comma-separated: {', '.join(s.name for s in SCENARIOS)}"
    )
    parser.add_argument("--timeout", type=float, default=900, help="seconds per scenario")
    args = parser.parse_args(argv)
    wanted = {name for name in args.only.split(",") if name}
    unknown = wanted - {s.name for s in SCENARIOS}
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    opts = Options(
        n=args.n,
        clients=args.clients,
        databases=(),
        topologies=(),
        pool_size=int(os.environ.get("SONGDA_SMTP_POOL_SIZE", "4")),
        timeout=args.timeout,
        profile=None,
    )
    return opts, tuple(s for s in SCENARIOS if not wanted or s.name in wanted)


async def main(argv: list[str] | None = None) -> int:
    opts, scenarios = parse(argv)
    outcomes = []
    for scenario in scenarios:
        print(f"{scenario.name}: {opts.n} dispatches …", flush=True)
        outcome = await run_scenario(scenario, opts)
        outcomes.append(outcome)
        print(table([outcome]).splitlines()[2], flush=True)
    print()
    print(table(outcomes))
    return 0 if all(not o.failures for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
