"""SMS receipts that arrive late, twice or contradicting each other (docs/decisions/0023).

Every callback goes the way Twilio's does: the real ``twilio`` client sends through the stand-in,
and the stand-in posts each status callback, signed, to a live Songda server.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest
from api_client import Api
from conftest import eventually, settled
from standins import live_twilio
from webhook_receiver import Receiver, receiving

from channels.sms.standin import TwilioStandIn
from delivery.clock import rfc3339
from delivery.services.dispatch_view import dispatch_view
from delivery.services.sweep import sweep

pytestmark = [pytest.mark.both_databases, pytest.mark.usefixtures("worker")]
TOKEN = "order-token"
PHONE = "+8613800138000"
ADDRESS = {"lines": "杭州市西湖区文三路1号", "postcode": "310012", "source": "recipient_confirmed"}


@dataclasses.dataclass
class Carrier:
    """The Twilio stand-in wired to a live Songda: ``report`` plays the carrier's callbacks."""

    api: Api
    fake: TwilioStandIn

    async def dispatch_with_sms(self, source: str, **recipient: Any) -> tuple[str, str]:
        """(dispatch id, message SID) of a dispatch whose SMS went out to a ``source`` number;
        its e-mail goes to a court-found address, so only the SMS or a reading can serve."""
        body = await self.api.new_dispatch_body(source="court_found")
        body["recipient"]["phones"] = [{"number": PHONE, "source": source}]
        body["recipient"].update(recipient)
        created = await self.api.create(body)
        await self.api.until(created["id"], lambda d: _sms(d)["state"] == "sent")
        await settled(self.api.ctx)
        return created["id"], self.fake.messages[-1]["sid"]

    async def report(
        self, sid: str, status: str, error_code: str | None = None, **raw: str
    ) -> None:
        """The carrier's callback; Songda must answer 200 whatever the order."""
        assert await self.fake.report(sid, status, error_code, **raw) == 200
        await settled(self.api.ctx)


def _sms(dispatch: dict[str, Any]) -> dict[str, Any]:
    return next(a for a in dispatch["attempts"] if a["channel"] == "sms")


@pytest.fixture
async def carrier(
    api: Api, smtp_sink: Any, aiohttp_client: Callable[..., Any]
) -> AsyncIterator[Carrier]:
    async with live_twilio(api, aiohttp_client, TOKEN) as fake:
        yield Carrier(api, fake)


async def _events_of(api: Api, dispatch_id: str, event_type: str) -> list[Any]:
    return [e for e in await api.events(dispatch_id) if e.type == event_type]


async def test_undelivered_after_delivered_is_evidence_and_the_service_stands(
    api: Api, carrier: Carrier
) -> None:
    """OLR-31: a recipient-confirmed SMS is served when the carrier reports it delivered; the
    same carrier's later "undelivered" is recorded and flagged, but only a recorded rebuttal
    un-serves (docs/decisions/0023)."""
    async with receiving(Receiver()) as receiver:
        await api.register_webhook(receiver.url, ["dispatch.served", "dispatch.unserved"])
        dispatch_id, sid = await carrier.dispatch_with_sms("recipient_confirmed")
        await carrier.report(sid, "delivered", dlr_done_date="2601051002")
        served = await api.until_state(dispatch_id, "served")
        assert (served["legal_basis"], served["served_by_channel"]) == ("OLR-31", "sms")
        await eventually(receiver.has("dispatch.served"))

        api.ctx.clock.advance(timedelta(minutes=5))  # type: ignore[attr-defined]
        await carrier.report(sid, "undelivered", "30003", dlr_done_date="2601051007")
        after = await api.dispatch(dispatch_id)
        assert (after["state"], after["served_at"], after["service_date"]) == (
            "served",
            served["served_at"],
            served["service_date"],
        )
        assert _sms(after)["state"] == "delivered"  # never moved back from delivered
        [contradiction] = await _events_of(api, dispatch_id, "sms_receipt_contradicted")
        assert contradiction.source == "twilio"
        assert contradiction.occurred_at == api.ctx.clock.now()
        assert contradiction.data["error_code"] == "30003"
        assert contradiction.data["attempt_state"] == "delivered"
        raw = contradiction.data["raw"]
        assert (raw["MessageStatus"], raw["RawDlrDoneDate"]) == ("undelivered", "2601051007")
        assert raw["To"] == "**********8000" and PHONE not in str(contradiction.data)
        view = await dispatch_view(api.ctx, dispatch_id, (served["court"],))
        assert view is not None and view.receipt_contradicted
        # The same contradiction again, and a stale "sent", add nothing.
        before = await api.event_types(dispatch_id)
        await carrier.report(sid, "failed", "30003")
        await carrier.report(sid, "sent")
        assert await api.event_types(dispatch_id) == before
        assert "dispatch.unserved" not in receiver.types()

        rebutted = await api.client.post(
            f"/api/v1/dispatches/{dispatch_id}/actions",
            json={"action": "record_rebuttal", "reason": "system_error", "note": "no SMS"},
            headers=api.auth,
        )
        assert rebutted.status == 200
        assert (await rebutted.json())["state"] == "in_progress"
        await eventually(receiver.has("dispatch.unserved"))
        # A repeated "delivered" does not bring the rebutted service back.
        await carrier.report(sid, "delivered")
        assert (await api.dispatch(dispatch_id))["state"] == "in_progress"


async def test_delivered_after_undelivered_serves_dated_by_the_delivery(
    api: Api, carrier: Carrier
) -> None:
    """OLR-31: the carrier's later "delivered" corrects its "undelivered"; the service is dated
    when the delivery was reported, not by the failure before it."""
    dispatch_id, sid = await carrier.dispatch_with_sms("recipient_confirmed")
    await carrier.report(sid, "undelivered", "30005")
    failed = await api.dispatch(dispatch_id)
    assert (failed["state"], _sms(failed)["state"]) == ("in_progress", "failed")

    api.ctx.clock.advance(timedelta(hours=2))  # type: ignore[attr-defined]
    delivered_at = api.ctx.clock.now()
    await carrier.report(sid, "delivered")
    served = await api.until_state(dispatch_id, "served")
    assert (served["legal_basis"], served["served_by_channel"]) == ("OLR-31", "sms")
    assert served["served_at"] == rfc3339(delivered_at)
    assert _sms(served)["state"] == "delivered"
    [delivery] = await _events_of(api, dispatch_id, "sms_delivered")
    assert delivery.data["raw"]["MessageStatus"] == "delivered"
    assert not await _events_of(api, dispatch_id, "sms_receipt_contradicted")

    before = await api.event_types(dispatch_id)
    for late in ("delivered", "sent", "queued"):  # duplicates and out-of-order progress
        await carrier.report(sid, late)
    assert await api.event_types(dispatch_id) == before
    assert (await api.dispatch(dispatch_id))["served_at"] == rfc3339(delivered_at)


@pytest.mark.parametrize("first", ["delivered", "undelivered"])
async def test_a_court_found_number_is_never_served_by_the_carrier(
    api: Api, carrier: Carrier, first: str
) -> None:
    """OLR-31: on a court-found number only reading serves; contradicting receipts in either
    order are recorded, and the attempt ends delivered (the carrier's positive word wins)."""
    dispatch_id, sid = await carrier.dispatch_with_sms("court_found")
    second = "failed" if first == "delivered" else "delivered"
    await carrier.report(sid, first, "30003" if first != "delivered" else None)
    await carrier.report(sid, second, "30003" if second != "delivered" else None)
    dispatch = await api.dispatch(dispatch_id)
    assert (dispatch["state"], _sms(dispatch)["state"]) == ("in_progress", "delivered")
    contradictions = await _events_of(api, dispatch_id, "sms_receipt_contradicted")
    assert len(contradictions) == (1 if first == "delivered" else 0)
    assert len(await _events_of(api, dispatch_id, "sms_delivered")) == 1


@pytest.mark.parametrize("first", [None, "undelivered"])
async def test_a_delivery_reported_after_the_ladder_escalated_serves_the_open_dispatch(
    api: Api, carrier: Carrier, first: str | None
) -> None:
    """OLR-31, the earliest effective service counts: the ladder went on to post (the SMS
    expired unreported, or failed), then the carrier reports it delivered — that is the
    service, dated by the report, and the postal attempt is cancelled."""
    dispatch_id, sid = await carrier.dispatch_with_sms(
        "recipient_confirmed", postal_addresses=[ADDRESS]
    )
    if first is not None:
        await carrier.report(sid, first, "30003")
    api.ctx.clock.advance(timedelta(days=3))  # type: ignore[attr-defined]
    await sweep(api.ctx)
    on_post = await api.until(dispatch_id, lambda d: d["attempts"][-1]["channel"] == "postal")
    assert _sms(on_post)["state"] == ("failed" if first else "expired")
    await settled(api.ctx)

    api.ctx.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]
    delivered_at = api.ctx.clock.now()
    await carrier.report(sid, "delivered")
    served = await api.until_state(dispatch_id, "served")
    assert (served["legal_basis"], served["served_by_channel"]) == ("OLR-31", "sms")
    assert served["served_at"] == rfc3339(delivered_at)
    assert served["attempts"][-1]["state"] == "cancelled"  # the post is no longer needed
    # The attempt Songda expired keeps its end; one the carrier had failed is corrected.
    assert _sms(served)["state"] == ("delivered" if first else "expired")


async def test_a_delivery_reported_after_service_by_reading_changes_nothing(
    api: Api, carrier: Carrier, smtp_sink: Any
) -> None:
    """Already served by reading the e-mail's link (OLR-31), a later SMS delivery is kept as
    evidence on the attempt that service cancelled and does not re-date the service: that one
    was earlier."""
    dispatch_id, sid = await carrier.dispatch_with_sms("recipient_confirmed")
    email = next(m for m in smtp_sink.messages if "/r/" in m.text)
    link = re.search(r"(/r/[A-Za-z0-9_\-.]+)", email.text)
    assert link is not None
    # The e-mail's link asks for the identity number's last four characters.
    verified = await api.client.post(
        f"{link.group(1)}/verify", data={"last4": "123X"}, allow_redirects=False
    )
    assert verified.status == 303
    served = await api.until_state(dispatch_id, "served")
    await settled(api.ctx)
    assert (served["served_by_channel"], _sms(served)["state"]) == ("email", "cancelled")

    api.ctx.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
    await carrier.report(sid, "delivered")
    after = await api.dispatch(dispatch_id)
    assert (after["served_at"], after["served_by_channel"]) == (served["served_at"], "email")
    assert _sms(after)["state"] == "cancelled"
    [late] = await _events_of(api, dispatch_id, "sms_delivered")
    assert late.data["attempt_state"] == "cancelled"
