"""Shared fixtures: real PostgreSQL/SQLite, real Redis, a real SMTP sink, a manual clock.

Each test run creates its own PostgreSQL database and SQLite file, migrated once; each test
starts from empty tables and uses its own arq queue name on Redis, so tests never depend on what
else a server holds. Tests marked ``both_databases`` run once per database; the rest run on
PostgreSQL only.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient
from bare_machine import hide_installed_fonts
from sqlalchemy.ext.asyncio import create_async_engine

from channels.email.adapter import EmailChannel
from delivery.api.app import create_app
from delivery.clock import ManualClock
from delivery.config import Settings, load_settings
from delivery.context import Context
from delivery.infra.document_store import DocumentStore
from delivery.infra.keys import create_key, load_signing_identity, load_signing_key
from delivery.jobs.job_queue import JobQueue
from delivery.jobs.resilience import run_until_stopped
from delivery.jobs.worker import build_workers, stop_workers
from delivery.sandbox.pages import SmtpSink, add_routes
from delivery.services.api_keys import BOUNCES_SCOPE, create_api_key
from delivery.storage.engine import create_engine
from delivery.storage.migrate import upgrade
from delivery.storage.outcome_tallies import keep_tallies_in
from delivery.storage.schema import metadata
from tracking.signing import SigningKey

PG_ADMIN_URL = os.environ.get("SONGDA_TEST_PG_URL", "postgresql+asyncpg://root@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("SONGDA_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
COURT = "杭州市西湖区人民法院"
# The tests' own SONGDA_SECRETS_KEY (a Fernet key; production keys come from the operator).
SECRETS_KEY = "dXPoZpK4fPR8XNiAzLxkcxi40lynDJ5OH3DNcvkUpTM="
# Test webhook receivers listen on 127.0.0.1 over http: allowed by setting, as an operator
# would allow an intranet case system (the rules themselves stay on).
WEBHOOK_TEST_TARGETS = {
    "SONGDA_WEBHOOK_ALLOW_HTTP": "true",
    "SONGDA_WEBHOOK_ALLOWED_TARGETS": "127.0.0.1/32",
}
OTHER_COURT = "宁波市海曙区人民法院"
START = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
MINIMAL_PDF = (  # a real one-page PDF (uploads are parsed: delivery/infra/pdf_check.py)
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>> endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>> endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>> endobj\n"
    b"xref\n0 4\n0000000000 65535 f \n0000000009 00000 n \n0000000053 00000 n \n"
    b"0000000103 00000 n \ntrailer<</Size 4/Root 1 0 R>>\nstartxref\n167\n%%EOF\n"
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "both_databases: run on PostgreSQL and on SQLite")
    hide_installed_fonts()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "database" in metafunc.fixturenames:
        both = metafunc.definition.get_closest_marker("both_databases") is not None
        metafunc.parametrize("database", ["postgresql", "sqlite"] if both else ["postgresql"])


async def _create_pg_database(name: str) -> str:
    admin = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


async def _drop_pg_database(name: str) -> None:
    admin = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()


async def _migrate(url: str) -> None:
    engine = create_engine(url)
    await upgrade(engine)
    await engine.dispose()


@pytest.fixture(scope="session")
def database_urls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """One migrated database per backend for the whole run, dropped at the end."""
    name = f"songda_test_{uuid.uuid4().hex[:12]}"
    pg_url = asyncio.run(_create_pg_database(name))
    sqlite_url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('sqlite') / 'songda.db'}"
    asyncio.run(_migrate(pg_url))
    asyncio.run(_migrate(sqlite_url))
    yield {"postgresql": pg_url, "sqlite": sqlite_url}
    asyncio.run(_drop_pg_database(name))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
async def smtp_sink(clock: ManualClock) -> AsyncIterator[SmtpSink]:
    sink = SmtpSink(clock)
    await sink.start()
    yield sink
    await sink.stop()


@pytest.fixture
def settings(
    tmp_path: Path, smtp_sink: SmtpSink, database: str, database_urls: dict[str, str]
) -> Settings:
    return load_settings(
        {
            "SONGDA_DATA_DIR": str(tmp_path / "var"),
            "SONGDA_DATABASE_URL": database_urls[database],
            "SONGDA_REDIS_URL": REDIS_URL,
            "SONGDA_QUEUE_NAME": f"songda:test:{uuid.uuid4().hex}",
            "SONGDA_SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
            "SONGDA_SECRETS_KEY": SECRETS_KEY,
            **WEBHOOK_TEST_TARGETS,
            "SONGDA_SMTP_HOST": "127.0.0.1",
            "SONGDA_SMTP_PORT": str(smtp_sink.port),
            "SONGDA_SMTP_SENDER": "service@court.example",
            "SONGDA_SMTP_TIMEOUT": "5",
            "SONGDA_COURT_NAME": COURT,
            "SONGDA_PUBLIC_BASE_URL": "http://songda.test",
            "SONGDA_MAX_UPLOAD_BYTES": str(64 * 1024),
        }
    )


async def _empty_tables(ctx: Context) -> None:
    async with ctx.engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            await conn.execute(table.delete())


@pytest.fixture
def court_key(settings: Settings, clock: ManualClock) -> SigningKey:
    """The court's active signing key, created in the test's own keys directory
    (``settings.keys_dir``, under tmp_path) as `songda keys create` would."""
    create_key(settings.keys_dir, clock, COURT)
    return load_signing_key(settings.keys_dir)


@pytest.fixture
async def ctx(
    settings: Settings, clock: ManualClock, court_key: SigningKey
) -> AsyncIterator[Context]:
    engine = create_engine(settings.database_url)
    queue = await JobQueue.connect(REDIS_URL, settings.queue_name)
    context = Context(
        settings=settings,
        engine=engine,
        clock=clock,
        queue=queue,
        documents=DocumentStore(settings.documents_dir),
        channels={"email": EmailChannel(settings.smtp)},
        signing_key=court_key,
        signing_identity=load_signing_identity(settings.keys_dir),
    )
    await _empty_tables(context)
    await keep_tallies_in(engine, settings.zone)  # as the database is prepared for the service
    yield context
    for channel in context.channels.values():
        await channel.close()
    await queue.pool.delete(*queue.queue_names)
    await queue.close()
    await engine.dispose()


@pytest.fixture
async def worker(ctx: Context) -> AsyncIterator[Any]:
    """A real arq worker on the test's own queue, polling fast."""
    async with running_worker(ctx) as arq_worker:
        yield arq_worker


@contextlib.asynccontextmanager
async def running_worker(ctx: Context) -> AsyncIterator[list[Any]]:
    """The ``worker`` fixture's workers (one per queue), for a test that starts them at a
    moment of its choosing (jobs enqueued meanwhile wait on the queues)."""
    arq_workers = build_workers(ctx, poll_delay=0.02, periodic_sweep=False)
    tasks = [asyncio.create_task(run_until_stopped(w, ctx)) for w in arq_workers]
    try:
        yield arq_workers
        await settled(ctx)  # let running jobs finish before the workers and database go away

        async def jobs_finished() -> bool:
            # A job leaves the queue inside arq's finish_job, a moment before its task ends:
            # closing then would cancel the task mid-finish and fail with CancelledError.
            return all(t.done() for w in arq_workers for t in w.tasks.values())

        await eventually(jobs_finished)
    finally:
        await stop_workers(arq_workers, tasks)


@pytest.fixture
async def client(ctx: Context, aiohttp_client: Callable[..., Any]) -> TestClient[Any, Any]:
    return await aiohttp_client(create_app(ctx))  # type: ignore[no-any-return]


@pytest.fixture
async def api_key(ctx: Context) -> str:
    _key, token = await create_api_key(ctx.engine, ctx.clock, "case system", [COURT])
    return token


@pytest.fixture
async def bounce_processor(ctx: Context) -> dict[str, str]:
    """The court's bounce processor's headers: a key an operator created with
    ``songda apikey create --scope bounces``."""
    _key, token = await create_api_key(
        ctx.engine, ctx.clock, "bounce processor", [COURT], frozenset({BOUNCES_SCOPE})
    )
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def auth(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"}


@pytest.fixture
def api(client: TestClient[Any, Any], auth: dict[str, str], ctx: Context) -> Any:
    from api_client import Api

    return Api(client, auth, ctx)


@pytest.fixture
async def sandbox_api(api: Any, smtp_sink: SmtpSink, aiohttp_client: Callable[..., Any]) -> Any:
    """The API harness on an application with the sandbox pages added."""
    app = create_app(api.ctx)
    add_routes(app, smtp_sink)
    api.client = await aiohttp_client(app)
    return api


async def eventually(check: Callable[[], Any], within: float = 30.0) -> Any:
    """Poll an async check until it returns something truthy; fail with the last value."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {within}s (last: {value!r})")
        await asyncio.sleep(0.02)


async def settled(ctx: Context) -> None:
    """Wait until the test's queues hold no job (arq removes a job from one only once
    finished), so that moving the manual clock cannot race a job that is still running."""

    async def queue_empty() -> bool:
        return all([await ctx.queue.pool.zcard(name) == 0 for name in ctx.queue.queue_names])

    await eventually(queue_empty)


# The stand-ins' fixtures (``post``, ``sms_standin``, ``browser``, ``tsa``, ``other_tsa``),
# shared by every test module.
from standins import browser, other_tsa, post, sms_standin, tsa  # noqa: E402, F401
