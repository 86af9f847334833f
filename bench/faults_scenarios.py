"""The faults of ``faults.py``: each scenario's processes, database, and what it breaks.

A scenario is one entry of :data:`SCENARIOS`: its name, the ``songda`` processes it runs, its
database, its fault function (given the :class:`Run`, it breaks something once and returns
when the fault is over) and whether it needs a proxied database or a Redis of its own.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from redis.asyncio import Redis
from sqlalchemy.engine import make_url
from throughput_service import (
    REDIS_URL,
    SERVICE_SCRIPT,
    Database,
    log_tail,
    stop_process,
)

from delivery.jobs.embedded_redis import EmbeddedRedis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from tcp_proxy import TcpProxy

OUTAGE_SECONDS = 18.0
RESTART_AFTER_SECONDS = 1.0
RECOVERY_TARGET = 60.0


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
