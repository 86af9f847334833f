"""Faults while sending (issue 12, items 1, 3 and 11): nothing accepted is lost, sent again or
re-dated; a send whose outcome is genuinely unknown goes again within a minute; a live slow
worker keeps its claim; workers ride out PostgreSQL and Redis outages by themselves.

Outages are simulated without touching the shared servers: PostgreSQL is reached through a TCP
proxy the test cuts (tests/tcp_proxy.py), Redis is a private ``redis-server``, and workers that
are killed are real ``songda worker`` processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import START, eventually, running_worker, settled
from helpers import Api, cli_env
from sqlalchemy.engine import make_url
from tcp_proxy import TcpProxy, proxied

from delivery.clock import ManualClock, rfc3339
from delivery.context import Context
from delivery.jobs.acceptance_journal import JOURNAL_DIR, Acceptance
from delivery.jobs.embedded_redis import redis_binary
from delivery.jobs.job_queue import JobQueue
from delivery.jobs.liveness import STALE_AFTER
from delivery.sandbox.pages import SmtpSink
from delivery.services.sending import record_acceptance
from delivery.services.sweep import sweep
from delivery.storage.engine import create_engine

# A killed worker's unknown send must go again within this (the target).
RESEND_WITHIN = 60.0


def before_each_message(sink: SmtpSink, hook: Callable[[], Any]) -> None:
    """Run ``hook`` when the sink has the whole message, before it answers 250."""
    original = sink.handle_DATA

    async def handle(server: Any, session: Any, envelope: Any) -> str:
        hook()
        return await original(server, session, envelope)

    sink.handle_DATA = handle  # type: ignore[method-assign]


@pytest.fixture
async def db_proxy(ctx: Context) -> AsyncIterator[tuple[TcpProxy, str]]:
    """A proxy in front of the test's PostgreSQL; (proxy, the database URL through it)."""
    url = make_url(ctx.settings.database_url)
    async with proxied(url.host or "127.0.0.1", url.port or 5432) as proxy:
        through = url.set(host="127.0.0.1", port=proxy.port)
        yield proxy, through.render_as_string(hide_password=False)


@contextlib.asynccontextmanager
async def through(ctx: Context, url: str) -> AsyncIterator[None]:
    """``ctx`` (the worker's) talks to the database through ``url`` meanwhile."""
    direct, ctx.engine = ctx.engine, create_engine(url)
    try:
        yield
    finally:
        await ctx.engine.dispose()
        ctx.engine = direct


@contextlib.contextmanager
def songda_worker(ctx: Context, database_url: str) -> Iterator[subprocess.Popen[bytes]]:
    """A real ``songda worker`` process on the test's queue, data directory and SMTP sink."""
    env = cli_env(
        ctx,
        SONGDA_DATABASE_URL=database_url,
        SONGDA_REDIS_URL=ctx.settings.redis_url or "",
        SONGDA_QUEUE_NAME=ctx.settings.queue_name,
        SONGDA_SMTP_PORT=str(ctx.settings.smtp.port),
        SONGDA_SMTP_TIMEOUT="5",
        SONGDA_PUBLIC_BASE_URL=ctx.settings.public_base_url,
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SONGDA_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "delivery.cli.main", "worker"],
        env={**clean, **env},
        stdout=subprocess.DEVNULL,
        stderr=open(os.environ.get("FAULTS_LOG", os.devnull), "ab"),  # noqa: SIM115
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def journalled(data_dir: Path) -> list[dict[str, Any]]:
    """The acceptance lines of every journal file in ``data_dir``."""
    lines = []
    for path in (data_dir / JOURNAL_DIR).glob("*.jsonl"):
        for raw in path.read_text().splitlines():
            line = json.loads(raw)
            if line["kind"] == "accepted":
                lines.append(line)
    return lines


async def attempt_sent_events(api: Api, dispatch_id: str) -> list[Any]:
    return [e for e in await api.events(dispatch_id) if e.type == "attempt_sent"]


async def test_worker_killed_between_acceptance_and_record_records_it_after_restart(
    api: Api, smtp_sink: SmtpSink, db_proxy: tuple[TcpProxy, str], clock: ManualClock
) -> None:
    """A real worker process: the relay accepts, the database is unreachable at that moment,
    the worker is SIGKILLed with the acceptance only in its journal. The restarted worker
    records it, dated by the acceptance; nothing is sent twice."""
    ctx = api.ctx
    proxy, proxied_url = db_proxy
    accepted: list[datetime] = []

    def accept_then_cut() -> None:
        accepted.append(datetime.now(UTC))
        proxy.cut()

    before_each_message(smtp_sink, accept_then_cut)
    clock.set(datetime.now(UTC))  # the worker processes run on the real clock
    created = await api.new_dispatch()
    with songda_worker(ctx, proxied_url) as first:
        await eventually(lambda: _true(journalled(ctx.settings.data_dir)), within=60)
        first.send_signal(signal.SIGKILL)
        first.wait()
    body = await api.dispatch(created["id"])
    assert body["attempts"][0]["state"] == "sending", "the database never heard of it"

    await proxy.restore()
    restarted_at = datetime.now(UTC)
    with songda_worker(ctx, proxied_url):
        body = await api.until_state(created["id"], "served")
    [message] = smtp_sink.messages
    assert message.message_id == f"<{created['attempts'][0]['id'].lower()}@court.example>"
    [sent] = await attempt_sent_events(api, created["id"])
    assert sent.occurred_at <= accepted[0] + timedelta(seconds=2)
    assert sent.recorded_at >= restarted_at, "recorded by the restarted worker"
    assert body["served_at"] == rfc3339(sent.occurred_at)
    assert body["attempts"][0]["sent_at"] == rfc3339(sent.occurred_at)


async def _true(value: Any) -> Any:
    return value


async def _served(api: Api, dispatch_id: str) -> bool:
    return bool((await api.dispatch(dispatch_id))["state"] == "served")


async def test_database_unreachable_at_acceptance_is_recorded_later_with_its_own_time(
    api: Api, smtp_sink: SmtpSink, db_proxy: tuple[TcpProxy, str], clock: ManualClock
) -> None:
    """The worker stays up through the outage; when the database is back its upkeep loop
    records the journalled acceptance with the time of the acceptance, not of the record."""
    ctx = api.ctx
    proxy, proxied_url = db_proxy
    before_each_message(smtp_sink, proxy.cut)
    created = await api.new_dispatch()
    async with through(ctx, proxied_url), running_worker(ctx):
        await eventually(lambda: _true(journalled(ctx.settings.data_dir)))
        await eventually(lambda: _true(ctx.outages.is_down("database")))
        clock.advance(timedelta(hours=1))  # the record comes an hour of legal time later
        await proxy.restore()
        body = await api.until_state(created["id"], "served")
        await settled(ctx)
        await sweep(ctx)
        await settled(ctx)
    assert len(smtp_sink.messages) == 1
    [sent] = await attempt_sent_events(api, created["id"])
    assert sent.occurred_at == START
    assert sent.recorded_at == START + timedelta(hours=1)
    assert body["served_at"] == rfc3339(START)
    assert body["attempts"][0]["sent_at"] == rfc3339(START)


async def test_a_worker_killed_mid_smtp_is_sent_again_within_a_minute(
    api: Api, smtp_sink: SmtpSink, clock: ManualClock
) -> None:
    """Killed in the SMTP conversation, the worker never learnt whether the relay accepted:
    a restarted worker sends again (same Message-ID) once the dead one's heartbeat is stale,
    not after a 10-minute lease; service is dated by the acceptance it learnt."""
    ctx = api.ctx
    kills: list[float] = []
    workers: list[subprocess.Popen[bytes]] = []

    def kill_first_worker() -> None:
        if not kills:
            kills.append(asyncio.get_running_loop().time())
            workers[0].send_signal(signal.SIGKILL)

    before_each_message(smtp_sink, kill_first_worker)
    clock.set(datetime.now(UTC))  # the worker processes run on the real clock
    created = await api.new_dispatch()
    with songda_worker(ctx, ctx.settings.database_url) as first:
        workers.append(first)
        await eventually(lambda: _true(kills), within=60)
        first.wait()
    await asyncio.sleep(1)
    with songda_worker(ctx, ctx.settings.database_url):
        await eventually(lambda: _served(api, created["id"]), within=RESEND_WITHIN)
        recovered = asyncio.get_running_loop().time() - kills[0]
    assert recovered < RESEND_WITHIN
    body = await api.dispatch(created["id"])
    attempt_id = created["attempts"][0]["id"].lower()
    assert [m.message_id for m in smtp_sink.messages] == [f"<{attempt_id}@court.example>"] * 2
    assert body["attempts"][0]["tries"] == 2
    [sent] = await attempt_sent_events(api, created["id"])
    assert body["served_at"] == rfc3339(sent.occurred_at)


async def test_a_live_slow_worker_keeps_its_claim(api: Api, smtp_sink: SmtpSink) -> None:
    """The relay takes 11 minutes (legal and wall time moved on): the worker is alive and
    heartbeating, so neither the sweep nor its own upkeep releases the claim; one message."""
    ctx = api.ctx
    ctx.wall_clock = ManualClock(datetime.now(UTC))
    relay_answers = asyncio.Event()
    original = smtp_sink.handle_DATA

    async def slow(server: Any, session: Any, envelope: Any) -> str:
        await relay_answers.wait()
        return await original(server, session, envelope)

    smtp_sink.handle_DATA = slow  # type: ignore[method-assign]
    created = await api.new_dispatch()
    async with running_worker(ctx):
        await api.until_attempt(created["id"], "sending")
        for clock in (ctx.clock, ctx.wall_clock):
            clock.advance(timedelta(minutes=11))  # type: ignore[attr-defined]
        assert ctx.liveness is not None
        await ctx.liveness.beat()  # (the next beat would come within 5 s anyway)
        assert ctx.liveness.steady_for(STALE_AFTER)
        assert (await sweep(ctx)).rescued == 0
        relay_answers.set()
        body = await api.until_state(created["id"], "served")
    assert len(smtp_sink.messages) == 1
    assert "attempt_send_interrupted" not in await api.event_types(created["id"])
    assert body["attempts"][0]["tries"] == 1


class PrivateRedis:
    """A redis-server of the test's own on a unix socket (the shared one is never flushed or
    stopped), which the test can stop and start again."""

    def __init__(self, folder: Path) -> None:
        self.socket = folder / "redis.sock"
        self.url = f"unix://{self.socket}"
        self.process: subprocess.Popen[bytes] | None = None

    def spawn(self) -> None:
        self.process = subprocess.Popen(
            [redis_binary(), "--port", "0", "--unixsocket", str(self.socket), "--save", ""],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    async def start(self) -> None:
        self.spawn()
        await eventually(lambda: _true(self.socket.exists()))

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture
async def private_redis() -> AsyncIterator[PrivateRedis]:
    """(A short path: unix sockets have a length limit.)"""
    with tempfile.TemporaryDirectory(prefix="sd-", dir="/tmp") as folder:
        redis = PrivateRedis(Path(folder))
        await redis.start()
        yield redis
        redis.stop()


@contextlib.asynccontextmanager
async def queue_on(ctx: Context, url: str) -> AsyncIterator[JobQueue]:
    shared, ctx.queue = ctx.queue, await JobQueue.connect(url, ctx.settings.queue_name)
    try:
        yield ctx.queue
    finally:
        await ctx.queue.close()
        ctx.queue = shared


async def test_redis_flushed_mid_batch_serves_all_once(
    api: Api, smtp_sink: SmtpSink, private_redis: PrivateRedis
) -> None:
    ctx = api.ctx
    n = 12
    async with queue_on(ctx, private_redis.url) as queue:
        created = [await api.new_dispatch(reference=f"flush-{i}") for i in range(n)]
        async with running_worker(ctx):
            await eventually(lambda: _true(len(smtp_sink.messages) >= 3))
            await queue.pool.flushall()
            served: set[str] = set()

            async def all_served() -> bool:
                await sweep(ctx)
                for dispatch in created:
                    if (await api.dispatch(dispatch["id"]))["state"] == "served":
                        served.add(dispatch["id"])
                return len(served) == n

            await eventually(all_served, within=60)
    ids = [m.message_id for m in smtp_sink.messages]
    assert len(ids) == n and len(set(ids)) == n


async def test_the_worker_resumes_by_itself_when_redis_comes_back(
    api: Api, smtp_sink: SmtpSink, private_redis: PrivateRedis
) -> None:
    """Redis stops under a running worker, then starts again: the same worker process picks
    up new work without a restart (arq's own loop would have ended on the first error)."""
    ctx = api.ctx
    async with queue_on(ctx, private_redis.url), running_worker(ctx):
        first = await api.new_dispatch(reference="before-outage")
        await api.until_state(first["id"], "served")
        private_redis.stop()
        await eventually(lambda: _true(ctx.outages.is_down("redis")))
        await asyncio.sleep(1)
        await private_redis.start()
        second = await api.new_dispatch(reference="after-outage")
        await api.until_state(second["id"], "served")
        assert not ctx.outages.is_down("redis")
    assert len(smtp_sink.messages) == 2


@pytest.mark.usefixtures("worker")
async def test_a_second_acceptance_is_evidence_and_a_replay_is_recorded_once(
    api: Api, smtp_sink: SmtpSink, clock: ManualClock
) -> None:
    """Service is dated by the first acceptance known: a later second acceptance of the same
    attempt (an ambiguous re-send) is kept as ``attempt_sent`` {late, duplicate} and changes
    nothing; the same journal entry replayed twice is recorded once."""
    ctx = api.ctx
    created = await api.new_dispatch()
    served = await api.until_state(created["id"], "served")
    attempt_id = created["attempts"][0]["id"]
    clock.advance(timedelta(minutes=3))
    second = Acceptance(
        dispatch_id=created["id"],
        attempt_id=attempt_id,
        channel="email",
        accepted_at=clock.now(),
        provider_ref="<again@court.example>",
        reply="250 again",
    )
    await record_acceptance(ctx, second)
    await record_acceptance(ctx, second)
    first, late = await attempt_sent_events(api, created["id"])
    assert late.data["late"] is True and late.data["duplicate"] is True
    assert late.occurred_at == START + timedelta(minutes=3)
    body = await api.dispatch(created["id"])
    assert body["served_at"] == served["served_at"] == rfc3339(first.occurred_at)
    assert (await api.event_types(created["id"])).count("dispatch_served") == 1


async def test_an_sms_accepted_while_the_database_is_unreachable_is_recorded_later(
    api: Api, sms_standin: Any, db_proxy: tuple[TcpProxy, str], clock: ManualClock
) -> None:
    """The same for SMS: a Twilio SID returned is an acceptance, journalled and recorded with
    its own time when the database is back; the SMS is not sent again."""
    ctx = api.ctx
    proxy, proxied_url = db_proxy
    fake, channel = sms_standin
    del ctx.channels["email"]
    original = channel.send

    async def accepted_then_cut(message: Any) -> Any:
        result = await original(message)
        proxy.cut()
        return result

    channel.send = accepted_then_cut  # type: ignore[method-assign]
    ctx.channels["sms"] = channel
    body = await api.new_dispatch_body(source="court_found")
    body["recipient"]["phones"] = [{"number": "+8613800138000", "source": "recipient_confirmed"}]
    created = await api.create(body)
    async with through(ctx, proxied_url), running_worker(ctx):
        await eventually(lambda: _true(journalled(ctx.settings.data_dir)))
        clock.advance(timedelta(hours=1))
        await proxy.restore()
        body = await api.until(created["id"], lambda d: d["attempts"][-1]["state"] == "sent")
    [sms] = [a for a in body["attempts"] if a["channel"] == "sms"]
    assert sms["provider_ref"] == fake.messages[0]["sid"]
    assert sms["sent_at"] == rfc3339(START)
    assert len(fake.messages) == 1
