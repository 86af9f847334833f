"""Sandbox mode's pages: the mailbox, its JSON, and moving the clock (with a sweep)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from api_client import Api
from conftest import eventually, settled
from helpers import log_in, staff_account

from delivery.sandbox.pages import parse_duration


@pytest.mark.usefixtures("worker")
async def test_mailbox_shows_sent_mail_and_the_clock_moves_windows(sandbox_api: Api) -> None:
    api = sandbox_api
    body = await api.new_dispatch_body(source="court_found")
    created = await api.create({**body, "locale": "en"})

    async def listed() -> Any:
        items = (await (await api.client.get("/sandbox/api/messages")).json())["items"]
        return items or None

    [message] = await eventually(listed)
    raw = await api.client.get("/sandbox/api/messages")
    assert (raw.content_type, raw.charset) == ("application/json", "utf-8")
    body = await raw.read()
    assert "杭州市西湖区人民法院".encode() in body and b"\\u" not in body  # UTF-8, not \uXXXX
    assert message["to"] == ["zhang.san@example.com"]
    assert message["subject"].startswith("[杭州市西湖区人民法院] Service of court documents")
    assert "last 4 characters" in message["text"]
    await settled(api.ctx)
    page = await api.client.get("/sandbox/mailbox")
    assert page.status == 200
    assert "Service of court documents" in await page.text()

    moved = await api.client.post("/sandbox/api/clock", json={"advance": "P3D"})
    assert moved.status == 200
    assert (await moved.json())["now"] == "2026-11-26T02:00:00.000000Z"
    state = await (await api.client.get("/sandbox/api/clock")).json()
    assert state["offset_seconds"] == 3 * 86400
    await api.until_state(created["id"], "notice_pending")
    for bad in ({"advance": "-P1D"}, {"advance": "P"}, {"advance": "3 days"}, {"seconds": 5}):
        assert (await api.client.post("/sandbox/api/clock", json=bad)).status == 400


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P3D", timedelta(days=3)),
        ("PT12H", timedelta(hours=12)),
        ("P1W", timedelta(weeks=1)),
        ("P1DT2H30M5S", timedelta(days=1, hours=2, minutes=30, seconds=5)),
    ],
)
def test_iso_8601_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


async def test_sandbox_routes_do_not_exist_outside_sandbox_mode(api: Api) -> None:
    for method, path in (
        ("GET", "/sandbox/mailbox"),
        ("POST", "/sandbox/api/clock"),
        ("GET", "/sandbox/api/messages"),
    ):
        assert (await api.client.request(method, path)).status == 404


async def test_moving_the_clock_keeps_staff_logged_in(sandbox_api: Api) -> None:
    """Staff sessions run on the wall clock: 30 sandbox days later the clerk is still in."""
    user, password = await staff_account(sandbox_api.ctx)
    await log_in(sandbox_api.client, user.username, password)
    moved = await sandbox_api.client.post("/sandbox/api/clock", json={"advance": "P30D"})
    assert moved.status == 200
    account = await sandbox_api.client.get("/account", allow_redirects=False)
    assert account.status == 200
