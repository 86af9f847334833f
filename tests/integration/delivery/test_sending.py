"""The e-mail channel's outcomes, and work that survives a lost queue or a dead worker."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from api_client import Api
from conftest import eventually, running_worker, settled

from channels.email.adapter import EmailChannel
from delivery.clock import ManualClock
from delivery.context import Context
from delivery.jobs.liveness import STALE_AFTER
from delivery.sandbox.pages import SmtpSink
from delivery.services import sending
from delivery.services.sending import MAX_TRIES
from delivery.services.sweep import sweep

pytestmark = pytest.mark.both_databases


def _advance(api: Api, delta: timedelta) -> None:
    api.ctx.clock.advance(delta)  # type: ignore[attr-defined]


class RefusingSender(SmtpSink):
    """A relay that refuses our sender address, as one with a wrong login or policy does."""

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        return "550 5.7.1 sender not allowed"


@pytest.mark.usefixtures("worker")
async def test_permanent_smtp_refusal_fails_the_attempt_with_the_reply(
    api: Api, smtp_sink: SmtpSink
) -> None:
    smtp_sink.reply = "550 5.1.1 mailbox unavailable"
    created = await api.new_dispatch()
    body = await api.until_attempt(created["id"], "failed")
    assert body["attempts"][0]["reason"] == "550 5.1.1 mailbox unavailable"
    assert body["attempts"][0]["tries"] == 1
    # The step has nothing left to wait for: the ladder moves on at once (to public notice).
    await api.until_state(created["id"], "notice_pending")


@pytest.mark.usefixtures("worker")
async def test_transient_smtp_errors_are_retried_with_backoff_then_fail(
    api: Api, smtp_sink: SmtpSink
) -> None:
    smtp_sink.reply = "451 4.3.0 try again later"
    created = await api.new_dispatch()
    await api.until_attempt(created["id"], "pending", tries=1)
    for tries in range(2, MAX_TRIES + 1):
        await settled(api.ctx)
        api.ctx.clock.advance(timedelta(hours=1, minutes=1))  # type: ignore[attr-defined]
        await sweep(api.ctx)
        body = await api.until_attempt(created["id"], "pending", "failed", tries=tries)
    assert body["attempts"][0]["state"] == "failed"
    assert body["attempts"][0]["reason"] == "451 4.3.0 try again later"
    types = await api.event_types(created["id"])
    assert types.count("attempt_retry_scheduled") == MAX_TRIES - 1
    assert types.count("attempt_sending") == MAX_TRIES


@pytest.mark.usefixtures("worker")
async def test_transient_error_then_acceptance_serves(api: Api, smtp_sink: SmtpSink) -> None:
    smtp_sink.reply = "421 4.7.0 busy"
    created = await api.new_dispatch()
    await api.until_attempt(created["id"], "pending", tries=1)
    smtp_sink.reply = "250 OK"
    await settled(api.ctx)
    api.ctx.clock.advance(timedelta(seconds=31))  # type: ignore[attr-defined]
    await sweep(api.ctx)
    body = await api.until_state(created["id"], "served")
    assert body["served_at"] == "2026-11-23T02:00:31.000000Z"


@pytest.fixture
async def late_worker(ctx: Context) -> AsyncIterator[Any]:
    """Workers started by the test itself, after the damage is done."""
    async with contextlib.AsyncExitStack() as stack:

        async def start() -> None:
            await stack.enter_async_context(running_worker(ctx))

        yield start


async def test_a_flushed_queue_delays_work_but_loses_none(
    api: Api, smtp_sink: SmtpSink, late_worker: Any
) -> None:
    """No worker runs while the dispatch is created; the queue is then wiped. The database
    still says what is due, so the next sweep puts the work back."""
    created = await api.new_dispatch()
    attempt_id = created["attempts"][0]["id"]
    pool = api.ctx.queue.pool
    keys = [key async for key in pool.scan_iter(match=f"arq:job:*{attempt_id}*")]
    assert keys, "the attempt's send job should have been queued"
    await pool.delete(api.ctx.queue.queue_name, *keys)

    await late_worker()
    report = await sweep(api.ctx)
    assert report.sends == 1
    body = await api.until_state(created["id"], "served")
    assert body["legal_basis"] == "OLR-31"
    assert len(smtp_sink.messages) == 1


class DyingChannel:
    """Stands for a worker killed after claiming the attempt, before recording the outcome."""

    name = "email"

    async def send(self, message: object) -> object:
        raise RuntimeError("worker killed mid-send")

    async def close(self) -> None:
        return None


async def test_a_send_interrupted_by_a_dead_worker_is_released_once_its_worker_is_gone(
    api: Api, smtp_sink: SmtpSink, late_worker: Any
) -> None:
    """The claim names no living worker (this send ran in no worker process): a worker whose
    own heartbeats have gone through for the staleness window releases it, and the send goes
    again under a job id of its own (same Message-ID)."""
    ctx = api.ctx
    ctx.wall_clock = ManualClock(datetime.now(UTC))
    created = await api.new_dispatch()
    attempt_id = created["attempts"][0]["id"]
    real_channel = ctx.channels["email"]
    ctx.channels["email"] = DyingChannel()  # type: ignore[assignment]
    with pytest.raises(RuntimeError):
        await sending.send(ctx, created["id"], attempt_id)
    ctx.channels["email"] = real_channel
    assert (await api.dispatch(created["id"]))["attempts"][0]["state"] == "sending"

    await late_worker()
    await eventually(lambda: _steady(ctx))
    assert (await sweep(ctx)).rescued == 0, "nothing is released before the sweeper is steady"
    ctx.wall_clock.advance(STALE_AFTER)
    await sweep(ctx)  # (or the worker's upkeep loop, whichever comes first)
    body = await api.until_state(created["id"], "served")
    assert body["attempts"][0]["tries"] == 2
    assert "attempt_send_interrupted" in await api.event_types(created["id"])
    [message] = smtp_sink.messages
    assert message.message_id == f"<{attempt_id.lower()}@court.example>"


async def _steady(ctx: Context) -> bool:
    return ctx.liveness is not None and ctx.liveness.steady_since is not None


@pytest.mark.usefixtures("worker")
async def test_a_relay_refusing_our_sender_does_not_fail_the_attempt(
    api: Api, smtp_sink: SmtpSink
) -> None:
    refusing = RefusingSender(api.ctx.clock)
    await refusing.start()
    working = api.ctx.channels["email"]
    api.ctx.channels["email"] = EmailChannel(
        dataclasses.replace(api.ctx.settings.smtp, port=refusing.port)
    )
    created = await api.new_dispatch()
    body = await api.until(
        created["id"], lambda d: (d["attempts"][0]["reason"] or "").startswith("channel_")
    )
    first = body["attempts"][0]
    assert first["reason"].startswith("channel_unavailable: SMTPSenderRefused")
    assert (first["state"], first["tries"]) == ("pending", 0)
    assert body["state"] == "in_progress"
    assert "attempt_channel_unavailable" in await api.event_types(created["id"])

    await settled(api.ctx)
    await api.ctx.channels["email"].close()
    await refusing.stop()
    api.ctx.channels["email"] = working
    _advance(api, timedelta(minutes=6))
    await sweep(api.ctx)
    assert (await api.until_state(created["id"], "served"))["legal_basis"] == "OLR-31"


@pytest.mark.usefixtures("worker")
async def test_an_unconfigured_channel_is_retried_once_it_is_configured(
    api: Api, smtp_sink: SmtpSink
) -> None:
    email = api.ctx.channels.pop("email")
    created = await api.new_dispatch()
    await settled(api.ctx)
    assert "attempt_waiting" in await api.event_types(created["id"])
    api.ctx.channels["email"] = email
    _advance(api, timedelta(minutes=6))
    await sweep(api.ctx)
    await api.until_state(created["id"], "served")
