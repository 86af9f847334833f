"""Seeding a PostgreSQL database with 14 months of a service group's work, for bench/workspace.py.

Creating 100,000 dispatches through the API would take hours (each one is a transaction, a
ladder decision, jobs); the pages under test only read rows. So the rows are made here, in
Python, in the shapes Songda writes them (the same columns, the same event types and data the
queue, the dispatch page and the reports read) and copied in with PostgreSQL's ``COPY``: chunks
of dispatches made in worker processes while the chunk before is copied, indexes made after the
rows (workspace_load.py).

Each dispatch walks the ``cn-civil`` ladder in time from its creation: e-mail + SMS (3 days),
court express mail (10 days), in person (7 days), public notice (approval, then 30 days). Its
planned end (served by a channel, failed, cancelled, or waiting for notice approval) is cut at
"now": a recent dispatch is still in progress at the step that is running now. Its events keep
``seq`` consecutive per dispatch and carry the data the reports read (``owner_assigned``
{owner_id, reason}, ``dispatch_served`` {channel, served_at, attempt_id, legal_basis,
service_date}, …), and each outcome event its ``service_outcomes`` row (the reports read those),
made by the unit of work's own ``outcome_row``; the hash chain is random hex — it links but
does not verify, which no page under test checks.

The rows are made by ``workspace_generator.py``, each dispatch's events by
``workspace_ladder.py``; this module writes them.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing import get_context
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from workspace_generator import COURTS, DOCUMENT_KINDS, SPAN, SURNAMES, Cases, Staff
from workspace_ladder import id_at, random_hash
from workspace_load import Encoded, copy, drop_indexes, made

from delivery.clock import Clock
from delivery.config_checks import DEFAULT_TIME_ZONE
from delivery.services.staff_accounts import create_staff_user, generate_password
from delivery.staff import Role
from delivery.storage import schema
from delivery.storage.outcome_tallies import keep_tallies_in

CLERKS_PER_COURT = 4
# The account the benchmark logs in with: a clerk of all three courts, so the queue it sees
# holds every one of the dispatches (the largest queue there is).
BENCH_CLERK = "bench-clerk"
BENCH_PASSWORD = "bench-clerk-password-2026"
CHUNK = 5000  # dispatches made at once by a worker process
WORKERS = os.cpu_count() or 2
# The tables the chunks fill.
LOADED = (
    "dispatches",
    "contacts",
    "dispatch_documents",
    "attempts",
    "events",
    "service_outcomes",
    "outbox_messages",
    "webhook_deliveries",
)


@dataclass
class Seeded:
    """What was made: row counts per table, and how long each phase took."""

    counts: dict[str, int] = field(default_factory=dict)
    phases: dict[str, float] = field(default_factory=dict)  # seconds

    def add(self, counts: dict[str, int]) -> None:
        for name, count in counts.items():
            self.counts[name] = self.counts.get(name, 0) + count


async def _staff(engine: AsyncEngine, clock: Clock, rng: random.Random) -> Staff:
    """The clerks (one known, who logs in), the case system's key and its webhook endpoint."""
    clerks: dict[str, list[str]] = {c: [] for c in COURTS}
    bench = await create_staff_user(
        engine,
        clock,
        username=BENCH_CLERK,
        display_name="基准书记员",
        roles=[Role.CLERK.value],
        courts=COURTS,
        password=BENCH_PASSWORD,
    )
    clerks[COURTS[0]].append(bench.id)
    for court_no, court in enumerate(COURTS):
        while len(clerks[court]) < CLERKS_PER_COURT:
            user = await create_staff_user(
                engine,
                clock,
                username=f"clerk-{court_no}-{len(clerks[court])}",
                display_name=f"{rng.choice(SURNAMES)}书记员{len(clerks[court])}",
                roles=[Role.CLERK.value],
                courts=[court],
                password=generate_password(),
            )
            clerks[court].append(user.id)
    now = clock.now()
    api_key_id, endpoint_id = id_at(now, rng), id_at(now, rng)
    documents = [id_at(now, rng) for _ in range(40)]
    async with engine.begin() as conn:
        await conn.execute(
            schema.api_keys.insert(),
            {
                "id": api_key_id,
                "name": "case system",
                "prefix": "bench",
                "key_hash": "0" * 64,
                "courts": list(COURTS),
                "created_at": now - SPAN,
            },
        )
        await conn.execute(
            schema.webhook_endpoints.insert(),
            {
                "id": endpoint_id,
                "api_key_id": api_key_id,
                "url": "https://case-system.example/hooks",
                "secret": "whsec_" + "A" * 32,
                "event_types": None,
                "enabled": True,
                "created_at": now - SPAN,
            },
        )
        await conn.execute(
            schema.documents.insert(),
            [
                {
                    "id": d,
                    "api_key_id": api_key_id,
                    "sha256": random_hash(rng),
                    "size": 20_000 + n,
                    "media_type": "application/pdf",
                    "title": f"文书{n}",
                    "kind": DOCUMENT_KINDS[n % len(DOCUMENT_KINDS)],
                    "created_at": now - SPAN,
                }
                for n, d in enumerate(documents)
            ],
        )
    return Staff(clerks, api_key_id, endpoint_id, documents)


async def _load(engine: AsyncEngine, cases: Cases, staff: Staff, now: datetime) -> Seeded:
    """Make the chunks in worker processes and copy them in, in order, in one transaction
    (``COPY … FREEZE`` after ``TRUNCATE``), the indexes dropped; then make the indexes again
    (workspace_load.py says why)."""
    seeded = Seeded()
    n = len(cases.created)
    started, copied = time.perf_counter(), 0.0
    async with engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None
        # Nothing here needs to wait for the disk at each commit; sorts for the indexes and
        # the foreign keys' checks in memory.
        await raw.execute("SET synchronous_commit = off; SET maintenance_work_mem = '1GB'")
        async with raw.transaction():
            rebuild = await drop_indexes(raw, list(LOADED))
            await raw.execute(f"TRUNCATE {', '.join(LOADED)}")
            loop = asyncio.get_running_loop()
            with ProcessPoolExecutor(WORKERS, mp_context=get_context("spawn")) as pool:
                making: deque[asyncio.Future[Encoded]] = deque()
                for start in range(0, n, CHUNK):
                    chunk = cases.chunk(start, min(n, start + CHUNK))
                    making.append(loop.run_in_executor(pool, made, chunk, staff, now))
                    # One chunk more than workers is made ahead, so none waits for the COPY.
                    while len(making) > WORKERS or (making and start + CHUNK >= n):
                        encoded = await making.popleft()
                        copying = time.perf_counter()
                        await copy(raw, encoded)
                        copied += time.perf_counter() - copying
                        seeded.add(encoded.counts)
        seeded.phases["made and copied"] = time.perf_counter() - started
        seeded.phases["of which COPY"] = copied
        started = time.perf_counter()
        for statement in rebuild:
            await raw.execute(statement)
        seeded.phases["indexes and keys"] = time.perf_counter() - started
    return seeded


async def seed(engine: AsyncEngine, clock: Clock, n: int, seed: int = 6) -> Seeded:
    """Insert ``n`` dispatches with their history, then ``VACUUM ANALYZE`` (as autovacuum
    would after a day of work: planner statistics and the visibility map)."""
    rng = random.Random(seed)
    staff = await _staff(engine, clock, rng)
    now = clock.now().astimezone(UTC)
    seeded = await _load(engine, Cases(rng, staff, now, n), staff, now)
    started = time.perf_counter()
    # As `songda db upgrade` would after a load: the service's default zone (docs/decisions/0060).
    await keep_tallies_in(engine, ZoneInfo(DEFAULT_TIME_ZONE))
    seeded.phases["outcome tallies"] = time.perf_counter() - started
    started = time.perf_counter()
    autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
    async with autocommit.connect() as conn:
        await conn.execute(sa.text("VACUUM ANALYZE"))
    seeded.phases["VACUUM ANALYZE"] = time.perf_counter() - started
    return seeded
