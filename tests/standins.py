"""The outside worlds' stand-ins as fixtures, for every test that needs one: the Twilio API (the
real twilio client points at it), the court-express-mail carrier (the real reference adapter
points at it, and it sends its signed tracking webhooks back to Songda), and a staff member's
browser (its own cookie jar on the same application)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import FormData, web
from aiohttp.test_utils import TestClient, TestServer
from api_client import Api
from conftest import COURT, settled
from helpers import form_csrf, log_in, staff_account

from channels.postal.adapter import PostalChannel, ReferenceCarrier
from channels.postal.standin import CarrierStandIn
from channels.sms.adapter import SmsChannel, SmsSettings
from channels.sms.standin import TwilioStandIn
from delivery.api.app import create_app
from delivery.clock import ManualClock
from delivery.context import Context
from delivery.infra.certificate_signing import certificate_timestamper
from delivery.sandbox.pages import add_routes
from delivery.sandbox.tsa_standin import TsaStandIn, create_tsa_identity, start_tsa_standin
from delivery.staff import Role, StaffUser

CARRIER = "court-express"
CARRIER_SECRET = "carrier-webhook-secret-0123456789abcdef"
POSTAL_ADDRESS = "浙江省杭州市西湖区文三路100号"
TWILIO_TOKEN = "test-token"


@dataclasses.dataclass
class Post:
    fake: CarrierStandIn
    channel: PostalChannel
    api: Api

    async def dispatch(self, source: str = "recipient_confirmed", **options: Any) -> str:
        """A dispatch whose recipient has only a postal address: the post starts at once."""
        body = await self.api.new_dispatch_body(consent=False, **options)
        body["recipient"]["emails"] = []
        body["recipient"]["postal_addresses"] = [
            {"lines": POSTAL_ADDRESS, "postcode": "310012", "source": source}
        ]
        created = await self.api.create(body)
        return str(created["id"])

    async def posted(self, dispatch_id: str) -> str:
        """Wait until the postal attempt is sent; its tracking number."""
        found = await self.api.until(
            dispatch_id,
            lambda d: any(a["channel"] == "postal" and a["state"] == "sent" for a in d["attempts"]),
        )
        await settled(self.api.ctx)
        [attempt] = [a for a in found["attempts"] if a["channel"] == "postal"]
        return str(attempt["provider_ref"])

    def later(self, delta: timedelta) -> None:
        self.api.ctx.clock.advance(delta)  # type: ignore[attr-defined]

    async def in_sandbox(self, smtp_sink: Any, aiohttp_client: Callable[..., Any]) -> None:
        """The API's client on an application with the sandbox pages over this stand-in (the
        postman's controls), the stand-in's webhooks going to it."""
        app = create_app(self.api.ctx)
        add_routes(app, smtp_sink, None, self.fake)
        self.api.client = await aiohttp_client(app)
        self.fake.webhook_url = str(self.api.client.make_url(f"/hooks/carrier/{CARRIER}"))

    async def webhook(self, body: bytes, headers: dict[str, str], carrier: str = CARRIER) -> int:
        response = await self.api.client.post(
            f"/hooks/carrier/{carrier}", data=body, headers=headers
        )
        return response.status


@pytest.fixture
async def post(api: Api) -> AsyncIterator[Post]:
    """The stand-in carrier on loopback, the real adapter pointed at it, webhooks to Songda."""
    fake = CarrierStandIn(
        key="carrier-key",
        clock=api.ctx.clock,
        webhook_url=str(api.client.make_url(f"/hooks/carrier/{CARRIER}")),
        webhook_secret=CARRIER_SECRET,
    )
    server = TestServer(fake.app())
    await server.start_server()
    channel = PostalChannel(
        ReferenceCarrier(str(server.make_url("")), "carrier-key", CARRIER), CARRIER_SECRET
    )
    api.ctx.channels["postal"] = channel
    yield Post(fake, channel, api)
    await channel.close()
    await server.close()


@pytest.fixture
async def sms_standin() -> AsyncIterator[tuple[TwilioStandIn, SmsChannel]]:
    fake = TwilioStandIn()
    server = TestServer(fake.app())
    await server.start_server()
    channel = SmsChannel(
        SmsSettings(
            account_sid="AC" + "0" * 32,
            auth_token=TWILIO_TOKEN,
            sender="+15005550006",
            status_callback_url="http://songda.test/hooks/twilio/status",
            api_base_url=str(server.make_url("")),
        )
    )
    yield fake, channel
    await channel.close()
    await server.close()


@asynccontextmanager
async def live_twilio(
    api: Api,
    aiohttp_client: Callable[..., Any],
    token: str,
    with_routes: Callable[[web.Application, TwilioStandIn], None] | None = None,
) -> AsyncIterator[TwilioStandIn]:
    """The Twilio stand-in wired to a live Songda server (``api.client`` is re-pointed at it):
    the real twilio client sends through the stand-in, and its status callbacks reach Songda
    signed with ``token`` at the public URL Songda knows. ``with_routes`` adds routes to the
    application (the sandbox's)."""
    fake = TwilioStandIn(auth_token=token)
    twilio_server = TestServer(fake.app())
    await twilio_server.start_server()
    app = create_app(api.ctx)
    if with_routes is not None:
        with_routes(app, fake)
    songda = TestServer(app)
    await songda.start_server()
    base = str(songda.make_url("")).rstrip("/")
    settings = api.ctx.settings
    api.ctx.settings = dataclasses.replace(
        settings,
        public_base_url=base,
        twilio=dataclasses.replace(settings.twilio, auth_token=token),
    )
    channel = SmsChannel(
        SmsSettings(
            account_sid="AC" + "5a" * 16,
            auth_token=token,
            sender="+10000000000",
            status_callback_url=f"{base}/hooks/twilio/status",
            api_base_url=str(twilio_server.make_url("")),
        )
    )
    api.ctx.channels["sms"] = channel
    api.client = await aiohttp_client(songda)
    try:
        yield fake
    finally:
        await channel.close()
        await twilio_server.close()


Client = TestClient[Any, Any]


class Browser:
    """A field server's phone: its own client (cookie jar) on the same application."""

    def __init__(self, client: Client, user: StaffUser, password: str) -> None:
        self.client = client
        self.user = user
        self.password = password

    async def log_in(self) -> str:
        """Log in (again: a session lasts 12 hours); the session's CSRF token."""
        return await log_in(self.client, self.user.username, self.password)

    async def form(self, task_id: str, lang: str = "") -> tuple[int, str]:
        page = await self.client.get(f"/field/tasks/{task_id}{lang}", allow_redirects=False)
        return page.status, await page.text()

    async def post(
        self,
        task_id: str,
        fields: dict[str, str],
        files: list[tuple[str, bytes, str, str]] | None = None,
        *,
        csrf: str | None = None,
    ) -> Any:
        """The outcome form as the browser sends it: the CSRF token first, the fields, the file
        inputs (an empty file input when nothing was chosen), the canvas signature field."""
        if csrf is None:
            status, html = await self.form(task_id)
            assert status == 200, html
            csrf = form_csrf(html)
        form = FormData(default_to_multipart=True)
        form.add_field("csrf_token", csrf)
        form.add_field("lang", "zh-CN")
        for name, value in fields.items():
            form.add_field(name, value)
        if not files:
            form.add_field("media", b"", filename="", content_type="application/octet-stream")
        for name, content, filename, content_type in files or []:
            form.add_field(name, content, filename=filename, content_type=content_type)
        form.add_field("signature", fields.get("signature", ""))
        return await self.client.post(f"/field/tasks/{task_id}", data=form, allow_redirects=False)


@pytest.fixture
def browser(ctx: Context, aiohttp_client: Callable[..., Any]) -> Callable[..., Any]:
    """``await browser(*roles)``: a new staff account (a field server unless roles are given),
    logged in on its own client."""

    async def make(
        *roles: Role, courts: tuple[str, ...] = (COURT,), name: str = "李送达"
    ) -> Browser:
        user, password = await staff_account(
            ctx, *(roles or (Role.FIELD_SERVER,)), courts=courts, display_name=name
        )
        client = await aiohttp_client(create_app(ctx))
        browser = Browser(client, user, password)
        await browser.log_in()
        return browser

    return make


TSA_NAME = "Test TSA"


@dataclass
class Tsa:
    standin: TsaStandIn
    url: str
    cert: Path


async def _serve_tsa(directory: Path, name: str, clock: ManualClock) -> AsyncIterator[Tsa]:
    cert, key = create_tsa_identity(directory, name, clock)
    standin = TsaStandIn(cert, key, clock)
    runner, url = await start_tsa_standin(standin)
    try:
        yield Tsa(standin, url, cert)
    finally:
        await runner.cleanup()


@pytest.fixture
async def tsa(ctx: Context, clock: ManualClock, tmp_path: Path) -> AsyncIterator[Tsa]:
    """The test's TSA, configured as SONGDA_TSA_URL / SONGDA_TSA_CERT would."""
    async for served in _serve_tsa(tmp_path / "tsa", TSA_NAME, clock):
        ctx.settings = dataclasses.replace(
            ctx.settings, tsa_url=served.url, tsa_cert_path=served.cert, tsa_timeout=2.0
        )
        timestamper = certificate_timestamper(ctx.settings)
        ctx.timestamper = timestamper
        yield served
        if timestamper is not None:
            await timestamper.close()


@pytest.fixture
async def other_tsa(clock: ManualClock, tmp_path: Path) -> AsyncIterator[Tsa]:
    """A second TSA with a certificate of its own (the same name: only the key tells)."""
    async for served in _serve_tsa(tmp_path / "other-tsa", TSA_NAME, clock):
        yield served
