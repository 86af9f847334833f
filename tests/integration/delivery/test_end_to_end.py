"""End to end: API → worker → SMTP sink → recipient link → served → signed webhook.

Runs on PostgreSQL and on SQLite with the real worker, Redis and SMTP; only the clock is manual.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from api_client import Api
from conftest import MINIMAL_PDF, eventually, settled
from helpers import link_path
from standardwebhooks import Webhook
from webhook_receiver import Receiver, receiving

from delivery.sandbox.pages import SmtpSink
from delivery.services.sweep import sweep
from tracking.chain import verify_chain

pytestmark = [pytest.mark.both_databases, pytest.mark.usefixtures("worker")]


async def follow_link(client: TestClient[Any, Any], path: str, last4: str) -> str:
    """Open the link, pass the identity check, and return the documents page."""
    page = await client.get(path)
    assert page.status == 200
    assert "后四位" in await page.text()
    verify = await client.post(f"{path}/verify", data={"last4": last4}, allow_redirects=False)
    assert verify.status == 303, await verify.text()
    documents_page = await client.get(path)
    assert documents_page.status == 200
    return await documents_page.text()


async def test_recipient_confirmed_email_is_served_on_smtp_acceptance(
    api: Api, smtp_sink: SmtpSink
) -> None:
    """OLR-31 / CPL-INT-135: served when the court's SMTP server accepts the message."""
    async with receiving(Receiver()) as receiver, receiving(Receiver(fail_first=1)) as flaky:
        secret = (await api.register_webhook(receiver.url))["secret"]
        flaky_secret = (await api.register_webhook(flaky.url))["secret"]
        created = await api.new_dispatch()
        dispatch = await api.until_state(created["id"], "served")

        assert dispatch["legal_basis"] == "OLR-31"
        assert dispatch["served_by_channel"] == "email"
        assert dispatch["served_at"] == "2026-11-23T02:00:00.000000Z"
        assert dispatch["service_date"] == "2026-11-23"
        [attempt] = dispatch["attempts"]
        assert attempt["state"] == "sent"
        [message] = smtp_sink.messages
        assert message.to == ["zhang.san@example.com"]
        assert attempt["provider_ref"] == message.message_id
        assert "(2026)浙0106民初1234号" in message.subject

        path = link_path(message.text)
        assert "民事起诉状" in await follow_link(api.client, path, "123x")
        document_id = dispatch["documents"][0]["id"]
        download = await api.client.get(f"{path}/documents/{document_id}")
        assert download.status == 200
        assert await download.read() == MINIMAL_PDF

        events = await api.events(created["id"])
        verdict = verify_chain(events)
        assert verdict.valid and verdict.count == len(events)
        types = [e.type for e in events]
        for expected in (
            "dispatch_created",
            "attempt_sent",
            "dispatch_served",
            "link_opened",
            "identity_verified",
            "document_downloaded",
        ):
            assert expected in types
        assert types.index("attempt_sent") < types.index("dispatch_served")

        await eventually(receiver.has("dispatch.served"))
        headers, body = next(
            c for c in receiver.calls if json.loads(c[1])["type"] == "dispatch.served"
        )
        payload = Webhook(secret).verify(body, headers)
        assert payload["data"]["dispatch_id"] == created["id"]
        assert payload["data"]["legal_basis"] == "OLR-31"
        assert payload["data"]["service_date"] == "2026-11-23"
        # CPL-128 / CPL-85: a complaint served on 23 November leaves 15 days to answer.
        [answer] = payload["data"]["periods"]
        assert answer == dispatch["periods"][0]
        assert (answer["name"], answer["basis"], answer["days"]) == ("answer", "CPL-128", 15)
        assert (answer["ends_on"], answer["provisional"]) == ("2026-12-08", False)

        # The flaky receiver refused its first delivery; the sweep retries it once it is due.
        await eventually(flaky.called(1))
        await settled(api.ctx)
        api.ctx.clock.advance(timedelta(seconds=10))  # type: ignore[attr-defined]
        await sweep(api.ctx)
        refused_id = flaky.calls[0][0]["webhook-id"]

        async def redelivered() -> list[tuple[dict[str, str], bytes]]:
            calls = [c for c in flaky.calls if c[0]["webhook-id"] == refused_id]
            return calls if len(calls) == 2 else []

        first, second = await eventually(redelivered)
        assert first[1] == second[1]
        Webhook(flaky_secret).verify(second[1], second[0])


async def test_court_found_email_is_served_only_when_read(api: Api, smtp_sink: SmtpSink) -> None:
    """OLR-31: a court-found address is served when the recipient reads, dated then."""
    created = await api.new_dispatch(source="court_found")
    await api.until_attempt(created["id"], "sent")
    await settled(api.ctx)
    assert (await api.dispatch(created["id"]))["state"] == "in_progress"

    api.ctx.clock.advance(timedelta(days=1, hours=3))  # type: ignore[attr-defined]
    [message] = smtp_sink.messages
    await follow_link(api.client, link_path(message.text), "123X")
    dispatch = await api.until_state(created["id"], "served")
    assert dispatch["legal_basis"] == "OLR-31"
    assert dispatch["served_at"] == "2026-11-24T05:00:00.000000Z"
    assert dispatch["service_date"] == "2026-11-24"  # 13:00 in Asia/Shanghai
    assert dispatch["attempts"][0]["state"] == "read"
    assert verify_chain(await api.events(created["id"])).valid


async def test_window_expiry_moves_the_ladder_on_without_sleeping(
    api: Api, smtp_sink: SmtpSink
) -> None:
    """An unread court-found e-mail: after the 3-day window the ladder moves on; with no postal
    address the next thing to try is public notice, which waits for approval (CPL-95)."""
    created = await api.new_dispatch(source="court_found")
    await api.until_attempt(created["id"], "sent")
    await settled(api.ctx)
    api.ctx.clock.advance(timedelta(days=2, hours=23))  # type: ignore[attr-defined]
    await sweep(api.ctx)
    await settled(api.ctx)
    assert (await api.dispatch(created["id"]))["state"] == "in_progress"

    api.ctx.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]
    await sweep(api.ctx)
    dispatch = await api.until_state(created["id"], "notice_pending")
    assert [(a["channel"], a["state"]) for a in dispatch["attempts"]] == [
        ("email", "expired"),
        ("public_notice", "pending"),
    ]
