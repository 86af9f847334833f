"""``songda`` as a real process: the CLI with only the ``SONGDA_*`` settings given, ``songda run
--sandbox`` on a free port, and reading its output."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from conftest import COURT, REDIS_URL, SECRETS_KEY

from delivery.context import Context


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def sandbox_process(
    data_dir: Path, name: str, *, embedded_redis: bool = False
) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """``songda run --sandbox`` (what ``make run`` starts) as a real process on a free port,
    its output on its stdout pipe; stopped with SIGTERM at the end (unless it has ended).
    (process, port). ``embedded_redis``: no SONGDA_REDIS_URL, so it starts its private Redis
    in ``data_dir`` (keep that path short: the unix socket's is limited)."""
    port = free_port()
    env = {
        "SONGDA_DATA_DIR": str(data_dir),
        "SONGDA_QUEUE_NAME": f"songda:test:{name}:{port}",
        "SONGDA_PORT": str(port),
    }
    if not embedded_redis:
        env["SONGDA_REDIS_URL"] = REDIS_URL
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SONGDA_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "delivery.cli.main", "run", "--sandbox"],
        env={**clean, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield process, port
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def read_until(process: subprocess.Popen[str], marker: str) -> list[str]:
    """A process's output lines up to the first that holds ``marker`` (fails at its end)."""
    assert process.stdout is not None
    lines: list[str] = []
    while not any(marker in line for line in lines):
        line = process.stdout.readline()
        assert line, lines
        lines.append(line)
    return lines


def cli_env(ctx: Context, **extra: str) -> dict[str, str]:
    """The settings a ``songda`` command needs to reach the test's database and keys."""
    s = ctx.settings
    return {
        "SONGDA_DATA_DIR": str(s.data_dir),
        "SONGDA_DATABASE_URL": s.database_url,
        "SONGDA_SECRET_KEY": s.secret_key,
        "SONGDA_SECRETS_KEY": ",".join(s.secrets_keys),
        "SONGDA_SMTP_HOST": "127.0.0.1",
        "SONGDA_SMTP_SENDER": "service@court.example",
        "SONGDA_COURT_NAME": COURT,
        **extra,
    }


def sqlite_cli_env(data_dir: Path) -> dict[str, str]:
    """The settings of a fresh deployment on the embedded defaults: a SQLite file
    ``songda.db`` in ``data_dir``, for commands run before any test database exists."""
    return {
        "SONGDA_DATA_DIR": str(data_dir),
        "SONGDA_DATABASE_URL": f"sqlite+aiosqlite:///{data_dir / 'songda.db'}",
        "SONGDA_SECRET_KEY": "x" * 40,
        "SONGDA_SECRETS_KEY": SECRETS_KEY,
        "SONGDA_SMTP_HOST": "127.0.0.1",
        "SONGDA_SMTP_SENDER": "service@court.example",
        "SONGDA_COURT_NAME": COURT,
    }


def songda(
    *args: str,
    env: dict[str, str],
    umask: int | None = None,
    timeout: float = 60,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """The CLI as a real process, with only the ``SONGDA_*`` settings given (started under
    ``umask`` when one is given, as an operator's shell would; ``stdin`` piped in when given)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SONGDA_")}
    return subprocess.run(
        [sys.executable, "-m", "delivery.cli.main", *args],
        env={**clean, **env},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        preexec_fn=None if umask is None else lambda: os.umask(umask),
    )
