"""Songda under test: its child processes, their environment, database and Redis.

Shared by the benches that run the real service (``email_throughput.py``, ``faults.py``,
``backlog.py``, ``workspace.py``): each process is ``songda <command>`` through
``counted_songda.py``, on a fresh data directory, a fresh migrated database and its own queue
name on the local Redis, and every run cleans up what it made there."""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import socket
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar
from zoneinfo import ZoneInfo

import aiohttp
import sqlalchemy as sa
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from throughput_sink import STALL_SECONDS

from delivery.clock import SystemClock
from delivery.config_checks import DEFAULT_TIME_ZONE
from delivery.infra.keys import active_kid, create_key
from delivery.infra.secret_box import new_key
from delivery.services.api_keys import create_api_key
from delivery.storage.engine import READ_ONLY, create_engine
from delivery.storage.migrate import upgrade
from delivery.storage.outcome_tallies import keep_tallies_in
from delivery.storage.schema import certificates, dispatches

PG_ADMIN_URL = os.environ.get(
    "SONGDA_BENCH_PG_URL", "postgresql+asyncpg://root@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("SONGDA_BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
BENCH_DIR = Path(__file__).resolve().parent
SERVICE_SCRIPT = BENCH_DIR / "counted_songda.py"
ARQ_JOB_KEYS = ("job", "retry", "in-progress", "result")
COURT = "杭州市西湖区人民法院"
SENDER = "service@court.example"
SECRET_KEY = "bench-secret-key-that-is-long-enough-0123456789"
SECRETS_KEY = new_key()  # every process of one run shares it
T = TypeVar("T")


@dataclass(frozen=True)
class Options:
    n: int
    clients: int
    databases: tuple[str, ...]
    topologies: tuple[str, ...]
    pool_size: int
    timeout: float
    profile: str | None


# --- database, Redis ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Database:
    kind: str
    url: str
    pg_name: str | None = None


async def pg_admin(sql: str) -> Any:
    admin = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            result = await conn.execute(sa.text(sql))
            return result.scalar() if result.returns_rows else None
    finally:
        await admin.dispose()


@asynccontextmanager
async def fresh_database(kind: str, data_dir: Path) -> AsyncIterator[Database]:
    """A new database, migrated and with its outcomes tallied as `songda db upgrade` leaves it
    (the `split` topology's processes do not prepare it): a file in ``data_dir``, or a
    PostgreSQL database dropped after."""
    if kind == "sqlite":
        database = Database(kind, f"sqlite+aiosqlite:///{data_dir / 'songda.db'}")
    else:
        name = f"songda_bench_{uuid.uuid4().hex[:12]}"
        await pg_admin(f'CREATE DATABASE "{name}"')
        database = Database(kind, PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", name)
    try:
        engine = create_engine(database.url)
        await upgrade(engine)
        await keep_tallies_in(engine, ZoneInfo(DEFAULT_TIME_ZONE))
        await engine.dispose()
        yield database
    finally:
        if database.pg_name is not None:
            await pg_admin(f'DROP DATABASE IF EXISTS "{database.pg_name}" WITH (FORCE)')


@dataclass(frozen=True)
class BenchKey:
    """The case system's API key: the token goes in its requests; the id scopes what the bench
    counts, since a seeded database (``flat_cost.py``) holds other keys' dispatches too."""

    id: str
    token: str


async def new_api_key(url: str) -> BenchKey:
    engine = create_engine(url)
    try:
        key, token = await create_api_key(engine, SystemClock(), "bench", [COURT])
    finally:
        await engine.dispose()
    return BenchKey(key.id, token)


async def server_transactions(database: Database) -> int | None:
    """PostgreSQL's count of committed plus rolled-back transactions in the bench database."""
    if database.pg_name is None:
        return None
    value = await pg_admin(
        "SELECT xact_commit + xact_rollback FROM pg_stat_database "
        f"WHERE datname = '{database.pg_name}'"
    )
    return int(value or 0)


async def dispatch_states(engine: AsyncEngine, api_key_id: str) -> dict[str, int]:
    """How many of the dispatches made with the key ``api_key_id`` are in each state."""
    async with engine.connect() as conn:
        conn = await conn.execution_options(**READ_ONLY)
        rows = await conn.execute(
            sa.select(dispatches.c.state, sa.func.count())
            .where(dispatches.c.api_key_id == api_key_id)
            .group_by(dispatches.c.state)
        )
        return {str(state): int(count) for state, count in rows}


async def certificate_count(engine: AsyncEngine, api_key_id: str) -> int:
    """How many certificates the dispatches made with the key ``api_key_id`` have."""
    async with engine.connect() as conn:
        conn = await conn.execution_options(**READ_ONLY)
        mine = sa.select(dispatches.c.id).where(dispatches.c.api_key_id == api_key_id)
        counted = sa.select(sa.func.count()).where(certificates.c.dispatch_id.in_(mine))
        return int(await conn.scalar(counted) or 0)


async def wait_until_served(url: str, n: int, api_key_id: str) -> dict[str, int]:
    """Poll until ``n`` of the key's dispatches are served or none has been for
    ``STALL_SECONDS``; their states."""

    async def read(engine: AsyncEngine) -> dict[str, int]:
        return await dispatch_states(engine, api_key_id)

    return await _wait_for(url, read, lambda states: states.get("served", 0), n)


async def wait_until_certified(url: str, n: int, api_key_id: str, deadline: float) -> int:
    """Poll until the key's dispatches have ``n`` certificates, none has been issued for
    ``STALL_SECONDS``, or ``time.perf_counter()`` passes ``deadline``; the count."""

    async def read(engine: AsyncEngine) -> int:
        return await certificate_count(engine, api_key_id)

    return await _wait_for(url, read, lambda count: count, n, deadline)


async def _wait_for(
    url: str,
    read: Callable[[AsyncEngine], Awaitable[T]],
    progress: Callable[[T], int],
    n: int,
    deadline: float = math.inf,
) -> T:
    """Poll ``read`` until its ``progress`` reaches ``n``, stalls for ``STALL_SECONDS`` or the
    deadline passes; what it read last."""
    engine = create_engine(url)
    try:
        progress_at, done = time.perf_counter(), -1
        while True:
            found = await read(engine)
            now = time.perf_counter()
            if progress(found) >= n or now > deadline:
                return found
            if progress(found) > done:
                progress_at, done = now, progress(found)
            elif now - progress_at > STALL_SECONDS:
                return found
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
