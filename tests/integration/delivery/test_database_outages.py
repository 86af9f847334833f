"""Faults while sending (issue 12, items 1, 3 and 11): an acceptance while PostgreSQL is
unreachable is journalled and recorded later with its own time — by the same worker when the
database comes back, or by a restarted one when the worker was killed meanwhile; e-mail and SMS
alike.

PostgreSQL is reached through a TCP proxy the test cuts (tests/tcp_proxy.py), without touching
the shared server; workers that are killed are real ``songda worker`` processes.
"""

from __future__ import annotations

import contextlib
import json
import signal
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from api_client import Api
from conftest import START, eventually, running_worker, settled
from sqlalchemy.engine import make_url
from tcp_proxy import TcpProxy, proxied

from delivery.clock import ManualClock, rfc3339
from delivery.context import Context
from delivery.jobs.acceptance_journal import JOURNAL_DIR
from delivery.sandbox.pages import SmtpSink
from delivery.services.sweep import sweep
from delivery.storage.engine import create_engine
from integration.delivery.support import (
    attempt_sent_events,
    before_each_message,
    ready,
    songda_worker,
)


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


def journalled(data_dir: Path) -> list[dict[str, Any]]:
    """The acceptance lines of every journal file in ``data_dir``."""
    lines = []
    for path in (data_dir / JOURNAL_DIR).glob("*.jsonl"):
        for raw in path.read_text().splitlines():
            line = json.loads(raw)
            if line["kind"] == "accepted":
                lines.append(line)
    return lines


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
        await eventually(lambda: ready(journalled(ctx.settings.data_dir)), within=60)
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
        await eventually(lambda: ready(journalled(ctx.settings.data_dir)))
        await eventually(lambda: ready(ctx.outages.is_down("database")))
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
        await eventually(lambda: ready(journalled(ctx.settings.data_dir)))
        clock.advance(timedelta(hours=1))
        await proxy.restore()
        body = await api.until(created["id"], lambda d: d["attempts"][-1]["state"] == "sent")
    [sms] = [a for a in body["attempts"] if a["channel"] == "sms"]
    assert sms["provider_ref"] == fake.messages[0]["sid"]
    assert sms["sent_at"] == rfc3339(START)
    assert len(fake.messages) == 1
