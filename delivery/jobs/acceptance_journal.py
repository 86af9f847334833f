"""The acceptance journal: a provider's acceptance, kept on local disk before the database.

Once a relay has answered 250 (or Twilio returned a SID, or the carrier a waybill) the message
is out: losing that fact would mean sending it again and dating service by the second send. So
the worker appends the acceptance — with its own time — to an append-only file in its data
directory and fsyncs it *before* it tries the database (docs/decisions/0024). A second line marks
it recorded once the database has committed it; entries without that mark are replayed on
start-up and whenever the database is reachable again.

One file per worker process (``acceptances/<worker id>.jsonl``, owner-only), so processes never
interleave writes; every process replays every file it finds, which is safe because recording
an acceptance is idempotent (the attempt's row lock serialises two replays of the same entry).

Lines are group-committed: the lines that arrive while one write is on its way to the disk go
together in the next, one ``write()`` and at most one ``fsync`` for all of them. A send worker
runs dozens of jobs at once; one line at a time, each behind a hop to a thread and back, they
queued for hundreds of milliseconds on this file (docs/decisions/0061).
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from delivery.clock import rfc3339
from delivery.infra.private_files import FILE_MODE, private_dir

JOURNAL_DIR = "acceptances"
SUFFIX = ".jsonl"
ACCEPTED = "accepted"
RECORDED = "recorded"


@dataclass(frozen=True)
class Acceptance:
    """What the provider said and when, as the channel reported it."""

    dispatch_id: str
    attempt_id: str
    channel: str
    accepted_at: datetime
    provider_ref: str | None
    reply: str
    # SMS: the provider that accepted, and the refusals of those tried before it.
    provider: str | None = None
    refusals: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """One acceptance of one attempt: a genuine second one has another time."""
        return f"{self.attempt_id}@{rfc3339(self.accepted_at)}"

    def as_json(self) -> dict[str, object]:
        return {
            "dispatch_id": self.dispatch_id,
            "attempt_id": self.attempt_id,
            "channel": self.channel,
            "accepted_at": rfc3339(self.accepted_at),
            "provider_ref": self.provider_ref,
            "reply": self.reply,
            "provider": self.provider,
            "refusals": list(self.refusals),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Acceptance:
        return cls(
            dispatch_id=str(data["dispatch_id"]),
            attempt_id=str(data["attempt_id"]),
            channel=str(data["channel"]),
            accepted_at=datetime.fromisoformat(str(data["accepted_at"])),
            provider_ref=data.get("provider_ref"),
            reply=str(data.get("reply") or ""),
            provider=data.get("provider"),
            refusals=tuple(data.get("refusals") or ()),
        )


@dataclass
class _Line:
    """A journal line waiting for its write."""

    data: bytes
    durable: bool
    written: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


def _settle(lines: list[_Line], error: BaseException | None) -> None:
    """Tell each line's caller how its write went (once)."""
    for line in lines:
        if line.written.done():
            continue
        if error is None:
            line.written.set_result(None)
        else:
            line.written.set_exception(error)
            line.written.exception()  # its caller raises it; a cancelled one needn't


class AcceptanceJournal:
    """This process's journal file, and the unrecorded entries it knows of (its own since it
    started, and those of every file in the folder when it was loaded)."""

    def __init__(self, data_dir: Path, writer_id: str) -> None:
        self.folder = data_dir / JOURNAL_DIR
        self.path = self.folder / f"{writer_id}{SUFFIX}"
        self._fd: int | None = None
        self._pending: dict[str, Acceptance] = {}
        # Lines waiting for the next write, each with its durability and its caller's future.
        self._queued: list[_Line] = []
        self._writer: asyncio.Task[None] | None = None
        # A write failed, perhaps after part of its lines went out: the next starts a new line.
        self._torn = False

    def _open(self) -> int:
        if self._fd is None:
            private_dir(self.folder)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
            os.fchmod(fd, FILE_MODE)
            # Held for the process's life (the kernel drops it when the process dies, even by
            # SIGKILL): another process may delete this file only when it can take the lock.
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self._fd = fd
        return self._fd

    def _write_sync(self, data: bytes, durable: bool, truncate: bool) -> None:
        fd = self._open()
        unwritten = memoryview(data)
        while unwritten:  # a nearly full disk may take only part of it, then refuse the rest
            unwritten = unwritten[os.write(fd, unwritten) :]
        if durable:
            os.fsync(fd)
        elif truncate:
            os.ftruncate(fd, 0)

    async def _append(self, line: dict[str, object], *, durable: bool = False) -> None:
        """Queue ``line`` for the next write; returns once it is written (and, ``durable``, on
        disk). Raises the write's ``OSError``."""
        # ASCII: a reply's undecodable byte (kept by the SMTP client as a lone surrogate) is
        # escaped, not an error that would lose the acceptance.
        queued = _Line((json.dumps(line) + "\n").encode(), durable)
        self._queued.append(queued)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_queued())
        await asyncio.shield(queued.written)

    async def _write_queued(self) -> None:
        """One writer at a time: each batch is one write() on an O_APPEND descriptor, and the
        fsync runs off the event loop so other jobs keep going while the disk confirms."""
        batch: list[_Line] = []
        try:
            while self._queued:
                batch, self._queued = self._queued, []
                durable = any(line.durable for line in batch)
                # Emptied only when nothing is pending: then the batch holds no acceptance (one
                # is pending from before its line is queued until its mark is).
                truncate = not durable and not self._pending
                data = b"".join(line.data for line in batch)
                try:
                    await asyncio.to_thread(
                        self._write_sync, b"\n" + data if self._torn else data, durable, truncate
                    )
                except OSError as exc:
                    self._torn = True
                    _settle(batch, exc)
                    continue
                self._torn = False
                _settle(batch, None)
        except BaseException as stopped:
            # Cancelled with the process: no caller may wait for ever on a line never written.
            _settle([*batch, *self._queued], RuntimeError("acceptance journal stopped"))
            self._queued = []
            raise stopped

    async def accepted(self, acceptance: Acceptance) -> None:
        """Durably note an acceptance; returns only once it is on disk."""
        self._pending[acceptance.key] = acceptance
        await self._append({"kind": ACCEPTED, **acceptance.as_json()}, durable=True)

    async def recorded(self, acceptance: Acceptance) -> None:
        """The database holds it now. Not fsynced: if the mark is lost, a replay finds the
        acceptance recorded and does nothing. With nothing left pending the file is emptied."""
        self._pending.pop(acceptance.key, None)
        await self._append({"kind": RECORDED, "key": acceptance.key})

    @property
    def pending(self) -> list[Acceptance]:
        """The acceptances known here and not recorded yet, oldest first."""
        return sorted(self._pending.values(), key=lambda a: a.accepted_at)

    def holds(self, attempt_id: str) -> Acceptance | None:
        """An unrecorded acceptance of ``attempt_id`` (the attempt must not be sent again)."""
        return next((a for a in self._pending.values() if a.attempt_id == attempt_id), None)

    def load(self) -> list[Acceptance]:
        """Read every journal file in the folder (start-up): their unrecorded acceptances join
        :attr:`pending`; files of processes that are gone and hold nothing unrecorded are
        removed."""
        per_file = {path: _unrecorded_in(path) for path in self._files()}
        for entries in per_file.values():
            self._pending.update(entries)
        recorded_elsewhere = {key for path in per_file for key in _marks_in(path)}
        for key in recorded_elsewhere:
            self._pending.pop(key, None)
        for path, entries in per_file.items():
            if path != self.path and not set(entries) - recorded_elsewhere and _unowned(path):
                path.unlink(missing_ok=True)
        return self.pending

    def _files(self) -> list[Path]:
        return sorted(self.folder.glob(f"*{SUFFIX}")) if self.folder.is_dir() else []

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _lines(path: Path) -> Iterator[dict[str, str | None]]:
    with path.open(encoding="utf-8") as file:
        for raw in file:
            try:
                yield json.loads(raw)
            except ValueError:
                continue  # a line torn by a crash mid-write was never fsynced: never acked


def _unrecorded_in(path: Path) -> dict[str, Acceptance]:
    pending: dict[str, Acceptance] = {}
    for line in _lines(path):
        if line.get("kind") == ACCEPTED:
            acceptance = Acceptance.from_json(line)
            pending[acceptance.key] = acceptance
        elif line.get("kind") == RECORDED:
            pending.pop(str(line.get("key")), None)
    return pending


def _marks_in(path: Path) -> set[str]:
    return {str(line.get("key")) for line in _lines(path) if line.get("kind") == RECORDED}


def _unowned(path: Path) -> bool:
    """No living process holds this journal file (its flock is free)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True
