"""An e-mail reply counts as service on a court-found address (OLR-31, docs/decisions/0042); an
automatic one, or one from another address, is evidence only.

The court's mail processor posts each raw reply (RFC 5322) it received, with its scoped key.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from datetime import timedelta
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

import pytest
from aiohttp import ClientResponse
from api_client import RECIPIENT_EMAIL, Api
from conftest import settled
from helpers import reply_message

from delivery.clock import rfc3339
from integration.staff.support import clerk_session
from integration.tracking.support import issued, proof, text_of

pytestmark = [pytest.mark.usefixtures("worker")]
PATH = "/api/v1/replies"


async def _sent_to_court_found(api: Api) -> tuple[str, str]:
    """A dispatch whose e-mail went to a court-found address, and its Message-ID."""
    created = await api.new_dispatch(source="court_found")
    sent = await api.until(
        created["id"], lambda d: d["attempts"] and d["attempts"][0]["state"] == "sent"
    )
    await settled(api.ctx)
    return str(created["id"]), str(sent["attempts"][0]["provider_ref"])


async def _post(api: Api, headers: dict[str, str], raw: bytes) -> ClientResponse:
    response = await api.client.post(
        PATH, data=raw, headers={**headers, "Content-Type": "message/rfc822"}
    )
    await settled(api.ctx)
    return response


async def _replies(api: Api, dispatch_id: str) -> list[dict[str, object]]:
    return [e.data for e in await api.events(dispatch_id) if e.type == "reply_received"]


async def test_the_recipients_reply_serves_dated_on_arrival(
    api: Api, bounce_processor: dict[str, str]
) -> None:
    dispatch_id, message_id = await _sent_to_court_found(api)
    api.ctx.clock.advance(timedelta(hours=3))  # type: ignore[attr-defined]
    arrived = api.ctx.clock.now()
    response = await _post(api, bounce_processor, reply_message(message_id))
    assert response.status == 200, await response.text()
    assert (await response.json())["automatic"] is False
    served = await api.until_state(dispatch_id, "served")
    assert (served["legal_basis"], served["served_by_channel"]) == ("OLR-31", "email")
    assert served["served_at"] == rfc3339(arrived)
    [reply] = await _replies(api, dispatch_id)
    assert (reply["in_reply_to"], reply["from"]) == (message_id, "zh***@example.com")
    assert reply["from_recipient"] is True and RECIPIENT_EMAIL not in str(reply)


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto_Submitted": "auto-replied"},
        {"X_Autoreply": "yes"},
        {"Precedence": "auto_reply"},
    ],
)
async def test_an_automatic_reply_is_evidence_never_service(
    api: Api, bounce_processor: dict[str, str], headers: dict[str, str]
) -> None:
    dispatch_id, message_id = await _sent_to_court_found(api)
    response = await _post(api, bounce_processor, reply_message(message_id, **headers))
    assert response.status == 200
    assert (await response.json())["automatic"] is True
    assert (await api.dispatch(dispatch_id))["state"] == "in_progress"
    [reply] = await _replies(api, dispatch_id)
    assert reply["automatic"] is True and reply["automatic_because"]


async def test_a_delivery_report_is_never_service(
    api: Api, bounce_processor: dict[str, str]
) -> None:
    dispatch_id, message_id = await _sent_to_court_found(api)
    report = MIMEMultipart("report", report_type="delivery-status")
    report.attach(MIMEText("Your message was delivered."))
    report["From"] = f"postmaster <{RECIPIENT_EMAIL}>"
    report["In-Reply-To"] = message_id
    response = await _post(api, bounce_processor, report.as_bytes())
    assert response.status == 200
    assert (await api.dispatch(dispatch_id))["state"] == "in_progress"
    [reply] = await _replies(api, dispatch_id)
    assert reply["automatic_because"] == "multipart/report"


async def test_a_reply_from_another_address_is_evidence_only(
    api: Api, bounce_processor: dict[str, str]
) -> None:
    dispatch_id, message_id = await _sent_to_court_found(api)
    response = await _post(
        api, bounce_processor, reply_message(message_id, "colleague@example.com")
    )
    assert (await response.json())["from_recipient"] is False
    assert (await api.dispatch(dispatch_id))["state"] == "in_progress"


async def test_unknown_replies_are_404_and_other_keys_403(
    api: Api, bounce_processor: dict[str, str]
) -> None:
    dispatch_id, message_id = await _sent_to_court_found(api)
    unknown = await _post(api, bounce_processor, reply_message("<nope@court.example>"))
    assert unknown.status == 404
    refused = await _post(api, api.auth, reply_message(message_id))
    assert refused.status == 403
    assert await _replies(api, dispatch_id) == []


async def test_the_clerk_sees_replies_and_the_certificate_keeps_them(
    api: Api, bounce_processor: dict[str, str]
) -> None:
    """An out-of-office first, then the recipient's own answer: both are on the dispatch page
    and in the certificate's evidence; the answer is the service."""
    dispatch_id, message_id = await _sent_to_court_found(api)
    auto = reply_message(message_id, Auto_Submitted="auto-replied")
    assert (await _post(api, bounce_processor, auto)).status == 200
    api.ctx.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]
    assert (await _post(api, bounce_processor, reply_message(message_id))).status == 200
    await api.until_state(dispatch_id, "served")
    await issued(api, dispatch_id)

    await clerk_session(api)
    page = await (await api.client.get(f"/staff/dispatches/{dispatch_id}")).text()
    assert page.count('data-event="reply_received"') == 2
    assert "自动回复：仅作证据，不构成送达" in page and "来自受送达人" in page
    assert "<q>Re: 送达通知</q>" in page

    text = text_of(await (await proof(api, dispatch_id)).read())
    assert "受送达人已回复" in text and "自动回复（不构成送达）" in text


async def test_a_reply_sent_in_chunks_is_read_whole(
    api: Api, bounce_processor: dict[str, str]
) -> None:
    """A mail processor that streams the message (chunked, in small pieces): one read would
    take only what had arrived and cut the message; the whole is read and serves."""
    dispatch_id, message_id = await _sent_to_court_found(api)
    raw = reply_message(message_id).replace(b"\n\n", b"\n\n" + b"x" * 50_000 + b"\n", 1)

    async def pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(raw), 4096):
            yield raw[start : start + 4096]
            await asyncio.sleep(0)

    response = await api.client.post(
        PATH, data=pieces(), headers={**bounce_processor, "Content-Type": "message/rfc822"}
    )
    assert response.status == 200, await response.text()
    await settled(api.ctx)
    [reply] = await _replies(api, dispatch_id)
    assert reply["sha256"] == hashlib.sha256(raw).hexdigest()
