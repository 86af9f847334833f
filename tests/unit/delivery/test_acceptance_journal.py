"""The acceptance journal group-commits its lines (delivery/jobs/acceptance_journal.py,
docs/decisions/0061): acceptances noted at the same moment are all on disk, each once and
whole, with fewer writes than lines; a failed write reaches every caller of its batch and
the next batch is written; the file is emptied once everything in it is recorded."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from delivery.jobs.acceptance_journal import (
    ACCEPTED,
    RECORDED,
    Acceptance,
    AcceptanceJournal,
)

ACCEPTED_AT = datetime(2026, 12, 8, 3, 0, tzinfo=UTC)


def acceptance(i: int) -> Acceptance:
    return Acceptance(
        dispatch_id=f"d{i:03d}",
        attempt_id=f"a{i:03d}",
        channel="email",
        accepted_at=ACCEPTED_AT + timedelta(milliseconds=i),
        provider_ref=f"<m{i}@example.com>",
        reply="250 2.0.0 queued",
    )


def lines_of(path: Path) -> list[dict[str, Any]]:
    """The journal's lines (an empty one, which starts a write after a failure, left out)."""
    raws = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(raw) for raw in raws if raw]


class CountedJournal(AcceptanceJournal):
    """The journal, counting its writes and fsyncs."""

    def __init__(self, data_dir: Path) -> None:
        super().__init__(data_dir, "worker-1")
        self.writes = 0
        self.fsyncs = 0

    def _write_sync(self, data: bytes, durable: bool, truncate: bool) -> None:
        self.writes += 1
        self.fsyncs += durable
        super()._write_sync(data, durable, truncate)


class FailingOnce(AcceptanceJournal):
    """The journal whose first write fails once it is told to (a disk gone bad for a moment)."""

    def __init__(self, data_dir: Path) -> None:
        super().__init__(data_dir, "worker-1")
        self.writing = asyncio.Event()
        self.fail = threading.Event()
        self._loop = asyncio.get_running_loop()

    def _write_sync(self, data: bytes, durable: bool, truncate: bool) -> None:
        if not self.fail.is_set():
            self._loop.call_soon_threadsafe(self.writing.set)
            self.fail.wait(timeout=10)
            raise OSError(errno.EIO, "the disk went away")
        super()._write_sync(data, durable, truncate)


async def test_acceptances_noted_together_are_all_on_disk_in_fewer_writes(tmp_path: Path) -> None:
    journal = CountedJournal(tmp_path)
    noted = [acceptance(i) for i in range(40)]
    await asyncio.gather(*(journal.accepted(a) for a in noted))

    lines = lines_of(journal.path)
    assert sorted(line["attempt_id"] for line in lines) == [a.attempt_id for a in noted]
    assert all(line["kind"] == ACCEPTED for line in lines)
    assert 1 <= journal.writes < len(noted)  # batched
    assert journal.fsyncs == journal.writes  # every batch on disk before its callers go on
    assert journal.pending == noted
    # A new journal of the same folder (a restart) finds them all unrecorded.
    assert AcceptanceJournal(tmp_path, "worker-2").load() == noted

    await asyncio.gather(*(journal.recorded(a) for a in noted[:10]))
    marks = [line for line in lines_of(journal.path) if line["kind"] == RECORDED]
    assert sorted(m["key"] for m in marks) == sorted(a.key for a in noted[:10])
    assert journal.pending == noted[10:]

    await asyncio.gather(*(journal.recorded(a) for a in noted[10:]))
    assert journal.pending == []
    assert journal.path.read_bytes() == b""  # all recorded: emptied
    journal.close()


async def test_a_failed_write_reaches_its_callers_and_the_next_one_is_written(
    tmp_path: Path,
) -> None:
    journal = AcceptanceJournal(tmp_path, "worker-1")
    await journal.accepted(acceptance(0))
    # The descriptor goes bad under the journal (a disk gone read-only, say).
    assert journal._fd is not None
    os.close(journal._fd)
    results = await asyncio.gather(
        *(journal.accepted(acceptance(i)) for i in range(1, 4)), return_exceptions=True
    )
    assert all(isinstance(r, OSError) for r in results)

    journal._fd = None  # opened again at the next write
    await journal.accepted(acceptance(9))
    # The write after a failure starts a line of its own (an empty one here: nothing of the
    # failed batch went out).
    assert journal.path.read_text(encoding="utf-8").count("\n") == 3
    assert [line["attempt_id"] for line in lines_of(journal.path)] == ["a000", "a009"]
    # What a restart finds: the failed lines never reached the disk (their callers were told,
    # and recorded those acceptances straight away).
    assert AcceptanceJournal(tmp_path, "worker-2").load() == [acceptance(0), acceptance(9)]
    journal.close()


async def test_lines_queued_during_a_failed_write_go_in_the_next(tmp_path: Path) -> None:
    journal = FailingOnce(tmp_path)
    first = asyncio.create_task(journal.accepted(acceptance(0)))
    await journal.writing.wait()  # the first write is under way (and will fail)
    queued = [asyncio.create_task(journal.accepted(acceptance(i))) for i in (1, 2)]
    journal.fail.set()
    with pytest.raises(OSError):
        await first
    await asyncio.gather(*queued)
    assert [line["attempt_id"] for line in lines_of(journal.path)] == ["a001", "a002"]
    journal.close()


async def test_a_reply_with_an_undecodable_byte_is_journalled(tmp_path: Path) -> None:
    journal = AcceptanceJournal(tmp_path, "worker-1")
    # aiosmtplib decodes a relay's reply with surrogateescape: a stray byte is a lone surrogate.
    odd = b"250 queued \xff".decode("utf-8", "surrogateescape")
    noted = replace(acceptance(0), reply=odd)
    await journal.accepted(noted)
    assert AcceptanceJournal(tmp_path, "worker-2").load() == [noted]
    journal.close()


@pytest.mark.parametrize("cancelled_first", [True, False])
async def test_a_cancelled_caller_does_not_stop_the_line(
    tmp_path: Path, cancelled_first: bool
) -> None:
    journal = AcceptanceJournal(tmp_path, "worker-1")
    first = asyncio.create_task(journal.accepted(acceptance(0)))
    second = asyncio.create_task(journal.accepted(acceptance(1)))
    await asyncio.sleep(0)  # both queued
    (first if cancelled_first else second).cancel()
    await asyncio.gather(first, second, return_exceptions=True)
    await journal.accepted(acceptance(2))  # after the cancelled caller's batch
    # The line was queued before its caller went: it is written, as an fsync already begun
    # would have been.
    assert [line["attempt_id"] for line in lines_of(journal.path)] == ["a000", "a001", "a002"]
    journal.close()
