"""The outside worlds' stand-ins as fixtures, for every test that needs one: the Twilio API (the
real twilio client points at it) and the court-express-mail carrier (the real reference adapter
points at it, and it sends its signed tracking webhooks back to Songda)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from conftest import settled
from helpers import Api

from channels.postal import PostalChannel, ReferenceCarrier
from channels.sms import SmsChannel, SmsSettings
from delivery.carrier_standin import CarrierStandIn
from delivery.twilio_standin import TwilioStandIn

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
