"""The clerk workspace at scale: the queue and the reports over 100,000 dispatches, over HTTP.

Run: ``.venv/bin/python bench/workspace.py [--n 100000] [--runs 20] [--warmup 3] [--keep]
[--database NAME]``.

1. **Seed** (``workspace_seed.py``): a fresh PostgreSQL database, migrated as ``songda db
   upgrade`` does, gets N dispatches of three courts and twelve clerks over ~14 months — their
   contacts, attempts, events, documents and webhook deliveries — by ``COPY``, then ``VACUUM
   ANALYZE``. The time it took is printed. ``--keep`` keeps the database (and prints its name);
   ``--database NAME`` times a kept one again without seeding.
2. **Serve**: the real application (``create_app`` on a context from
   :func:`delivery.runtime.open_context`, the system clock) on a loopback port, in this process.
3. **Time**: log in as the known clerk through ``/login`` (CSRF token from the form and its
   cookie), then per URL ``--warmup`` untimed requests and ``--runs`` timed ones, one at a time
   with an aiohttp client: the queue's first page, each filter alone and a few together, the
   second page (the first page's cursor link), a dispatch page, the year's report by each
   ``group_by`` and the report page. Median and p90 per URL, the ratio of the median to its
   target (queue ≤ 200 ms, report ≤ 1 s), the SQL statements one request ran (an N+1 shows as
   a count that grows with the page), and one PASS/MISS line per target.

A URL that answers 404 (its page is not built on this branch) is listed as absent, not timed.
Needs PostgreSQL (``SONGDA_BENCH_PG_URL``, an admin URL) and Redis (``SONGDA_BENCH_REDIS_URL``).
"""

from __future__ import annotations

import argparse
import asyncio
import html
import math
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import aiohttp
import sqlalchemy as sa
from aiohttp import web
from sqlalchemy import event
from throughput_service import PG_ADMIN_URL, REDIS_URL, pg_admin
from workspace_generator import COURTS
from workspace_seed import BENCH_CLERK, BENCH_PASSWORD, seed

from delivery.api.app import create_app
from delivery.clock import SystemClock
from delivery.config import load_settings
from delivery.context import Context
from delivery.infra.keys import create_key
from delivery.infra.secret_box import new_key
from delivery.runtime import close_context, open_context
from delivery.storage.engine import create_engine
from delivery.storage.migrate import upgrade
from delivery.storage.schema import dispatches, staff_users
from delivery.vocabulary import Channel

QUEUE_TARGET_MS = 200.0
REPORT_TARGET_MS = 1000.0
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
CURSOR_RE = re.compile(r'href="([^"]*[?&](?:amp;)?cursor=[^"]*)"')


@dataclass
class Probe:
    """One URL to time; ``target`` in ms, or None for a figure shown without a target."""

    group: str
    label: str
    path: str
    target: float | None
    times: list[float] = field(default_factory=list)
    statements: int = 0
    status: int = 0

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def p90(self) -> float:
        ordered = sorted(self.times)
        return ordered[max(0, math.ceil(len(ordered) * 0.9) - 1)]


@dataclass
class Facts:
    """Values the filters look for, read from the seeded data (so a kept database works too)."""

    now: datetime
    clerk_id: str
    case_number: str
    recipient: str
    dispatch_id: str


async def read_facts(ctx: Context) -> Facts:
    d = dispatches.c
    async with ctx.engine.connect() as conn:
        now = (await conn.execute(sa.select(sa.func.max(d.created_at)))).scalar_one()
        clerk_id = (
            await conn.execute(
                sa.select(staff_users.c.id).where(staff_users.c.username == BENCH_CLERK)
            )
        ).scalar_one()
        newest_shared_case = (
            sa.select(d.case_number)
            .group_by(d.case_number)
            .having(sa.func.count() > 1)
            .order_by(sa.func.max(d.id).desc())
            .limit(1)
        )
        case_number = (await conn.execute(newest_shared_case)).scalar_one()
        recipient = (
            await conn.execute(
                sa.select(d.recipient_name)
                .where(d.recipient_role != "defendant")
                .order_by(d.id.desc())
                .limit(1)
            )
        ).scalar_one()
        # The dispatch with the longest story: served by public notice after every other step.
        dispatch_id = (
            await conn.execute(
                sa.select(d.id)
                .where(d.served_by_channel == Channel.PUBLIC_NOTICE)
                .order_by(d.id.desc())
                .limit(1)
            )
        ).scalar_one()
    return Facts(now, clerk_id, case_number, recipient, dispatch_id)


def _day(at: datetime) -> str:
    return at.date().isoformat()


def probes(facts: Facts) -> list[Probe]:
    now = facts.now
    month_ago, year_ago = _day(now - timedelta(days=30)), _day(now - timedelta(days=365))
    eleven_months_ago, today = _day(now - timedelta(days=335)), _day(now)

    def queue(label: str, **params: str) -> Probe:
        return Probe(
            "queue",
            label,
            "/staff/queue" + ("?" + urlencode(params) if params else ""),
            QUEUE_TARGET_MS,
        )

    found = [
        queue("first page"),
        queue("state=failed", state="failed"),
        queue("state=in_progress", state="in_progress"),
        queue("channel=postal", channel="postal"),
        queue("court", court=COURTS[2]),
        queue("clerk", owner=facts.clerk_id),
        queue("case number", case_number=facts.case_number),
        queue("recipient (full name)", recipient=facts.recipient),
        queue("recipient (surname)", recipient=facts.recipient[0]),
        queue("created last 30 days", created_from=month_ago, created_to=today),
        queue("served last 30 days", served_from=month_ago, served_to=today),
        queue("created a year ago (a month)", created_from=year_ago, created_to=eleven_months_ago),
        queue("served a year ago (a month)", served_from=year_ago, served_to=eleven_months_ago),
        queue("court+state=in_progress", court=COURTS[1], state="in_progress"),
        queue("clerk+state=served", owner=facts.clerk_id, state="served"),
        queue(
            "state=failed+created 30 days", state="failed", created_from=month_ago, created_to=today
        ),
        queue("channel=in_person+court", channel="in_person", court=COURTS[0]),
        Probe("queue", "second page (cursor)", "", QUEUE_TARGET_MS),
        Probe("page", "dispatch page", f"/staff/dispatches/{facts.dispatch_id}", None),
    ]
    for by in ("channel", "court", "clerk", "week", "month"):
        query = urlencode({"from": year_ago, "to": today, "group_by": by})
        found.append(
            Probe(
                "report", f"API group_by={by}", f"/api/v1/reports/service?{query}", REPORT_TARGET_MS
            )
        )
    query = urlencode({"from": year_ago, "to": today})
    found.append(Probe("report", "report page", f"/staff/reports?{query}", REPORT_TARGET_MS))
    # Pages that exist already: the API's dispatch list and the notice board (no target).
    found += [
        Probe("existing", "API list", "/api/v1/dispatches", None),
        Probe("existing", "API list state=failed", "/api/v1/dispatches?state=failed", None),
        Probe(
            "existing",
            "API list case_number",
            "/api/v1/dispatches?" + urlencode({"case_number": facts.case_number}),
            None,
        ),
        Probe("existing", "notice board", "/staff/notices", None),
    ]
    return found


async def log_in(session: aiohttp.ClientSession, base: str) -> None:
    async with session.get(f"{base}/login") as page:
        match = CSRF_RE.search(await page.text())
        assert page.status == 200 and match, page.status
    form = {"csrf_token": match.group(1), "username": BENCH_CLERK, "password": BENCH_PASSWORD}
    async with session.post(f"{base}/login", data=form, allow_redirects=False) as response:
        assert response.status == 303, f"login failed: {response.status} {await response.text()}"


class StatementCounter:
    """Counts the SQL statements the application runs (to see an N+1 as a growing count)."""

    def __init__(self, ctx: Context) -> None:
        self.count = 0
        event.listen(ctx.engine.sync_engine, "before_cursor_execute", self._seen)

    def _seen(self, *_args: Any) -> None:
        self.count += 1


async def time_probe(
    session: aiohttp.ClientSession,
    base: str,
    probe: Probe,
    counter: StatementCounter,
    runs: int,
    warmup: int,
) -> None:
    for n in range(warmup + runs):
        before = counter.count
        started = time.perf_counter()
        async with session.get(base + probe.path, allow_redirects=False) as response:
            await response.read()
            probe.status = response.status
        elapsed = (time.perf_counter() - started) * 1000
        if probe.status == 404 and n == 0:
            return
        assert probe.status == 200, f"{probe.path}: {probe.status}"
        if n >= warmup:
            probe.times.append(elapsed)
            probe.statements = counter.count - before


async def second_page(session: aiohttp.ClientSession, base: str, first: str) -> str | None:
    """The path of the first page's "next" link, or None when it has none."""
    async with session.get(base + first) as response:
        if response.status != 200:
            return None
        links = [html.unescape(m) for m in CURSOR_RE.findall(await response.text())]
    return links[0] if links else None


@asynccontextmanager
async def database(args: argparse.Namespace) -> AsyncIterator[str]:
    """The database's URL: a kept one (``--database``), or a fresh one dropped unless --keep."""
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    if args.database:
        yield f"{base}/{args.database}"
        return
    name = f"songda_bench_ws_{uuid.uuid4().hex[:10]}"
    await pg_admin(f'CREATE DATABASE "{name}"')
    try:
        yield f"{base}/{name}"
    finally:
        if args.keep:
            print(f"kept database {name} (again: --database {name})")
        else:
            await pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def bench_context(data_dir: str, url: str) -> Context:
    """Songda's context on the seeded database, the local Redis under a queue of its own, the
    first seeded court, a court key in ``data_dir``."""
    settings = load_settings(
        {
            "SONGDA_DATA_DIR": data_dir,
            "SONGDA_DATABASE_URL": url,
            "SONGDA_REDIS_URL": REDIS_URL,
            "SONGDA_QUEUE_NAME": f"songda:bench:{uuid.uuid4().hex}",
            "SONGDA_SECRET_KEY": "bench-secret-key-that-is-long-enough-0123456789",
            "SONGDA_SECRETS_KEY": new_key(),
            "SONGDA_SMTP_HOST": "127.0.0.1",
            "SONGDA_SMTP_SENDER": "service@court.example",
            "SONGDA_COURT_NAME": COURTS[0],
            "SONGDA_PUBLIC_BASE_URL": "http://127.0.0.1",
        }
    )
    create_key(settings.keys_dir, SystemClock())
    return await open_context(settings, REDIS_URL)


async def seed_database(url: str, n: int) -> None:
    engine = create_engine(url)
    try:
        await upgrade(engine)
        started = time.perf_counter()
        seeded = await seed(engine, SystemClock(), n)
        seconds = time.perf_counter() - started
    finally:
        await engine.dispose()
    counts = ", ".join(f"{name} {count:,}" for name, count in seeded.counts.items())
    phases = ", ".join(f"{phase} {took:.1f} s" for phase, took in seeded.phases.items())
    print(f"seeded {n:,} dispatches in {seconds:.1f} s ({phases}): {counts}")


def report(found: list[Probe], runs: int) -> bool:
    print(f"\n{'URL':<34} {'median':>9} {'p90':>9} {'target':>8} {'ratio':>6} {'SQL':>4}")
    for p in found:
        if not p.times:
            print(f"{p.label:<34} {'absent (404)' if p.status == 404 else 'not timed':>19}")
            continue
        target = f"{p.target:.0f} ms" if p.target else "-"
        ratio = f"{p.median / p.target:.2f}" if p.target else "-"
        print(
            f"{p.label:<34} {p.median:6.1f} ms {p.p90:6.1f} ms {target:>8} {ratio:>6} "
            f"{p.statements:>4}"
        )
    ok = True
    for group, target, what in (
        ("queue", QUEUE_TARGET_MS, "queue first page and filters"),
        ("report", REPORT_TARGET_MS, "report for a year"),
    ):
        timed = [p for p in found if p.group == group and p.times]
        if not any(p.group == group for p in found):
            continue  # not asked for (--only)
        if not timed:
            print(f"{what}: not built here (every URL answered 404)")
            ok = False
            continue
        worst = max(timed, key=lambda p: p.median)
        verdict = "PASS" if worst.median <= target else "MISS"
        ok = ok and verdict == "PASS"
        print(
            f"{verdict} {what}: median ≤ {target:.0f} ms — the slowest is {worst.label!r} at "
            f"{worst.median:.1f} ms (p90 {worst.p90:.1f} ms), {runs} runs each"
        )
    return ok


async def main(args: argparse.Namespace) -> int:
    async with database(args) as url:
        if not args.database:
            await seed_database(url, args.n)
        with tempfile.TemporaryDirectory(prefix="songda-ws-bench-") as tmp:
            ctx = await bench_context(tmp, url)
            counter = StatementCounter(ctx)
            runner = web.AppRunner(create_app(ctx), access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            base = f"http://127.0.0.1:{runner.addresses[0][1]}"
            try:
                found = [p for p in probes(await read_facts(ctx)) if args.only in (None, p.group)]
                jar = aiohttp.CookieJar(unsafe=True)  # cookies for an IP address host
                async with aiohttp.ClientSession(cookie_jar=jar) as session:
                    await log_in(session, base)
                    for probe in found:
                        if not probe.path:  # the second page: the first page's cursor link
                            probe.path = await second_page(session, base, "/staff/queue") or ""
                            if not probe.path:
                                probe.status = 404
                                continue
                        await time_probe(session, base, probe, counter, args.runs, args.warmup)
                        if probe.times:
                            print(f"  {probe.label:<34} {probe.median:7.1f} ms", flush=True)
            finally:
                await runner.cleanup()
                await close_context(ctx)
    report(found, args.runs)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="dispatches to seed")
    parser.add_argument("--runs", type=int, default=20, help="timed requests per URL")
    parser.add_argument("--warmup", type=int, default=3, help="untimed requests per URL first")
    parser.add_argument("--keep", action="store_true", help="keep the seeded database")
    parser.add_argument("--database", help="time a database kept by --keep (no seeding)")
    parser.add_argument(
        "--only", choices=("queue", "page", "report", "existing"), help="time one group of URLs"
    )
    sys.exit(asyncio.run(main(parser.parse_args())))
