"""Browser scenario of the sandbox mailbox (issue 14, part 7): the e-mail's HTML part drawn in
its sandboxed frame, the page's own script under its CSP, and its buttons calling the sandbox
API — the clock moves, the e-mail bounces — with no console error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from api_client import Api
from conftest import eventually

from channels.email.standin import SmtpSink
from delivery.api.app import create_app
from delivery.context import Context
from delivery.sandbox.pages import add_routes

from .conftest import ScreenFactory


@pytest.fixture
async def client(
    ctx: Context, smtp_sink: SmtpSink, aiohttp_client: Callable[..., Any]
) -> TestClient[Any, Any]:
    """The test server with the sandbox pages, as ``songda run --sandbox`` serves them."""
    app = create_app(ctx)
    add_routes(app, smtp_sink)
    return await aiohttp_client(app)  # type: ignore[no-any-return]


@pytest.mark.usefixtures("worker")
async def test_the_mailbox_shows_the_html_part_and_its_buttons_work(
    api: Api, smtp_sink: SmtpSink, screens: ScreenFactory
) -> None:
    created = await api.create(await api.new_dispatch_body(source="court_found"))

    async def sent() -> bool:
        return bool(smtp_sink.messages)

    await eventually(sent)
    desk = await screens()
    page = desk.page
    await desk.goto("/sandbox/mailbox?lang=en", "mailbox")
    frame = page.frame_locator("iframe[sandbox='']")
    link = frame.locator("a[href*='/r/']")
    await link.wait_for()
    box = await page.locator("iframe").bounding_box()
    assert box is not None and box["height"] > 200  # the e-mail as the recipient sees it
    reachable = await page.locator("iframe").evaluate(
        "f => { try { return f.contentDocument !== null } catch (e) { return false } }"
    )
    assert not reachable  # an opaque origin: the page cannot reach into it, nor it out

    before = api.ctx.clock.now()
    await desk.submit(page.get_by_role("button", name="+1 day"), "clock-moved")
    assert (api.ctx.clock.now() - before).days == 1
    await desk.submit(page.get_by_role("button", name="bounce (mailbox does not exist)"), "bounced")
    said = await page.locator("#sandbox-status").inner_text()
    assert said.startswith("bounce (mailbox does not exist) → 200")  # the API's answer, shown
    bounced = await api.until(
        created["id"], lambda d: any(a["state"] == "bounced" for a in d["attempts"])
    )
    assert bounced["attempts"][0]["channel"] == "email"
