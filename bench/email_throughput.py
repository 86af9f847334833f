"""E-mail throughput: how close Songda comes to the raw speed of its own SMTP connections.

Run: ``.venv/bin/python bench/email_throughput.py [--n 2000] [--clients 50]
[--databases sqlite,postgresql] [--topologies run,split] [--profile]``.

For each database and each topology this measures, in one run:

1. **Songda**, in one of two topologies, each through :func:`delivery.cli.main` wrapped by
   ``bench/counted_songda.py`` only to count database round trips:

   - ``run``: ``songda run`` (web + arq worker in one process) in one *child process*, which also
     migrates the database itself (a no-op here);
   - ``split``: ``songda web`` and ``songda worker`` in two child processes with the same
     environment (database, data directory, Redis URL and queue name), as ``compose.yaml`` deploys
     them on PostgreSQL. They do not migrate; the bench has already done it (as ``songda db
     upgrade`` would). ``songda web``/``worker`` need an external Redis and refuse SQLite, so
     ``split`` only runs on PostgreSQL and is skipped, with a note, for SQLite.

   Either way the service runs on a fresh data directory, a freshly migrated database, the local
   Redis with its own queue name, and an SMTP sink on loopback; the clock starts only once the web
   server answers ``/healthz`` and the arq worker has polled its queue (its health-check key is in
   Redis). This process plays the case system: C concurrent aiohttp clients create N dispatches
   through ``POST /api/v1/dispatches`` (unique reference, one recipient-confirmed address each, one
   shared uploaded PDF). The clock runs from the first request until the N-th distinct recipient's
   message has arrived in the sink: **dispatches/s**. Afterwards every dispatch must be ``served``
   in the database, every request must have got 201 and the sink must hold all N recipients, or the
   run counts as failed (exit code 1).
2. **Raw.** The same rendered messages (:func:`channels.email.adapter.build_email` on the same
   :class:`~delivery.channel_api.ServiceMessage` shape, rendered before the clock starts) are sent
   with plain aiosmtplib over the same number of reused connections (``SONGDA_SMTP_POOL_SIZE``,
   default 4) from one child process to the same kind of sink in this process: **raw sends/s**.
   It is measured once per database, before its topologies, and is the baseline of all of them:
   the ``split`` row (web, worker and this process: three busy processes on two cores) is
   compared with the same single raw sender as the ``run`` row.
3. **Ratio** = dispatches/s ÷ raw sends/s; target ≥ 0.1 now, ≥ 0.25 long-term.
4. **DB round trips per dispatch**, counted inside the service process(es) between two snapshots
   (just before the first request, and once all dispatches are served) through SQLAlchemy events:
   statements, plus on PostgreSQL each ``BEGIN`` and the 3 round trips of each pool pre-ping, plus
   commits and rollbacks (see ``counted_songda.py``); statements are also shown by kind. With
   ``split`` both processes get ``SIGUSR1`` and their counters are summed. On PostgreSQL the
   server's own count of transactions (``pg_stat_database``, over the service's whole life) is
   shown as a cross-check.
5. **CPU** of each service process (``run``; or ``web`` and ``worker``) as a share of one core
   from the first request until all dispatches are served.

``--profile`` (or ``--profile cprofile``) runs cProfile in each service process during the measured
window and prints the top 25 functions (for ``split``: one profile for ``web`` and one for
``worker``); ``--profile sample`` samples each main thread's stack per millisecond of CPU instead
(``bench/stack_sampler.py``) and prints the CPU time per stage of Songda's work. Figures of a
profiled run are slower and only show where the time goes.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import multiprocessing
import os
import pstats
import shutil
import signal
import socket
import sys
import tempfile
import textwrap
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import IO, Any

import aiohttp
import aiosmtplib
import sqlalchemy as sa
from aiosmtpd.smtp import SMTP, Envelope, Session
from pypdf import PdfWriter
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from channels.email.adapter import build_email
from delivery.channel_api import ServiceMessage
from delivery.clock import SystemClock
from delivery.config import SmtpSettings
from delivery.ids import new_id
from delivery.infra.keys import active_kid, create_key
from delivery.infra.secret_box import new_key
from delivery.services.api_keys import create_api_key
from delivery.storage.engine import READ_ONLY, create_engine
from delivery.storage.migrate import upgrade
from delivery.storage.schema import dispatches
from tracking.links import LinkClaims, issue_token

PG_ADMIN_URL = os.environ.get(
    "SONGDA_BENCH_PG_URL", "postgresql+asyncpg://root@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("SONGDA_BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
BENCH_DIR = Path(__file__).resolve().parent
SERVICE_SCRIPT = BENCH_DIR / "counted_songda.py"
STALL_SECONDS = 30.0
ARQ_JOB_KEYS = ("job", "retry", "in-progress", "result")
TARGET_NOW = 0.1
TARGET_LONG_TERM = 0.25
TOPOLOGIES = {"run": ("run",), "split": ("web", "worker")}  # topology → its `songda` processes
PING_ROUND_TRIPS = 3  # SQLAlchemy's asyncpg pre-ping: BEGIN, ";", ROLLBACK

COURT = "杭州市西湖区人民法院"
CASE_NUMBER = "(2026)浙0106民初1234号"
RECIPIENT = "张三"
DOCUMENT_TITLE = "民事起诉状"
SENDER = "service@court.example"
SECRET_KEY = "bench-secret-key-that-is-long-enough-0123456789"
SECRETS_KEY = new_key()  # every process of one run shares it
TIME_ZONE = "Asia/Shanghai"


def one_page_pdf() -> bytes:
    """A blank one-page PDF: uploads are parsed as PDFs (delivery/infra/pdf_check.py)."""
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    _written, out = writer.write(io.BytesIO())
    assert isinstance(out, io.BytesIO)
    return out.getvalue()


@dataclass(frozen=True)
class Options:
    n: int
    clients: int
    databases: tuple[str, ...]
    topologies: tuple[str, ...]
    pool_size: int
    timeout: float
    profile: str | None


@dataclass(frozen=True)
class RawResult:
    rate: float
    render_ms: float
    sender_cpu: float
    sink_cpu: float


@dataclass
class Result:
    database: str
    topology: str
    failures: list[str] = field(default_factory=list)
    dispatch_rate: float = 0.0
    create_rate: float = 0.0
    raw: RawResult | None = None
    counts: dict[str, int] = field(default_factory=dict)
    statements: dict[str, int] = field(default_factory=dict)
    server_transactions: int | None = None
    served_rate: float = 0.0
    # cores used per service process ("run", or "web" and "worker") from the first request
    # until all were served
    service_cpu: dict[str, float] = field(default_factory=dict)
    client_cpu: float = 0.0
    profile: str | None = None

    @property
    def raw_rate(self) -> float:
        return self.raw.rate if self.raw else 0.0

    @property
    def ratio(self) -> float:
        return self.dispatch_rate / self.raw_rate if self.raw_rate else 0.0


def address(i: int) -> str:
    return f"r{i:06d}@example.com"


# --- the SMTP sink ---------------------------------------------------------------------------


class CountingSink:
    """An aiosmtpd handler that only counts; it notes when the expected recipients are all in."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.messages = 0
        self.recipients: set[str] = set()
        self.done = asyncio.Event()
        self.completed_at = 0.0

    async def handle_DATA(self, _server: SMTP, _session: Session, envelope: Envelope) -> str:
        self.messages += 1
        self.recipients.update(envelope.rcpt_tos)
        if len(self.recipients) >= self.expected and not self.done.is_set():
            self.completed_at = time.perf_counter()
            self.done.set()
        return "250 Message accepted for delivery"

    async def wait(self, stall: float) -> None:
        """Wait until all are in; raise :class:`Stalled` if no message comes for ``stall`` s."""
        while not self.done.is_set():
            seen = self.messages
            with suppress(TimeoutError):
                await asyncio.wait_for(self.done.wait(), stall)
            if not self.done.is_set() and self.messages == seen:
                raise Stalled(f"the sink has {len(self.recipients)} of {self.expected} recipients")


class Stalled(Exception):
    """No progress for ``STALL_SECONDS``: the run has failed."""


@asynccontextmanager
async def sink_server(sink: CountingSink) -> AsyncIterator[int]:
    """Serve ``sink`` on a loopback port; yields the port."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(sink), "127.0.0.1", 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()


# --- database, Redis ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Database:
    kind: str
    url: str
    pg_name: str | None = None


async def _pg_admin(sql: str) -> Any:
    admin = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            result = await conn.execute(sa.text(sql))
            return result.scalar() if result.returns_rows else None
    finally:
        await admin.dispose()


@asynccontextmanager
async def fresh_database(kind: str, data_dir: Path) -> AsyncIterator[Database]:
    """A new, migrated database: a file in ``data_dir``, or a PostgreSQL database dropped after."""
    if kind == "sqlite":
        database = Database(kind, f"sqlite+aiosqlite:///{data_dir / 'songda.db'}")
    else:
        name = f"songda_bench_{uuid.uuid4().hex[:12]}"
        await _pg_admin(f'CREATE DATABASE "{name}"')
        database = Database(kind, PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", name)
    try:
        engine = create_engine(database.url)
        await upgrade(engine)
        await engine.dispose()
        yield database
    finally:
        if database.pg_name is not None:
            await _pg_admin(f'DROP DATABASE IF EXISTS "{database.pg_name}" WITH (FORCE)')


async def new_api_key(url: str) -> str:
    engine = create_engine(url)
    try:
        _key, token = await create_api_key(engine, SystemClock(), "bench", [COURT])
    finally:
        await engine.dispose()
    return token


async def server_transactions(database: Database) -> int | None:
    """PostgreSQL's count of committed plus rolled-back transactions in the bench database."""
    if database.pg_name is None:
        return None
    value = await _pg_admin(
        "SELECT xact_commit + xact_rollback FROM pg_stat_database "
        f"WHERE datname = '{database.pg_name}'"
    )
    return int(value or 0)


async def dispatch_states(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        conn = await conn.execution_options(**READ_ONLY)
        rows = await conn.execute(
            sa.select(dispatches.c.state, sa.func.count()).group_by(dispatches.c.state)
        )
        return {str(state): int(count) for state, count in rows}


async def wait_until_served(url: str, n: int) -> dict[str, int]:
    """Poll until ``n`` dispatches are served or none has been for ``STALL_SECONDS``."""
    engine = create_engine(url)
    try:
        progress_at, served = time.perf_counter(), -1
        while True:
            states = await dispatch_states(engine)
            if states.get("served", 0) >= n:
                return states
            if states.get("served", 0) > served:
                progress_at, served = time.perf_counter(), states.get("served", 0)
            elif time.perf_counter() - progress_at > STALL_SECONDS:
                return states
            await asyncio.sleep(0.05)
    finally:
        await engine.dispose()


async def forget_queue(queue_name: str) -> None:
    """Best effort: remove what the stopped service left on Redis.

    arq keeps a job's definition, retry counter and lock under ``arq:*:<job id>``, outside the
    queue's own key, until the job finishes; jobs still queued at shutdown are the queue's members.
    """
    redis = Redis.from_url(REDIS_URL)
    try:
        with suppress(RedisError):
            job_ids = [m.decode() for m in await redis.zrange(queue_name, 0, -1)]
            keys = [f"arq:{kind}:{job}" for job in job_ids for kind in ARQ_JOB_KEYS]
            await redis.delete(queue_name, f"{queue_name}:health-check", *keys)
    finally:
        await redis.aclose()


# --- the service process -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def service_env(
    opts: Options, url: str, data_dir: Path, port: int, smtp_port: int, queue: str, process: str
) -> dict[str, str]:
    """The environment of one service process; only the counter and profile files differ."""
    if active_kid(data_dir / "keys") is None:  # as `songda keys create` would
        create_key(data_dir / "keys", SystemClock())
    env = {k: v for k, v in os.environ.items() if not k.startswith("SONGDA_")}
    env.update(
        {
            "SONGDA_DATA_DIR": str(data_dir),
            "SONGDA_DATABASE_URL": url,
            "SONGDA_REDIS_URL": REDIS_URL,
            "SONGDA_QUEUE_NAME": queue,
            "SONGDA_SECRET_KEY": SECRET_KEY,
            "SONGDA_SECRETS_KEY": SECRETS_KEY,
            "SONGDA_COURT_NAME": COURT,
            "SONGDA_PORT": str(port),
            "SONGDA_SMTP_HOST": "127.0.0.1",
            "SONGDA_SMTP_PORT": str(smtp_port),
            "SONGDA_SMTP_SENDER": SENDER,
            "SONGDA_SMTP_POOL_SIZE": str(opts.pool_size),
            "SONGDA_BENCH_COUNTS": str(counts_path(data_dir, process)),
        }
    )
    if opts.profile == "cprofile":
        env["SONGDA_BENCH_PROFILE"] = str(profile_path(data_dir, process, opts.profile))
    elif opts.profile == "sample":
        env["SONGDA_BENCH_SAMPLE"] = str(profile_path(data_dir, process, opts.profile))
    return env


def counts_path(data_dir: Path, process: str) -> Path:
    return data_dir / f"counts-{process}.json"


def profile_path(data_dir: Path, process: str, kind: str) -> Path:
    return data_dir / (f"{process}.prof" if kind == "cprofile" else f"samples-{process}.json")


def _open_log(path: Path) -> IO[bytes]:
    return path.open("wb")


@asynccontextmanager
async def running_process(command: str, env: dict[str, str], log_path: Path) -> AsyncIterator[Any]:
    """``songda <command>`` (with counters) in a child process, stopped with SIGTERM afterwards."""
    with _open_log(log_path) as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(SERVICE_SCRIPT), command, env=env, stdout=log, stderr=log
        )
    try:
        yield proc
    finally:
        await stop_process(proc)


async def stop_process(proc: Any) -> None:
    """SIGTERM, then SIGKILL if it has not ended within 20 s."""
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 20)
        except TimeoutError:
            proc.kill()
            await proc.wait()


def log_tail(path: Path, lines: int = 15) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@dataclass(frozen=True)
class ServiceProcess:
    """One service process: ``songda run``, ``web`` or ``worker``, its log and counters file."""

    command: str
    proc: Any
    log: Path
    counts_path: Path

    def check_alive(self) -> None:
        if self.proc.returncode is not None:
            raise RuntimeError(
                f"songda {self.command} exited with {self.proc.returncode}:\n{log_tail(self.log)}"
            )

    async def counters(self, after: int = 0) -> dict[str, Any]:
        """Ask for the counters (SIGUSR1) and wait for a snapshot newer than ``after``."""
        self.proc.send_signal(signal.SIGUSR1)
        while True:
            data = _read_counters(self.counts_path)
            if data is not None and data["snapshot"] > after:
                return data
            self.check_alive()
            await asyncio.sleep(0.01)

    def cpu_seconds(self) -> float:
        """User plus system CPU time of the process (Linux)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Service:
    """The running service: its processes (one for ``run``, two for ``split``) and its URL."""

    processes: tuple[ServiceProcess, ...]
    base: str
    queue: str

    def check_alive(self) -> None:
        for process in self.processes:
            process.check_alive()

    async def counters(self, after: list[int] | None = None) -> list[dict[str, Any]]:
        """Every process's counters, asked for together; each newer than its ``after``."""
        after = after or [0] * len(self.processes)
        return list(
            await asyncio.gather(
                *(p.counters(a) for p, a in zip(self.processes, after, strict=True))
            )
        )

    def cpu_seconds(self) -> dict[str, float]:
        return {p.command: p.cpu_seconds() for p in self.processes}


async def wait_ready(session: aiohttp.ClientSession, service: Service) -> None:
    """Until the web server answers ``/healthz`` and the arq worker has polled its queue once.

    arq writes ``<queue>:health-check`` at the end of its first poll iteration.
    """
    redis = Redis.from_url(REDIS_URL)
    try:
        healthy = False
        while True:
            service.check_alive()
            if not healthy:
                with suppress(aiohttp.ClientError):
                    async with session.get(f"{service.base}/healthz") as response:
                        healthy = response.status == 200
            if healthy and await redis.exists(f"{service.queue}:health-check"):
                return
            await asyncio.sleep(0.1)
    finally:
        await redis.aclose()


def _read_counters(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.exists() else None


def difference(after: dict[str, Any], before: dict[str, Any]) -> dict[str, int]:
    """``after - before`` for the numeric counters."""
    return {k: v - before.get(k, 0) for k, v in after.items() if isinstance(v, int)}


def summed(counters: list[dict[str, int]]) -> dict[str, int]:
    """The counters of several processes added up."""
    total: Counter[str] = Counter()
    for counts in counters:
        total.update(counts)
    return dict(total)


# --- the case system ---------------------------------------------------------------------------


async def upload_pdf(session: aiohttp.ClientSession, base: str, auth: dict[str, str]) -> str:
    form = aiohttp.FormData()
    form.add_field("title", DOCUMENT_TITLE)
    form.add_field("kind", "complaint")
    form.add_field("file", one_page_pdf(), filename="doc.pdf", content_type="application/pdf")
    async with session.post(f"{base}/api/v1/documents", data=form, headers=auth) as response:
        if response.status != 201:
            raise RuntimeError(f"upload failed: {response.status} {await response.text()}")
        return str((await response.json())["id"])


def dispatch_body(i: int, document_id: str) -> dict[str, Any]:
    return {
        "court": COURT,
        "case_number": CASE_NUMBER,
        "reference": f"bench-{i:06d}",
        "policy": "cn-civil",
        "documents": [document_id],
        "recipient": {
            "name": RECIPIENT,
            "role": "defendant",
            "id_number": "33010619900101123X",
            "e_service_consent": {"given": True, "basis": "express"},
            "emails": [{"address": address(i), "source": "recipient_confirmed"}],
        },
    }


async def create_dispatches(
    session: aiohttp.ClientSession,
    base: str,
    auth: dict[str, str],
    document_id: str,
    opts: Options,
) -> list[str]:
    """POST N dispatches from C concurrent clients; returns a line per request that failed."""
    failures: list[str] = []
    indexes: Iterator[int] = iter(range(opts.n))

    async def client() -> None:
        for i in indexes:
            body = dispatch_body(i, document_id)
            async with session.post(f"{base}/api/v1/dispatches", json=body, headers=auth) as r:
                text = await r.text()
                if r.status != 201:
                    failures.append(f"dispatch {i}: HTTP {r.status} {text[:200]}")

    await asyncio.gather(*(client() for _ in range(opts.clients)))
    return failures


# --- one database, one topology ---------------------------------------------------------------


async def measure_songda(opts: Options, database: Database, workdir: Path, result: Result) -> None:
    """Start the service (its topology's processes) and the sink, drive the run, collect figures.

    The database is already migrated (:func:`fresh_database`, as ``songda db upgrade`` does);
    ``songda run`` migrates once more itself, ``songda web`` and ``songda worker`` do not.
    """
    token = await new_api_key(database.url)
    queue = f"songda:bench:{uuid.uuid4().hex}"
    port = free_port()
    sink = CountingSink(opts.n)
    transactions_before = await server_transactions(database)
    commands = TOPOLOGIES[result.topology]
    try:
        async with AsyncExitStack() as stack:
            smtp_port = await stack.enter_async_context(sink_server(sink))
            processes = []
            for command in commands:
                env = service_env(opts, database.url, workdir, port, smtp_port, queue, command)
                log = workdir / f"{command}.log"
                proc = await stack.enter_async_context(running_process(command, env, log))
                processes.append(ServiceProcess(command, proc, log, counts_path(workdir, command)))
            session = await stack.enter_async_context(
                aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=opts.clients))
            )
            service = Service(tuple(processes), f"http://127.0.0.1:{port}", queue)
            await wait_ready(session, service)
            states = await drive(opts, service, session, token, sink, database.url, result)
        result.failures += check_outcome(opts.n, sink, states)
    finally:
        await forget_queue(queue)
    if transactions_before is not None:
        await asyncio.sleep(1.0)  # backends publish their statistics as they exit
        transactions_after = await server_transactions(database)
        result.server_transactions = (transactions_after or 0) - transactions_before
    if opts.profile:
        summarise = profile_summary if opts.profile == "cprofile" else sample_summary
        result.profile = "\n".join(
            summarise(profile_path(workdir, command, opts.profile), f"songda {command}")
            for command in commands
        )


async def drive(
    opts: Options,
    service: Service,
    session: aiohttp.ClientSession,
    token: str,
    sink: CountingSink,
    url: str,
    result: Result,
) -> dict[str, int]:
    """The timed part: create, wait for the N-th mail, wait for ``served``; returns the states."""
    auth = {"Authorization": f"Bearer {token}"}
    document_id = await upload_pdf(session, service.base, auth)
    before = await service.counters()
    cpu_before, client_cpu_before = service.cpu_seconds(), time.process_time()
    started = time.perf_counter()
    result.failures += await create_dispatches(session, service.base, auth, document_id, opts)
    result.create_rate = opts.n / (time.perf_counter() - started)
    await sink.wait(STALL_SECONDS)
    result.dispatch_rate = opts.n / (sink.completed_at - started)
    states = await wait_until_served(url, opts.n)
    elapsed = time.perf_counter() - started
    result.served_rate = opts.n / elapsed
    cpu_after = service.cpu_seconds()
    result.service_cpu = {k: (cpu_after[k] - cpu_before[k]) / elapsed for k in cpu_after}
    result.client_cpu = (time.process_time() - client_cpu_before) / elapsed
    after = await service.counters([b["snapshot"] for b in before])
    result.counts = summed([difference(a, b) for a, b in zip(after, before, strict=True)])
    result.statements = summed(
        [
            difference(a["by_statement"], b["by_statement"])
            for a, b in zip(after, before, strict=True)
        ]
    )
    return states


def check_outcome(n: int, sink: CountingSink, states: dict[str, int]) -> list[str]:
    failures = []
    if states.get("served", 0) != n or sum(states.values()) != n:
        failures.append(f"expected {n} served dispatches, found {states}")
    if sink.recipients != {address(i) for i in range(n)}:
        failures.append(f"sink holds {len(sink.recipients)} of {n} recipients")
    if sink.messages != n:
        failures.append(f"sink received {sink.messages} messages for {n} dispatches")
    return failures


async def bounded(opts: Options, failures: list[str], work: Awaitable[None]) -> None:
    """``work`` within ``--timeout``; a timeout, stall or error becomes a line in ``failures``."""
    try:
        async with asyncio.timeout(opts.timeout):
            await work
    except TimeoutError:
        failures.append(f"timed out after {opts.timeout:.0f}s")
    except Stalled as exc:
        failures.append(f"stalled for {STALL_SECONDS:.0f}s: {exc}")
    except Exception as exc:  # report it as a failed run rather than a traceback
        failures.append(f"{type(exc).__name__}: {exc}")


async def run_topology(opts: Options, kind: str, topology: str) -> Result:
    """One topology on a fresh data directory and a fresh migrated database."""
    result = Result(kind, topology)
    workdir = Path(tempfile.mkdtemp(prefix=f"songda-bench-{kind}-{topology}-"))

    async def work() -> None:
        async with fresh_database(kind, workdir) as database:
            await measure_songda(opts, database, workdir, result)

    try:
        await bounded(opts, result.failures, work())
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return result


def topologies_for(opts: Options, kind: str) -> tuple[tuple[str, ...], list[str]]:
    """The topologies that apply to a database, and a note for each one skipped."""
    if kind != "sqlite" or "split" not in opts.topologies:
        return opts.topologies, []
    note = (
        "sqlite: `split` skipped — `songda web` and `songda worker` refuse SQLite (one process "
        "only) and need an external Redis; it applies to PostgreSQL"
    )
    return tuple(t for t in opts.topologies if t != "split"), [note]


async def run_database(opts: Options, kind: str, topologies: tuple[str, ...]) -> list[Result]:
    """The raw baseline, then each topology in turn, all compared with that one baseline."""
    raw: list[RawResult] = []
    raw_failures: list[str] = []

    async def measure() -> None:
        raw.append(await measure_raw(opts.n, opts.pool_size))

    await bounded(opts, raw_failures, measure())
    results = []
    for topology in topologies:
        result = await run_topology(opts, kind, topology)
        result.raw = raw[0] if raw else None
        result.failures += [f"raw run: {failure}" for failure in raw_failures]
        report(opts, result)
        results.append(result)
    return results


# --- raw aiosmtplib ----------------------------------------------------------------------------


def smtp_settings(port: int, pool_size: int) -> SmtpSettings:
    return SmtpSettings(
        host="127.0.0.1",
        port=port,
        tls="none",
        username=None,
        password=None,
        sender=SENDER,
        pool_size=pool_size,
        timeout=30.0,
    )


def sample_message(i: int, now: datetime) -> ServiceMessage:
    """A message shaped like the ones ``delivery.services.sending`` builds."""
    attempt_id = new_id()
    claims = LinkClaims(attempt_id, now, now + timedelta(days=30))
    return ServiceMessage(
        attempt_id=attempt_id,
        dispatch_id=new_id(),
        address=address(i),
        locale="zh-CN",
        court=COURT,
        case_number=CASE_NUMBER,
        recipient_name=RECIPIENT,
        document_titles=(DOCUMENT_TITLE,),
        link_url=f"http://127.0.0.1:8080/r/{issue_token(SECRET_KEY, claims)}",
        link_expires_at=claims.expires_at,
        time_zone=TIME_ZONE,
        composed_at=now,
        notice_code="ABCD-2345",
        check_url="http://127.0.0.1:8080/check",
    )


def raw_sender(port: int, n: int, connections: int, pipe: Connection) -> None:
    """Child process: render N messages, connect, report ready, send on "go"."""
    asyncio.run(_raw_send(port, n, connections, pipe))


async def _raw_send(port: int, n: int, connections: int, pipe: Connection) -> None:
    smtp = smtp_settings(port, connections)
    now = datetime.now(UTC)
    started = time.perf_counter()
    emails = [build_email(sample_message(i, now), smtp) for i in range(n)]
    render_seconds = time.perf_counter() - started
    clients = [aiosmtplib.SMTP(hostname="127.0.0.1", port=port) for _ in range(connections)]
    for client in clients:
        await client.connect()
    pipe.send(render_seconds)
    await asyncio.to_thread(pipe.recv)
    cpu_started = time.process_time()
    pending = iter(emails)

    async def drain(client: aiosmtplib.SMTP) -> None:
        for email in pending:
            await client.send_message(email)

    await asyncio.gather(*(drain(c) for c in clients))
    pipe.send(time.process_time() - cpu_started)
    for client in clients:
        await client.quit()


async def _receive(pipe: Connection, seconds: float = 120) -> Any:
    if not await asyncio.to_thread(pipe.poll, seconds):
        raise TimeoutError("the raw sender did not answer")
    return pipe.recv()


async def measure_raw(n: int, connections: int) -> RawResult:
    """Plain aiosmtplib from a child process, over ``connections`` reused connections."""
    spawn = multiprocessing.get_context("spawn")
    ours, theirs = spawn.Pipe()
    sink = CountingSink(n)
    async with sink_server(sink) as port:
        proc = spawn.Process(target=raw_sender, args=(port, n, connections, theirs), daemon=True)
        proc.start()
        try:
            render_seconds = await _receive(ours)
            started, sink_cpu = time.perf_counter(), time.process_time()
            ours.send("go")
            await sink.wait(STALL_SECONDS)
            sink_cpu = time.process_time() - sink_cpu
            sender_cpu = await _receive(ours)
        finally:
            await asyncio.to_thread(proc.join, 10)
            if proc.is_alive():
                proc.terminate()
    if sink.messages != n:
        raise RuntimeError(f"raw run: the sink received {sink.messages} of {n} messages")
    elapsed = sink.completed_at - started
    return RawResult(
        n / elapsed, render_seconds / n * 1000, sender_cpu / elapsed, sink_cpu / elapsed
    )


# --- reporting ---------------------------------------------------------------------------------


def profile_summary(path: Path, process: str, top: int = 25) -> str:
    """The top functions by cumulative time, by own time, and own time summed per package."""
    stats = pstats.Stats(str(path))
    rows = stats.stats  # type: ignore[attr-defined]
    total = sum(tt for _cc, _nc, tt, _ct, _callers in rows.values())
    lines = [f"profile of the `{process}` process: {total:.2f}s in the event-loop thread"]
    packages: Counter[str] = Counter()
    for (filename, _line, name), (_cc, _nc, tt, _ct, _callers) in rows.items():
        packages[_package(filename, name)] += tt
    shares = (f"{package} {seconds / total:.0%}" for package, seconds in packages.most_common(16))
    lines.append(labelled("own time by package: ", ", ".join(shares)))
    for title, index, count in (("cumulative", 3, top), ("own time", 2, 15)):
        lines.append(f"top {count} by {title}:  cumtime  tottime    calls  function")
        ranked = sorted(rows.items(), key=lambda item: item[1][index], reverse=True)[:count]
        for (filename, line, name), (_cc, nc, tt, ct, _callers) in ranked:
            lines.append(f"  {ct:8.2f} {tt:8.2f} {nc:8d}  {_where(filename, line)} {name}")
    return "\n".join(lines)


def sample_summary(path: Path, process: str, top: int = 25) -> str:
    """Share of the event-loop thread's time per stage, with the libraries it was spent in."""
    data: dict[str, dict[str, int]] = json.loads(path.read_text())
    total = sum(sum(layers.values()) for layers in data.values())
    lines = [f"`{process}` CPU by stage: {total} samples, one per ms of CPU [libraries inside]"]
    stages = sorted(data.items(), key=lambda item: -sum(item[1].values()))
    for stage, layers in stages[:top]:
        count = sum(layers.values())
        inside = sorted(layers.items(), key=lambda item: -item[1])[:4]
        detail = ", ".join(f"{layer} {n / count:.0%}" for layer, n in inside)
        lines.append(labelled(f"  {count / total:6.1%}  ", f"{stage}  [{detail}]"))
    by_layer: Counter[str] = Counter()
    for layers in data.values():
        by_layer.update(layers)
    shares = (f"{layer} {n / total:.0%}" for layer, n in by_layer.most_common(14))
    lines.append(labelled("  by library: ", ", ".join(shares)))
    return "\n".join(lines)


def _package(filename: str, name: str) -> str:
    """The top-level package (or kind of built-in) a profiled function belongs to."""
    if filename == "~":
        if "epoll" in name:
            return "(idle: epoll)"
        return "(socket calls)" if "socket" in name else "(other built-ins)"
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in filename:
            return filename.split(marker, 1)[1].split("/", 1)[0].removesuffix(".py")
    return filename


def _where(filename: str, line: int) -> str:
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in filename:
            filename = filename.split(marker, 1)[1]
    return f"{filename}:{line}" if line else filename


def labelled(label: str, text: str) -> str:
    """``text`` wrapped to 100 columns after ``label``."""
    return textwrap.fill(
        text, 100, initial_indent=label, subsequent_indent=" " * len(label), break_on_hyphens=False
    )


def round_trips(kind: str, counts: dict[str, int]) -> dict[str, int]:
    """Round trips by kind, from the service's counters (see ``counted_songda.py``)."""
    trips = {
        "statements": counts.get("statements", 0),
        "commits": counts.get("commits", 0),
        "rollbacks": counts.get("rollbacks", 0),
    }
    if kind == "postgresql":
        trips["begins"] = counts.get("begins", 0)
        trips["pre-pings"] = PING_ROUND_TRIPS * counts.get("pings", 0)
    return trips


def verdict(result: Result) -> str:
    if result.failures:
        return "FAILED"
    return "PASS" if result.ratio >= TARGET_NOW else "SHORT"


def report(opts: Options, result: Result) -> None:
    """The figures for one database (only the failures if the run did not complete)."""
    print(f"\n== {result.database}, {result.topology}: {topology_label(result.topology)} ==")
    for failure in result.failures[:10]:
        print(f"  FAILURE: {failure}")
    if not (result.counts and result.raw):
        return
    n = opts.n
    trips = round_trips(result.database, result.counts)
    print(f"  dispatches/s           {result.dispatch_rate:9.1f}   (first request → N-th mail)")
    print(f"  raw sends/s            {result.raw_rate:9.1f}   (aiosmtplib, {opts.pool_size} conns)")
    print(
        f"  ratio                  {result.ratio:9.3f}   target ≥ {TARGET_NOW} now, "
        f"≥ {TARGET_LONG_TERM} long-term: {verdict(result)}"
    )
    print(f"  DB round trips/disp.   {sum(trips.values()) / n:9.1f}   " + _per(trips, n))
    kinds = sorted(
        ((k, v) for k, v in result.statements.items() if v / n >= 0.05), key=lambda kv: -kv[1]
    )
    print(labelled("  statements/dispatch    ", ", ".join(f"{k} {v / n:.1f}" for k, v in kinds)))
    if result.server_transactions is not None:
        print(
            f"  PG transactions/disp.  {result.server_transactions / n:9.1f}   "
            "(pg_stat_database, whole service life incl. start-up and sweeps)"
        )
    print(f"  API creates/s          {result.create_rate:9.1f}   (all {n} POSTs answered)")
    print(f"  served/s               {result.served_rate:9.1f}   (first request → all served)")
    print(
        f"  CPU until all served   {cpu_shares(result)} (share of one core), "
        f"clients+sink+polling {result.client_cpu:4.0%}"
    )
    print(
        f"  raw run CPU            sender {result.raw.sender_cpu:4.0%} of a core, "
        f"sink {result.raw.sink_cpu:4.0%}; rendering {result.raw.render_ms:.2f} ms/message "
        "(before the clock)"
    )
    if result.profile:
        print(result.profile)


def _per(trips: dict[str, int], n: int) -> str:
    return "(" + ", ".join(f"{k} {v / n:.1f}" for k, v in trips.items()) + ")"


def topology_label(topology: str) -> str:
    if topology == "run":
        return "`songda run` (web + worker, one process)"
    return "`songda web` + `songda worker` (two processes)"


def cpu_shares(result: Result) -> str:
    """``run 98%`` or ``web 60%, worker 85%``: each service process's share of one core."""
    return ", ".join(f"{process} {share:.0%}" for process, share in result.service_cpu.items())


def summary(opts: Options, results: list[Result], notes: list[str]) -> None:
    print(
        "\ndatabase    topology  dispatches/s  raw sends/s   ratio  target  result  "
        "round trips/disp.  service CPU"
    )
    for r in results:
        trips = sum(round_trips(r.database, r.counts).values()) / opts.n
        print(
            f"{r.database:<11} {r.topology:<8} {r.dispatch_rate:13.1f} {r.raw_rate:12.1f} "
            f"{r.ratio:7.3f}  ≥{TARGET_NOW:<5} {verdict(r):<7} {trips:17.1f}  {cpu_shares(r)}"
        )
    print(
        f"(raw: one aiosmtplib process over {opts.pool_size} reused connections, measured once "
        f"per database and shared by its rows; long-term target: ratio ≥ {TARGET_LONG_TERM})"
    )
    for note in notes:
        print(f"note: {note}")


def parse_args(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="dispatches (and raw messages)")
    parser.add_argument("--clients", type=int, default=50, help="concurrent HTTP clients")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument(
        "--topologies",
        default="run,split",
        help="run: `songda run`, one process; split: `songda web` + `songda worker` "
        "(PostgreSQL only)",
    )
    parser.add_argument("--pool-size", type=int, default=4, help="SMTP connections, both sides")
    parser.add_argument(
        "--timeout",
        type=float,
        default=300,
        help="seconds per database and topology (and for each raw run)",
    )
    parser.add_argument(
        "--profile",
        nargs="?",
        const="cprofile",
        choices=["cprofile", "sample"],
        help="profile the service process(es) during the measured window (split: both)",
    )
    args = parser.parse_args(argv)
    databases = _names(args.databases)
    topologies = _names(args.topologies)
    unknown = set(databases) - {"sqlite", "postgresql"} | set(topologies) - set(TOPOLOGIES)
    if (
        unknown
        or not databases
        or not topologies
        or args.n < 1
        or args.clients < 1
        or args.pool_size < 1
    ):
        parser.error(f"bad arguments (unknown databases or topologies: {sorted(unknown)})")
    return Options(
        args.n, args.clients, databases, topologies, args.pool_size, args.timeout, args.profile
    )


def _names(value: str) -> tuple[str, ...]:
    """A comma-separated list, stripped, duplicates dropped, order kept."""
    return tuple(dict.fromkeys(name.strip() for name in value.split(",") if name.strip()))


async def main(opts: Options) -> int:
    print(
        f"Songda e-mail throughput: {opts.n} dispatches, {opts.clients} HTTP clients, "
        f"{opts.pool_size} SMTP connections{' — PROFILED (slower)' if opts.profile else ''}\n"
        f"topologies: {', '.join(f'{t} = {topology_label(t)}' for t in opts.topologies)}; "
        "service in child processes, HTTP clients and SMTP sink in this process"
    )
    results: list[Result] = []
    notes: list[str] = []
    for kind in opts.databases:
        topologies, skipped = topologies_for(opts, kind)
        for note in skipped:
            print(f"\n== {kind} ==\n  note: {note}")
        notes += skipped
        results += await run_database(opts, kind, topologies) if topologies else []
    summary(opts, results, notes)
    return 1 if any(r.failures for r in results) else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
