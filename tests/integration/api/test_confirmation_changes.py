"""A form signed on a dispatch is the recipient's change in writing (CPL-INT-137), on that
dispatch at once: a recipient-confirmed address it replaced is court-found, so a return "moved"
from it is not deemed service (PM-11); a refusal of e-service withdraws the dispatch's consent,
so a delivery report that arrives afterwards does not serve (CPL-INT-135) — only reading after
the identity check or a reply still can (OLR-31)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest
from api_client import Api
from conftest import settled
from helpers import confirmation_link
from standins import POSTAL_ADDRESS, Post, live_twilio

from channels.sms.standin import TwilioStandIn
from delivery.sandbox.pages import SmtpSink

pytestmark = [pytest.mark.usefixtures("worker")]
NEW_POSTAL = "杭州市西湖区文三路2号"
PHONE = "+8613800138000"
SIGNED = {"signer_name": "张三", "confirm": "yes"}


async def _sign(api: Api, path: str, form: dict[str, str]) -> None:
    verified = await api.client.post(f"{path}/verify", data={"last4": "123X"})
    assert verified.status == 200
    signed = await api.client.post(path, data={**form, **SIGNED}, allow_redirects=False)
    assert signed.status == 303, await signed.text()
    await settled(api.ctx)


def _attempt(dispatch: dict[str, Any], channel: str) -> dict[str, Any]:
    return next(a for a in dispatch["attempts"] if a["channel"] == channel)


async def test_a_corrected_postal_address_is_no_longer_deemed_served(
    post: Post, smtp_sink: SmtpSink
) -> None:
    api = post.api
    body = await api.new_dispatch_body(source="court_found", consent=False)
    body["recipient"]["postal_addresses"] = [
        {"lines": POSTAL_ADDRESS, "postcode": "310012", "source": "recipient_confirmed"}
    ]
    dispatch_id = str((await api.create(body))["id"])
    tracking = await post.posted(dispatch_id)
    path = await confirmation_link(api, smtp_sink, dispatch_id)
    await _sign(api, path, {"postal": NEW_POSTAL, "postcode": "310012", "consent": "no"})

    dispatch = await api.dispatch(dispatch_id)
    [old, new] = [c for c in dispatch["recipient"]["contacts"] if c["kind"] == "postal"]
    assert (old["source"], old["confirmation"]) == ("court_found", None)
    assert new["source"] == "recipient_confirmed" and new["confirmation"] is not None
    letter = _attempt(dispatch, "postal")
    assert (letter["state"], letter["source"]) == ("sent", "court_found")  # goes on, court-found
    [superseded] = [e for e in await api.events(dispatch_id) if e.type == "contact_superseded"]
    [confirmed] = [e for e in await api.events(dispatch_id) if e.type == "address_confirmed"]
    assert superseded.data == {
        "contact_id": old["id"],
        "kind": "postal",
        "source": "court_found",
        "confirmation_id": confirmed.data["confirmation_id"],
        "attempt_ids": [letter["id"]],
    }

    post.later(timedelta(days=1))
    assert await post.fake.report(tracking, "returned", reason="moved") == 200
    escalated = await api.until(dispatch_id, lambda d: d["step"] == 2)
    assert escalated["served_at"] is None and escalated["legal_basis"] is None


@pytest.fixture
async def carrier(
    api: Api, smtp_sink: SmtpSink, aiohttp_client: Callable[..., Any]
) -> AsyncIterator[TwilioStandIn]:
    async with live_twilio(api, aiohttp_client, "changes-token") as fake:
        yield fake


async def test_a_refusal_withdraws_consent_and_a_later_delivery_report_serves_nothing(
    api: Api, smtp_sink: SmtpSink, carrier: TwilioStandIn
) -> None:
    body = await api.new_dispatch_body(source="court_found")
    body["recipient"]["phones"] = [{"number": PHONE, "source": "recipient_confirmed"}]
    dispatch_id = str((await api.create(body))["id"])
    await api.until(dispatch_id, lambda d: _attempt(d, "sms")["state"] == "sent")
    await settled(api.ctx)
    sid = carrier.messages[-1]["sid"]
    path = await confirmation_link(api, smtp_sink, dispatch_id)
    verified = await api.client.post(f"{path}/verify", data={"last4": "123X"})
    assert verified.status == 200
    stray = await api.client.post(path, data={"postcode": "310012", "consent": "no", **SIGNED})
    assert stray.status == 422 and 'id="postcode-error"' in await stray.text()
    await _sign(api, path, {"consent": "no"})  # every field empty: keeps what the court has

    dispatch = await api.dispatch(dispatch_id)
    assert dispatch["recipient"]["e_service_consent"] == {"given": False, "basis": None}
    [*_, withdrawn] = [e for e in await api.events(dispatch_id) if e.type == "consent_recorded"]
    assert withdrawn.data["given"] is False and withdrawn.data["previous_basis"] == "express"
    assert _attempt(dispatch, "sms")["source"] == "court_found"
    phones = [c for c in dispatch["recipient"]["contacts"] if c["kind"] == "phone"]
    assert {c["source"] for c in phones} == {"recipient_confirmed"}  # kept, confirmed

    assert await carrier.report(sid, "delivered") == 200
    await settled(api.ctx)
    after = await api.dispatch(dispatch_id)
    assert _attempt(after, "sms")["state"] == "delivered"
    assert after["state"] == "in_progress" and after["served_at"] is None
