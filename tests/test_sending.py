"""The e-mail channel's outcomes, and work that survives a lost queue."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from conftest import eventually, settled
from helpers import create_dispatch, dispatch_body, get_dispatch, stored_events, upload_ok

from delivery.context import Context
from delivery.sandbox import SmtpSink
from delivery.services.sending import MAX_TRIES
from delivery.services.sweep import sweep
from delivery.worker import build_worker


async def _attempt_state(
    client: TestClient[Any, Any], auth: dict[str, str], dispatch_id: str, *states: str
) -> Any:
    body = await get_dispatch(client, auth, dispatch_id)
    attempts = body["attempts"]
    return body if attempts and attempts[0]["state"] in states else None


async def test_permanent_smtp_refusal_fails_the_attempt_with_the_reply(
    ctx: Context,
    client: TestClient[Any, Any],
    auth: dict[str, str],
    worker: Any,
    smtp_sink: SmtpSink,
) -> None:
    smtp_sink.reply = "550 5.1.1 mailbox unavailable"
    document_id = await upload_ok(client, auth)
    created = await create_dispatch(client, auth, dispatch_body([document_id]))
    body = await eventually(lambda: _attempt_state(client, auth, created["id"], "failed"))
    assert body["attempts"][0]["reason"] == "550 5.1.1 mailbox unavailable"
    assert body["attempts"][0]["tries"] == 1
    # The only step has nothing left to wait for: the dispatch fails at once.
    final = await eventually(lambda: _state(client, auth, created["id"], "failed"))
    assert final["state_reason"] == "exhausted"


async def test_transient_smtp_errors_are_retried_with_backoff_then_fail(
    ctx: Context,
    client: TestClient[Any, Any],
    auth: dict[str, str],
    worker: Any,
    smtp_sink: SmtpSink,
) -> None:
    smtp_sink.reply = "451 4.3.0 try again later"
    document_id = await upload_ok(client, auth)
    created = await create_dispatch(client, auth, dispatch_body([document_id]))
    body = await eventually(lambda: _retry_count(client, auth, created["id"], 1))
    assert body["attempts"][0]["state"] == "pending"
    for tries in range(2, MAX_TRIES + 1):
        await settled(ctx)
        ctx.clock.advance(timedelta(hours=1, minutes=1))  # type: ignore[attr-defined]
        await sweep(ctx)
        body = await eventually(lambda t=tries: _retry_count(client, auth, created["id"], t))
    assert body["attempts"][0]["state"] == "failed"
    assert body["attempts"][0]["reason"] == "451 4.3.0 try again later"
    types = [e.type for e in await stored_events(ctx, created["id"])]
    assert types.count("attempt_retry_scheduled") == MAX_TRIES - 1
    assert types.count("attempt_sending") == MAX_TRIES


async def test_transient_error_then_acceptance_serves(
    ctx: Context,
    client: TestClient[Any, Any],
    auth: dict[str, str],
    worker: Any,
    smtp_sink: SmtpSink,
) -> None:
    smtp_sink.reply = "421 4.7.0 busy"
    document_id = await upload_ok(client, auth)
    created = await create_dispatch(client, auth, dispatch_body([document_id]))
    await eventually(lambda: _retry_count(client, auth, created["id"], 1))
    smtp_sink.reply = "250 OK"
    await settled(ctx)
    ctx.clock.advance(timedelta(seconds=31))  # type: ignore[attr-defined]
    await sweep(ctx)
    body = await eventually(lambda: _state(client, auth, created["id"], "served"))
    assert body["served_at"] == "2026-11-23T02:00:31.000000Z"


async def test_a_flushed_queue_delays_work_but_loses_none(
    ctx: Context,
    client: TestClient[Any, Any],
    auth: dict[str, str],
    smtp_sink: SmtpSink,
) -> None:
    """No worker runs while the dispatch is created; the queue is then wiped. The database
    still says what is due, so the next sweep puts the work back."""
    document_id = await upload_ok(client, auth)
    created = await create_dispatch(client, auth, dispatch_body([document_id]))
    await _wipe_queue(ctx, created["id"])

    arq_worker = build_worker(ctx, poll_delay=0.02, periodic_sweep=False)
    task = asyncio.create_task(arq_worker.async_run())
    try:
        report = await sweep(ctx)
        assert report.advanced == 1
        body = await eventually(lambda: _state(client, auth, created["id"], "served"))
        assert body["legal_basis"] == "OLR-31"
        assert len(smtp_sink.messages) == 1
    finally:
        await arq_worker.close()
        task.cancel()


async def _wipe_queue(ctx: Context, dispatch_id: str) -> None:
    """What a flushed Redis looks like to this test: its queue and its jobs are gone."""
    pool = ctx.queue.pool
    keys = [key async for key in pool.scan_iter(match=f"arq:job:*{dispatch_id}*")]
    assert keys, "the dispatch's first job should have been queued"
    await pool.delete(ctx.queue.queue_name, *keys)


async def _retry_count(
    client: TestClient[Any, Any], auth: dict[str, str], dispatch_id: str, tries: int
) -> Any:
    body = await get_dispatch(client, auth, dispatch_id)
    attempts = body["attempts"]
    if attempts and attempts[0]["tries"] == tries and attempts[0]["state"] in ("pending", "failed"):
        return body
    return None


async def _state(
    client: TestClient[Any, Any], auth: dict[str, str], dispatch_id: str, state: str
) -> Any:
    body = await get_dispatch(client, auth, dispatch_id)
    return body if body["state"] == state else None


class DyingChannel:
    """Stands for a worker killed after claiming the attempt, before recording the outcome."""

    name = "email"

    async def send(self, message: object) -> object:
        raise RuntimeError("worker killed mid-send")

    async def close(self) -> None:
        return None


async def test_a_send_interrupted_by_a_dead_worker_is_rescued_after_its_lease(
    ctx: Context,
    client: TestClient[Any, Any],
    auth: dict[str, str],
    smtp_sink: SmtpSink,
) -> None:
    from delivery.services import progress, sending

    document_id = await upload_ok(client, auth)
    created = await create_dispatch(client, auth, dispatch_body([document_id]))
    await progress.advance(ctx, created["id"])
    attempt_id = (await get_dispatch(client, auth, created["id"]))["attempts"][0]["id"]
    real_channel = ctx.channels["email"]
    ctx.channels["email"] = DyingChannel()  # type: ignore[assignment]
    with pytest.raises(RuntimeError):
        await sending.send(ctx, attempt_id)
    ctx.channels["email"] = real_channel
    assert (await get_dispatch(client, auth, created["id"]))["attempts"][0]["state"] == "sending"

    ctx.clock.advance(sending.SENDING_LEASE + timedelta(seconds=1))  # type: ignore[attr-defined]
    arq_worker = build_worker(ctx, poll_delay=0.02, periodic_sweep=False)
    task = asyncio.create_task(arq_worker.async_run())
    try:
        report = await sweep(ctx)
        assert report.rescued == 1
        body = await eventually(lambda: _state(client, auth, created["id"], "served"))
        assert body["attempts"][0]["tries"] == 2
        types = [e.type for e in await stored_events(ctx, created["id"])]
        assert "attempt_send_interrupted" in types
        [message] = smtp_sink.messages
        assert message.message_id == f"<{attempt_id.lower()}@court.example>"
    finally:
        await arq_worker.close()
        task.cancel()
