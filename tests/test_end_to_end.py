"""End to end: API → worker → SMTP sink → recipient link → served → signed webhook.

Runs on PostgreSQL and on SQLite with the real worker, Redis and SMTP; only the clock is manual.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from conftest import MINIMAL_PDF, eventually, settled
from helpers import (
    create_dispatch,
    dispatch_body,
    get_dispatch,
    link_path,
    stored_events,
    upload_ok,
)
from standardwebhooks import Webhook

from delivery.context import Context
from delivery.sandbox import SmtpSink
from delivery.services.sweep import sweep
from tracking.chain import verify_chain

pytestmark = pytest.mark.both_databases


class Receiver:
    """A local webhook receiver; ``fail_first`` answers 503 that many times first."""

    def __init__(self, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.calls: list[tuple[dict[str, str], bytes]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.calls.append((dict(request.headers), await request.read()))
        if len(self.calls) <= self.fail_first:
            return web.Response(status=503)
        return web.Response(status=204)

    def types(self) -> list[str]:
        return [json.loads(body)["type"] for _headers, body in self.calls]


async def start_receiver(receiver: Receiver) -> TestServer:
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    server = TestServer(app)
    await server.start_server()
    return server


async def register(client: TestClient[Any, Any], auth: dict[str, str], url: str) -> str:
    response = await client.post("/api/v1/webhook-endpoints", json={"url": url}, headers=auth)
    assert response.status == 201, await response.text()
    return str((await response.json())["secret"])


async def served(client: TestClient[Any, Any], auth: dict[str, str], dispatch_id: str) -> Any:
    body = await get_dispatch(client, auth, dispatch_id)
    return body if body["state"] == "served" else None


async def follow_link(client: TestClient[Any, Any], path: str, last4: str) -> Any:
    page = await client.get(path)
    assert page.status == 200
    assert "后四位" in await page.text()
    verify = await client.post(f"{path}/verify", data={"last4": last4}, allow_redirects=False)
    assert verify.status == 303, await verify.text()
    documents_page = await client.get(path)
    assert documents_page.status == 200
    return await documents_page.text()


async def test_recipient_confirmed_email_is_served_on_smtp_acceptance(
    ctx: Context,
    client: TestClient[Any, Any],
    auth: dict[str, str],
    worker: Any,
    smtp_sink: SmtpSink,
) -> None:
    """OLR-31 / CPL-INT-135: served when the court's SMTP server accepts the message."""
    receiver = Receiver()
    server = await start_receiver(receiver)
    flaky = Receiver(fail_first=1)
    flaky_server = await start_receiver(flaky)
    try:
        secret = await register(client, auth, str(server.make_url("/hook")))
        flaky_secret = await register(client, auth, str(flaky_server.make_url("/hook")))
        document_id = await upload_ok(client, auth)
        created = await create_dispatch(client, auth, dispatch_body([document_id]))
        dispatch = await eventually(lambda: served(client, auth, created["id"]))

        assert dispatch["legal_basis"] == "OLR-31"
        assert dispatch["served_by_channel"] == "email"
        assert dispatch["served_at"] == "2026-11-23T02:00:00.000000Z"
        assert dispatch["service_date"] == "2026-11-23"
        [attempt] = dispatch["attempts"]
        assert attempt["state"] == "sent"
        [message] = smtp_sink.messages
        assert message.to == ["zhang.san@example.com"]
        assert attempt["provider_ref"] == message.message_id
        assert "(2026)浙0106民初1234号" in message.subject

        text = await follow_link(client, link_path(message.text), "123x")
        assert "民事起诉状" in text
        download = await client.get(f"{link_path(message.text)}/documents/{document_id}")
        assert download.status == 200
        assert await download.read() == MINIMAL_PDF

        events = await stored_events(ctx, created["id"])
        verdict = verify_chain(events)
        assert verdict.valid and verdict.count == len(events)
        types = [e.type for e in events]
        for expected in (
            "dispatch_created",
            "attempt_sent",
            "dispatch_served",
            "link_opened",
            "identity_verified",
            "document_downloaded",
        ):
            assert expected in types
        assert types.index("attempt_sent") < types.index("dispatch_served")

        await eventually(lambda: _has(receiver, "dispatch.served"))
        headers, body = next(
            c for c in receiver.calls if json.loads(c[1])["type"] == "dispatch.served"
        )
        payload = Webhook(secret).verify(body, headers)
        assert payload["data"]["dispatch_id"] == created["id"]
        assert payload["data"]["legal_basis"] == "OLR-31"
        assert payload["data"]["service_date"] == "2026-11-23"

        # The flaky receiver refused its first delivery; the sweep retries it once due.
        await eventually(lambda: _has_calls(flaky, 1))
        await settled(ctx)
        ctx.clock.advance(timedelta(seconds=10))  # type: ignore[attr-defined]
        await sweep(ctx)
        refused_type = json.loads(flaky.calls[0][1])["type"]
        await eventually(lambda: _has(flaky, refused_type, min_calls=2))
        retried = [c for c in flaky.calls if json.loads(c[1])["type"] == refused_type]
        assert len(retried) == 2
        assert retried[0][0]["webhook-id"] == retried[1][0]["webhook-id"]
        Webhook(flaky_secret).verify(retried[1][1], retried[1][0])
    finally:
        await server.close()
        await flaky_server.close()


async def _has(receiver: Receiver, event_type: str, min_calls: int = 1) -> bool:
    return receiver.types().count(event_type) >= min_calls


async def _has_calls(receiver: Receiver, count: int) -> bool:
    return len(receiver.calls) >= count


async def test_court_found_email_is_served_only_when_read(
    ctx: Context,
    client: TestClient[Any, Any],
    auth: dict[str, str],
    worker: Any,
    smtp_sink: SmtpSink,
) -> None:
    """OLR-31: a court-found address is served when the recipient reads, dated then."""
    document_id = await upload_ok(client, auth)
    created = await create_dispatch(
        client, auth, dispatch_body([document_id], source="court_found")
    )
    await eventually(lambda: _sent(client, auth, created["id"]))
    await settled(ctx)
    assert (await get_dispatch(client, auth, created["id"]))["state"] == "in_progress"

    ctx.clock.advance(timedelta(days=1, hours=3))  # type: ignore[attr-defined]
    [message] = smtp_sink.messages
    await follow_link(client, link_path(message.text), "123X")
    dispatch = await eventually(lambda: served(client, auth, created["id"]))
    assert dispatch["legal_basis"] == "OLR-31"
    assert dispatch["served_at"] == "2026-11-24T05:00:00.000000Z"
    assert dispatch["service_date"] == "2026-11-24"  # 13:00 in Asia/Shanghai
    assert dispatch["attempts"][0]["state"] == "read"
    assert verify_chain(await stored_events(ctx, created["id"])).valid


async def _sent(client: TestClient[Any, Any], auth: dict[str, str], dispatch_id: str) -> bool:
    body = await get_dispatch(client, auth, dispatch_id)
    return bool(body["attempts"]) and body["attempts"][0]["state"] == "sent"


async def test_window_expiry_fails_the_dispatch_without_sleeping(
    ctx: Context,
    client: TestClient[Any, Any],
    auth: dict[str, str],
    worker: Any,
    smtp_sink: SmtpSink,
) -> None:
    """An unread court-found e-mail: after the 3-day window the dispatch fails, ``exhausted``."""
    document_id = await upload_ok(client, auth)
    created = await create_dispatch(
        client, auth, dispatch_body([document_id], source="court_found")
    )
    await eventually(lambda: _sent(client, auth, created["id"]))
    await settled(ctx)
    ctx.clock.advance(timedelta(days=2, hours=23))  # type: ignore[attr-defined]
    await sweep(ctx)
    assert (await get_dispatch(client, auth, created["id"]))["state"] == "in_progress"

    ctx.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]
    await sweep(ctx)
    dispatch = await eventually(lambda: _state(client, auth, created["id"], "failed"))
    assert dispatch["state_reason"] == "exhausted"
    assert dispatch["attempts"][0]["state"] == "expired"


async def _state(
    client: TestClient[Any, Any], auth: dict[str, str], dispatch_id: str, state: str
) -> Any:
    body = await get_dispatch(client, auth, dispatch_id)
    return body if body["state"] == state else None
