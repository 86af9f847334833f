"""Sandbox mode's pages: the mailbox, its JSON, and moving the clock (with a sweep)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import timedelta
from html import unescape
from typing import Any

import pytest
from api_client import Api
from conftest import eventually, settled
from helpers import log_in, staff_account
from standins import Post, live_twilio

from channels.email.standin import SmtpSink
from channels.postal.outcomes import RETURN_REASONS
from channels.postal.standin import POSTMAN_REPORTS
from delivery.sandbox.pages import add_routes, parse_duration


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


def _buttons(html: str) -> dict[str, tuple[str, Any]]:
    """The mailbox page's buttons: label → (API path, JSON body)."""
    found = re.findall(r"data-post=\"([^\"]+)\" data-body='([^']*)'>([^<]+)</button>", html)
    return {label: (path, json.loads(unescape(body))) for path, body, label in found}


@pytest.mark.usefixtures("worker")
async def test_the_mailbox_has_a_button_for_every_postman_report(
    post: Post, smtp_sink: SmtpSink, aiohttp_client: Callable[..., Any]
) -> None:
    api = post.api
    await post.in_sandbox(smtp_sink, aiohttp_client)
    dispatch_id = await post.dispatch()
    tracking = await post.posted(dispatch_id)

    html = await (await api.client.get("/sandbox/mailbox?lang=en")).text()
    buttons = _buttons(html)
    events = f"/sandbox/api/carrier/{tracking}/events"
    for report in POSTMAN_REPORTS:
        assert buttons[report.label] == (events, report.body("张三"))
    base = api.ctx.settings.public_base_url
    assert f"{base}{events}" in html  # an absolute command to paste
    for reason in RETURN_REASONS:  # each reason listed, with what it does to service
        assert f"<code>{reason}</code>" in html
    assert "served on the return date (PM-11)" in html
    court_day = api.ctx.clock.now().astimezone(api.ctx.settings.zone).date().isoformat()
    assert f"{base}/api/v1/mail-pieces.pdf?date={court_day}" in html
    assert "the court's own date, in its time zone (Asia/Shanghai)" in html
    zh = await (await api.client.get("/sandbox/mailbox")).text()
    assert "地址错误" in zh and "法院今天是" in zh

    path, body = buttons["the address is wrong"]  # what the button sends, sent
    played = await api.client.post(path, json=body)
    assert await played.json() == {"webhook_status": 200}
    served = await api.until_state(dispatch_id, "served")
    assert served["legal_basis"] == "PM-11"


@pytest.mark.usefixtures("worker")
async def test_the_mailbox_frames_each_emails_html_in_a_sandbox(sandbox_api: Api) -> None:
    api = sandbox_api
    await api.create(await api.new_dispatch_body(source="court_found"))

    async def listed() -> Any:
        return (await (await api.client.get("/sandbox/api/messages")).json())["items"]

    [message] = await eventually(listed)
    html = await (await api.client.get("/sandbox/mailbox?lang=en")).text()
    frame = f'<iframe sandbox="" src="/sandbox/mailbox/messages/{message["id"]}.html"'
    assert frame in html
    link = re.search(r"http://\S+/r/\S+", message["text"])
    assert link is not None and f'href="{link.group(0)}"' in html  # the text part's link
    path, body = _buttons(html)["bounce (mailbox does not exist)"]
    assert (path, body) == (f"/sandbox/api/messages/{message['id']}/bounce", None)
    page_csp = (await api.client.get("/sandbox/mailbox")).headers["Content-Security-Policy"]
    assert "frame-src 'self'" in page_csp and "script-src 'self'" in page_csp

    part = await api.client.get(f"/sandbox/mailbox/messages/{message['id']}.html")
    assert part.status == 200 and part.content_type == "text/html"
    assert "<a href=" in await part.text()
    csp = [d.strip() for d in part.headers["Content-Security-Policy"].split(";")]
    assert csp[0] == "sandbox" and "default-src 'none'" in csp  # no scripts, opaque origin
    assert "frame-ancestors 'self'" in csp
    assert (await api.client.get("/sandbox/mailbox/messages/999.html")).status == 404


@pytest.mark.usefixtures("worker")
async def test_the_mailbox_reply_button_answers_as_the_recipient_and_serves(
    sandbox_api: Api,
) -> None:
    """A court-found address: the reply (In-Reply-To the message) serves it (OLR-31)."""
    api = sandbox_api
    created = await api.create(await api.new_dispatch_body(source="court_found"))

    async def listed() -> Any:
        return (await (await api.client.get("/sandbox/api/messages")).json())["items"]

    [message] = await eventually(listed)
    await settled(api.ctx)
    html = await (await api.client.get("/sandbox/mailbox?lang=en")).text()
    path, body = _buttons(html)["reply (the recipient answers)"]
    assert path == f"/sandbox/api/messages/{message['id']}/reply"
    assert (await api.client.post(path, json={"text": " "})).status == 400
    answered = await api.client.post(path, json=body)
    assert answered.status == 200, await answered.text()
    assert (await answered.json())["from_recipient"] is True
    served = await api.until_state(created["id"], "served")
    assert (served["legal_basis"], served["served_by_channel"]) == ("OLR-31", "email")
    [reply] = [e for e in await api.events(created["id"]) if e.type == "reply_received"]
    assert reply.data["automatic"] is False
    assert (await api.client.post("/sandbox/api/messages/999/reply", json=body)).status == 404


@pytest.mark.usefixtures("worker")
async def test_the_mailbox_reply_button_answers_an_sms_from_its_number(
    api: Api, smtp_sink: SmtpSink, aiohttp_client: Callable[..., Any]
) -> None:
    """The SMS stand-in posts the inbound webhook, signed as Twilio signs it, from the number
    the SMS went to: a court-found number is served by the reply (OLR-31)."""
    async with live_twilio(
        api, aiohttp_client, "sandbox-token", lambda app, fake: add_routes(app, smtp_sink, fake)
    ) as twilio:
        body = await api.new_dispatch_body(source="court_found")
        body["recipient"]["emails"] = []
        body["recipient"]["phones"] = [{"number": "+8613800138000", "source": "court_found"}]
        created = await api.create(body)
        await api.until(created["id"], lambda d: d["attempts"][-1]["state"] == "sent")
        await settled(api.ctx)
        html = await (await api.client.get("/sandbox/mailbox?lang=en")).text()
        path, reply = _buttons(html)["reply (the recipient answers)"]
        assert path == f"/sandbox/api/sms/{twilio.messages[0]['sid']}/reply"
        answered = await api.client.post(path, json=reply)
        assert (await answered.json()) == {"webhook_status": 200}
        served = await api.until_state(created["id"], "served")
    assert (served["legal_basis"], served["served_by_channel"]) == ("OLR-31", "sms")
