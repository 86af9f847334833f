"""A reply to an SMS counts as service on a court-found number (OLR-31, docs/decisions/0042).

The Twilio stand-in plays the recipient's handset: it posts the inbound-message webhook, signed as
Twilio signs it, to a live Songda server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest
from api_client import Api
from conftest import settled
from standins import live_twilio

from channels.sms.hooks import INBOUND_PATH
from channels.sms.standin import TwilioStandIn
from delivery.clock import rfc3339
from delivery.config_sms import SmsRouting
from delivery.services.sms_health import ProviderBoard
from delivery.services.sms_routing import SmsRouter
from delivery.services.sweep import sweep
from integration.staff.support import clerk_session

pytestmark = [pytest.mark.usefixtures("worker")]
TOKEN = "reply-token"
PHONE = "+8613800138000"
ADDRESS = {"lines": "杭州市西湖区文三路1号", "postcode": "310012", "source": "recipient_confirmed"}


@pytest.fixture
async def twilio(
    api: Api, smtp_sink: Any, aiohttp_client: Callable[..., Any]
) -> AsyncIterator[TwilioStandIn]:
    async with live_twilio(api, aiohttp_client, TOKEN) as fake:
        yield fake


def _sms(dispatch: dict[str, Any]) -> dict[str, Any]:
    return next(a for a in dispatch["attempts"] if a["channel"] == "sms")


async def _court_found_sms(api: Api, **recipient: Any) -> str:
    """A dispatch whose SMS went out to a court-found number (its e-mail too): only a reply or
    a reading can serve it."""
    body = await api.new_dispatch_body(source="court_found")
    body["recipient"]["phones"] = [{"number": PHONE, "source": "court_found"}]
    body["recipient"].update(recipient)
    created = await api.create(body)
    await api.until(created["id"], lambda d: _sms(d)["state"] == "sent")
    await settled(api.ctx)
    return str(created["id"])


async def _reply(api: Api, twilio: TwilioStandIn, number: str, text: str) -> None:
    url = f"{api.ctx.settings.public_base_url}{INBOUND_PATH}"
    assert await twilio.reply(url, number, text) == 200
    await settled(api.ctx)


async def test_a_reply_from_the_recipients_number_serves_dated_at_the_reply(
    api: Api, twilio: TwilioStandIn
) -> None:
    dispatch_id = await _court_found_sms(api)
    api.ctx.clock.advance(timedelta(hours=5))  # type: ignore[attr-defined]
    replied_at = api.ctx.clock.now()
    await _reply(api, twilio, PHONE, "收到，谢谢\n张三")
    served = await api.until_state(dispatch_id, "served")
    assert (served["legal_basis"], served["served_by_channel"]) == ("OLR-31", "sms")
    assert served["served_at"] == rfc3339(replied_at)
    [reply] = [e for e in await api.events(dispatch_id) if e.type == "reply_received"]
    assert (reply.source, reply.data["automatic"], reply.data["body"]) == (
        "twilio",
        False,
        "收到，谢谢\n张三",
    )
    assert reply.data["from"] == "**********8000" and PHONE not in str(reply.data)


async def test_a_message_from_another_number_records_and_serves_nothing(
    api: Api, twilio: TwilioStandIn
) -> None:
    dispatch_id = await _court_found_sms(api)
    before = await api.event_types(dispatch_id)
    await _reply(api, twilio, "+8613900139000", "收到")
    after = await api.dispatch(dispatch_id)
    assert after["state"] == "in_progress"
    assert await api.event_types(dispatch_id) == before


async def test_a_forged_inbound_message_is_refused(api: Api, twilio: TwilioStandIn) -> None:
    dispatch_id = await _court_found_sms(api)
    before = await api.event_types(dispatch_id)
    answer = await api.client.post(
        INBOUND_PATH,
        data={"MessageSid": "SMforged", "From": PHONE, "Body": "收到"},
        headers={"X-Twilio-Signature": "forged"},
    )
    assert answer.status == 403
    assert await api.event_types(dispatch_id) == before


async def test_a_reply_after_the_step_window_serves_the_open_dispatch(
    api: Api, twilio: TwilioStandIn
) -> None:
    """The earliest effective service counts (OLR-31): the SMS step expired and the ladder went
    on to post; the recipient's reply then serves, dated at the reply, and the post is cancelled."""
    dispatch_id = await _court_found_sms(api, postal_addresses=[ADDRESS])
    api.ctx.clock.advance(timedelta(days=3))  # type: ignore[attr-defined]
    await sweep(api.ctx)
    on_post = await api.until(dispatch_id, lambda d: d["attempts"][-1]["channel"] == "postal")
    assert _sms(on_post)["state"] == "expired"
    await settled(api.ctx)

    api.ctx.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]
    replied_at = api.ctx.clock.now()
    await _reply(api, twilio, PHONE, "已收到")
    served = await api.until_state(dispatch_id, "served")
    assert (served["legal_basis"], served["served_by_channel"]) == ("OLR-31", "sms")
    assert served["served_at"] == rfc3339(replied_at)
    assert served["attempts"][-1]["state"] == "cancelled"
    assert _sms(served)["state"] == "expired"


async def test_a_second_reply_is_evidence_and_keeps_the_first_date(
    api: Api, twilio: TwilioStandIn
) -> None:
    """The earliest effective service counts (OLR-31): a later reply to a served dispatch is
    recorded and changes nothing."""
    dispatch_id = await _court_found_sms(api)
    await _reply(api, twilio, PHONE, "收到")
    served = await api.until_state(dispatch_id, "served")
    api.ctx.clock.advance(timedelta(days=1))  # type: ignore[attr-defined]
    await _reply(api, twilio, PHONE, "再次确认收到")
    after = await api.dispatch(dispatch_id)
    assert (after["state"], after["served_at"]) == ("served", served["served_at"])
    types = await api.event_types(dispatch_id)
    assert types.count("reply_received") == 2 and types.count("dispatch_served") == 1


async def test_a_reply_to_a_confirmation_request_is_evidence_and_does_not_serve(
    api: Api, twilio: TwilioStandIn
) -> None:
    """The notice went by SMS, then the clerk's request to confirm the addresses (CPL-INT-136) to
    the same number: a reply now answers that request, not the notice — recorded, no service."""
    routing = SmsRouting()
    board = ProviderBoard(api.ctx.engine, api.ctx.clock, routing.health)
    api.ctx.channels["sms"] = SmsRouter({"twilio": api.ctx.channels["sms"]}, routing, board)
    dispatch_id = await _court_found_sms(api)
    api.ctx.clock.advance(timedelta(minutes=5))  # type: ignore[attr-defined]
    asked = await api.client.post(
        f"/api/v1/dispatches/{dispatch_id}/actions",
        json={"action": "request_address_confirmation", "note": "请确认送达地址"},
        headers=api.auth,
    )
    assert asked.status == 200, await asked.text()
    assert len(twilio.messages) == 2 and "/c/" in twilio.messages[-1]["body"]
    api.ctx.clock.advance(timedelta(minutes=5))  # type: ignore[attr-defined]
    await _reply(api, twilio, PHONE, "地址无误")
    after = await api.dispatch(dispatch_id)
    assert after["state"] == "in_progress" and _sms(after)["state"] == "sent"
    [reply] = [e for e in await api.events(dispatch_id) if e.type == "reply_received"]
    assert reply.data["answers"] == "confirmation_request"
    assert reply.data["from_recipient"] is True and reply.data["body"] == "地址无误"
    assert "dispatch_served" not in await api.event_types(dispatch_id)
    await clerk_session(api)
    page = await (await api.client.get(f"/staff/dispatches/{dispatch_id}")).text()
    assert "回复的是送达地址确认请求：仅作证据，不构成送达" in page and "<q>地址无误</q>" in page
