"""``songda run``/``web``/``worker`` with database round-trip counters, for the benchmark.

Run as ``python bench/counted_songda.py [run|web|worker]`` (default ``run``) with the usual
``SONGDA_*`` environment plus ``SONGDA_BENCH_COUNTS`` (a file path). Everything else is exactly
``songda run`` / ``songda web`` / ``songda worker`` (:func:`delivery.cli.main`). On ``SIGUSR1`` the
process writes its counters so far to that file as JSON (atomically, with an increasing
``snapshot`` number), so the benchmark can take the difference between two snapshots and leave
start-up, shutdown and its own queries out of the figure. With separate ``web`` and ``worker``
processes each has its own file; ``bench/email_throughput.py`` sums them.

If ``SONGDA_BENCH_PROFILE`` names a file, the first ``SIGUSR1`` starts cProfile on the event-loop
thread and the second stops it and dumps the statistics there: the profile covers exactly the
measured window. ``SONGDA_BENCH_SAMPLE`` does the same with :mod:`stack_sampler` (JSON).

What is counted, per process, through SQLAlchemy events (class-level, so every engine is seen):

- ``statements``: ``before_cursor_execute`` — one per statement sent (an ``executemany`` counts
  once: asyncpg pipelines it and sqlite3 runs it in one call on the aiosqlite thread). On SQLite
  this includes the ``BEGIN``/``BEGIN IMMEDIATE`` that the engine issues itself.
- ``begins``: the ``begin`` event. On PostgreSQL asyncpg sends ``BEGIN`` as its own round trip; on
  SQLite it is already among the statements.
- ``commits`` / ``rollbacks``: the ``commit`` and ``rollback`` events (a read-only
  ``engine.connect()`` block ends in a rollback).
- ``checkouts`` / ``connects``: pool checkouts and new connections.
- ``pings``: calls of the dialect's ``do_ping`` — with ``pool_pre_ping`` (the PostgreSQL engine)
  every checkout of an existing connection is pinged first, and SQLAlchemy's asyncpg ping is three
  round trips (``BEGIN``, ``;``, ``ROLLBACK``).

Statements are also counted by kind (``by_statement``: the verb and the first table named).
"""

from __future__ import annotations

import cProfile
import json
import os
import re
import signal
import sys
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Any

from sqlalchemy import event
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.engine import Engine
from sqlalchemy.engine.default import DefaultDialect
from sqlalchemy.pool import Pool
from stack_sampler import StackSampler

COUNTS: Counter[str] = Counter()
STATEMENTS: Counter[str] = Counter()
_profile: dict[str, cProfile.Profile] = {}
_sampler: dict[str, StackSampler] = {}
_TABLE = re.compile(r"\b(?:FROM|INTO|UPDATE)\s+\"?(\w+)", re.IGNORECASE)


def _count(name: str) -> Any:
    def listener(*_args: Any, **_kwargs: Any) -> None:
        COUNTS[name] += 1

    return listener


def statement_label(statement: str) -> str:
    """``SELECT dispatches``, ``INSERT events``…: the verb and the first table named."""
    verb = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "?"
    table = _TABLE.search(statement)
    return f"{verb} {table.group(1)}" if table else verb


def _count_statement(
    _conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, _many: bool
) -> None:
    COUNTS["statements"] += 1
    STATEMENTS[statement_label(statement)] += 1


def install_counters() -> None:
    """Count statements, transaction control and pool checkouts on every engine and pool."""
    event.listen(Engine, "before_cursor_execute", _count_statement)
    event.listen(Engine, "begin", _count("begins"))
    event.listen(Engine, "commit", _count("commits"))
    event.listen(Engine, "rollback", _count("rollbacks"))
    event.listen(Pool, "checkout", _count("checkouts"))
    event.listen(Pool, "connect", _count("connects"))
    for dialect in (DefaultDialect, PGDialect_asyncpg):
        _count_pings(dialect)


def _count_pings(dialect: type[DefaultDialect]) -> None:
    ping = dialect.do_ping

    def counted_ping(self: DefaultDialect, dbapi_connection: Any) -> bool:
        COUNTS["pings"] += 1
        return ping(self, dbapi_connection)

    dialect.do_ping = counted_ping  # type: ignore[method-assign]


def _toggle_profile(path: str | None) -> None:
    if not path:
        return
    if "active" not in _profile:
        profiler = cProfile.Profile()
        _profile["active"] = profiler
        profiler.enable()
    else:
        profiler = _profile["active"]
        profiler.disable()
        profiler.dump_stats(path)


def _toggle_sampler(path: str | None) -> None:
    if not path:
        return
    if "active" not in _sampler:
        _sampler["active"] = StackSampler()
        _sampler["active"].start()
    else:
        Path(path).write_text(json.dumps(_sampler["active"].stop()))


def _write_snapshot(_signum: int, _frame: FrameType | None) -> None:
    COUNTS["snapshot"] += 1
    _toggle_profile(os.environ.get("SONGDA_BENCH_PROFILE"))
    _toggle_sampler(os.environ.get("SONGDA_BENCH_SAMPLE"))
    target = Path(os.environ["SONGDA_BENCH_COUNTS"])
    scratch = target.with_suffix(".tmp")
    scratch.write_text(json.dumps({**COUNTS, "by_statement": dict(STATEMENTS)}))
    os.replace(scratch, target)


COMMANDS = ("run", "web", "worker")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    command = args[0] if args else "run"
    if len(args) > 1 or command not in COMMANDS:
        print(f"usage: counted_songda.py [{'|'.join(COMMANDS)}]", file=sys.stderr)
        return 2
    from delivery.cli.main import main as songda_main

    install_counters()
    signal.signal(signal.SIGUSR1, _write_snapshot)
    return songda_main([command])


if __name__ == "__main__":
    sys.exit(main())
