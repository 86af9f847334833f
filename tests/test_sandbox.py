"""Sandbox mode's pages: the mailbox, its JSON, and moving the clock (with a sweep)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conftest import eventually, settled
from helpers import create_dispatch, dispatch_body, get_dispatch, upload_ok

from delivery.api.app import create_app
from delivery.context import Context
from delivery.sandbox import SmtpSink, add_routes


async def test_mailbox_shows_sent_mail_and_the_clock_moves_windows(
    ctx: Context,
    auth: dict[str, str],
    worker: Any,
    smtp_sink: SmtpSink,
    aiohttp_client: Callable[..., Any],
) -> None:
    app = create_app(ctx)
    add_routes(app, smtp_sink)
    client = await aiohttp_client(app)
    document_id = await upload_ok(client, auth)
    body = dispatch_body([document_id], source="court_found")
    body["locale"] = "en"
    created = await create_dispatch(client, auth, body)

    async def listed() -> Any:
        items = (await (await client.get("/sandbox/api/messages")).json())["items"]
        return items or None

    [message] = await eventually(listed)
    assert message["to"] == ["zhang.san@example.com"]
    assert message["subject"].startswith("[杭州市西湖区人民法院] Service of court documents")
    assert "last 4 characters" in message["text"]
    await settled(ctx)
    page = await client.get("/sandbox/mailbox")
    assert page.status == 200
    assert "Service of court documents" in await page.text()

    moved = await client.post("/sandbox/api/clock", json={"seconds": 3 * 86400})
    assert moved.status == 200
    assert (await moved.json())["now"] == "2026-11-26T02:00:00.000000Z"

    async def failed() -> Any:
        data = await get_dispatch(client, auth, created["id"])
        return data if data["state"] == "failed" else None

    assert (await eventually(failed))["state_reason"] == "exhausted"
    assert (await client.post("/sandbox/api/clock", json={"seconds": -5})).status == 400
