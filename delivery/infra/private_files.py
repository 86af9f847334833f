"""Files and directories only the service's own user may read, whatever the umask.

The data directory holds the SQLite database, documents served to courts, keys and generated
secrets: under the usual umask 022 they would be world-readable. Modes are set explicitly here
(``mkdir``'s and ``open``'s modes are masked by the umask, and ``mkdir(parents=True)`` ignores
the mode for the parents it makes), and ``songda`` also sets umask 077 at start.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable
from pathlib import Path

DIR_MODE = stat.S_IRWXU  # 0700
FILE_MODE = stat.S_IRUSR | stat.S_IWUSR  # 0600
PROCESS_UMASK = 0o077


def private_dir(path: Path) -> Path:
    """``path`` and any missing parents, each created 0700; existing directories keep their
    mode (an operator's choice for a directory Songda did not make)."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue  # made meanwhile by another process or thread
        directory.chmod(DIR_MODE)
    return path


def create_private_file(path: Path, data: bytes) -> None:
    """A new file (never overwriting one) that is 0600 from its first byte."""
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(handle.fileno(), FILE_MODE)
        handle.write(data)


def ensure_private_file(path: Path) -> None:
    """``path`` exists and is 0600 (made empty if missing): for a file another library will
    create otherwise with the umask's mode, such as SQLite's database, whose -wal and -shm
    files SQLite then creates with the same mode."""
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)


def generated_once(path: Path, generate: Callable[[], str]) -> str:
    """The text kept in ``path``, generated and written owner-only the first time (a sandbox's
    own secrets, so that links and sealed secrets survive restarts)."""
    if not path.exists():
        with contextlib.suppress(FileExistsError):  # another process made it meanwhile
            create_private_file(path, generate().encode("utf-8"))
    return path.read_text(encoding="utf-8").strip()
