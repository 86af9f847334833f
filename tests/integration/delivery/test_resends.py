"""Faults while sending (issue 12, items 1 and 11): a send whose outcome is genuinely unknown (its
worker killed mid-SMTP, a real ``songda worker`` process) goes again within a minute, a live
slow worker keeps its claim, and a second acceptance is kept as evidence without re-dating the
service."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from api_client import Api
from conftest import START, eventually, running_worker

from delivery.clock import ManualClock, rfc3339
from delivery.jobs.acceptance_journal import Acceptance
from delivery.jobs.liveness import STALE_AFTER
from delivery.sandbox.pages import SmtpSink
from delivery.services.sending import record_acceptance
from delivery.services.sweep import sweep
from integration.delivery.support import (
    attempt_sent_events,
    before_each_message,
    ready,
    songda_worker,
)

# A killed worker's unknown send must go again within this (the target).
RESEND_WITHIN = 60.0


async def _served(api: Api, dispatch_id: str) -> bool:
    return bool((await api.dispatch(dispatch_id))["state"] == "served")


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
        await eventually(lambda: ready(kills), within=60)
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
