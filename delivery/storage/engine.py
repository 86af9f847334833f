"""Creating the async engine with the settings each database needs.

SQLite is the embedded default for one process: WAL so readers do not block the writer, a busy
timeout, foreign keys on, and ``BEGIN IMMEDIATE`` for every writing transaction so that two
appends to the same dispatch are serialised (PostgreSQL gets the same by ``SELECT … FOR UPDATE``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeAlias

import sqlalchemy as sa
from sqlalchemy import event, make_url
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection as SyncConnection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from delivery.infra.private_files import ensure_private_file

# The names services hold a database by and hand to storage's functions: they build no SQL and
# import no SQLAlchemy themselves (tests/unit/test_layering.py).
Engine: TypeAlias = AsyncEngine
Connection: TypeAlias = AsyncConnection
# A write refused by a unique constraint (a concurrent twin got there first).
UniqueViolation = sa_exc.IntegrityError

READ_ONLY = {"songda_read_only": True}
# While the database is down, requests answer 503 within a few seconds rather than wait: a
# connection attempt to PostgreSQL gives up after this long, and SQLite stops waiting for a
# lock another process holds (delivery/api/http/outages.py).
CONNECT_TIMEOUT_SECONDS = 3
SQLITE_BUSY_SECONDS = 4


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """An engine for ``url``: ``sqlite+aiosqlite://`` or ``postgresql+asyncpg://``."""
    if url.startswith("sqlite"):
        _private_database_file(url)
        # One connection: SQLite has one writer at a time anyway, and waiting for the pool is an
        # asyncio hand-over, where waiting on SQLITE_BUSY is sqlite3 sleeping in growing steps.
        engine = create_async_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_SECONDS},
            pool_size=1,
            max_overflow=0,
            pool_timeout=60,
            hide_parameters=True,
        )
        _configure_sqlite(engine)
        return engine
    # No pre-ping (it costs three round trips per checkout); connections are recycled instead,
    # and a connection that breaks is discarded on its first error (the sweep retries the job).
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
        connect_args={"timeout": CONNECT_TIMEOUT_SECONDS},
        hide_parameters=True,  # parameters carry names, addresses: never into error logs
    )


# No JIT compilation: see :func:`planned_per_filter`.
NO_JIT: Mapping[str, str] = {"jit": "off"}
# A plan for each statement's own parameters, never a generic one (:func:`planned_per_filter`).
CUSTOM_PLANS: Mapping[str, str] = {"plan_cache_mode": "force_custom_plan"}
PER_FILTER: Mapping[str, str] = {**NO_JIT, **CUSTOM_PLANS}


async def planned_locally(conn: AsyncConnection, settings: Mapping[str, str]) -> None:
    """PostgreSQL's planner ``settings`` for the rest of this transaction, in one statement
    (``set_config(…, true)``: they end with it, so a pooled connection goes back as it came);
    nothing on SQLite. For reads whose size the defaults misjudge (decisions 0054, 0055)."""
    if conn.dialect.name == "postgresql":
        local = (sa.func.set_config(name, value, sa.true()) for name, value in settings.items())
        await conn.execute(sa.select(*local))


async def planned_per_filter(conn: AsyncConnection) -> None:
    """For the rest of this transaction (PostgreSQL; nothing on SQLite): no JIT compilation,
    and every statement planned for its own parameters.

    PostgreSQL compiles a statement to machine code when its estimated cost passes
    ``jit_above_cost``. A newest-first page with a LIMIT is estimated at the cost of the whole
    scan it may stop early: the queue's candidates at a million dispatches (cost ~670,000 for
    1,200 rows) spent 0.5 s compiling to run for 0.1 s (docs/decisions/0054).

    asyncpg prepares each statement, and after five runs PostgreSQL may keep a *generic* plan,
    made without the parameters' values: it cannot know that a state is rare among a month's
    dispatches, or that a ``LIKE`` pattern is a prefix. At a million dispatches
    ``state=failed`` in the last 30 days took 291 ms with it, 135 ms planned for its values
    (docs/decisions/0058)."""
    await planned_locally(conn, PER_FILTER)


async def one_snapshot(conn: AsyncConnection) -> AsyncConnection:
    """``conn`` whose next transaction reads one snapshot in every statement: a page made of
    several reads (the queue's counts, candidates, rows and facts; a report's counts and
    percentiles, which must add up to the same totals) then shows one moment, not
    rows another worker's commit changed between two of them. PostgreSQL's READ COMMITTED
    takes a snapshot per statement, so its transaction is REPEATABLE READ (a read-only one
    never fails to serialize); SQLite's read transaction already keeps one (WAL). Call before
    the transaction's first statement."""
    if conn.dialect.name == "postgresql":
        return await conn.execution_options(isolation_level="REPEATABLE READ")
    return conn


async def database_answers(engine: AsyncEngine) -> bool:
    """The database runs a query (``GET /healthz``)."""
    async with engine.connect() as conn:
        await conn.execute(sa.text("SELECT 1"))
    return True


def connection_lost(error: BaseException) -> bool:
    """``error`` is a pooled connection found dead (the server restarted or the network cut it);
    SQLAlchemy has invalidated the pool, so the next checkout connects afresh."""
    return isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated


def database_unreachable(error: BaseException) -> bool:
    """``error`` means the database cannot be reached now: unreachable, the connection lost,
    the pool exhausted, SQLite busy past its timeout (delivery/api/http/outages.py)."""
    return connection_lost(error) or isinstance(
        error, sa_exc.OperationalError | sa_exc.TimeoutError
    )


def _private_database_file(url: str) -> None:
    """Create the SQLite file owner-only before SQLite does (it would use the umask); SQLite
    gives its -wal and -shm files the database file's mode."""
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        ensure_private_file(Path(database))


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy's "begin" hook below issue BEGIN itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: SyncConnection) -> None:
        read_only = conn.get_execution_options().get("songda_read_only", False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")
