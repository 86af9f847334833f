"""One ``songda run`` per data directory.

``songda run`` holds an exclusive ``flock`` on ``<data dir>/songda-run.lock`` for its whole life
and writes its pid into it. The kernel drops the lock when the process dies, however it dies
(kill -9 included), so a stale file never blocks a restart; while the holder lives, a second
``songda run`` on the same directory is refused (exit 2) before it starts anything — above all
a second private redis-server on the append-only file the first one writes. The descriptor is
not inherited by child processes (Python opens files non-inheritable), so an orphaned
redis-server cannot keep holding it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from delivery.infra.private_files import FILE_MODE, private_dir

LOCK_FILE = "songda-run.lock"


class DataDirBusy(Exception):
    """Another live process holds the data directory."""


@contextlib.contextmanager
def holding_data_dir(data_dir: Path) -> Iterator[None]:
    """Hold ``data_dir`` for the block, or raise :class:`DataDirBusy` naming the holder."""
    path = private_dir(data_dir) / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise DataDirBusy(
                f"another `songda run` (pid {holder}) is using the data directory {data_dir}; "
                "stop it first, or give this one its own SONGDA_DATA_DIR"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock
