"""The acceptance journal group-commits its lines (delivery/jobs/acceptance_journal.py,
docs/decisions/0061): acceptances noted at the same moment are all on disk, each once and
whole, with fewer writes than lines; a failed write reaches every caller of its batch and
the next batch is written; the file is emptied once everything in it is recorded."""

from __future__ import annotations

import asyncio
import json
import os
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
    return [json.loads(raw) for raw in path.read_text(encoding="utf-8").splitlines()]


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
    assert [line["attempt_id"] for line in lines_of(journal.path)] == ["a000", "a009"]
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
