"""The carrier seen from Songda: its tracking webhooks verified before anything is stored, its
errors classified, postal attempts that wait while none is configured, and the sandbox's
stand-in playing the postman."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pytest
from api_client import Api
from conftest import COURT, eventually, settled
from helpers import service_message
from standins import CARRIER, Post
from standins import CARRIER_SECRET as SECRET
from standins import POSTAL_ADDRESS as ADDRESS

from channels.postal.adapter import PostalChannel, ReferenceCarrier, signed_headers
from delivery.channel_api import CodeMessage, SendOutcome
from integration.channels.postal.support import SIGNER_ID


@pytest.mark.usefixtures("worker")
async def test_bad_carrier_webhooks_store_nothing(post: Post) -> None:
    dispatch_id = await post.dispatch()
    tracking = await post.posted(dispatch_id)
    clock = post.api.ctx.clock
    event = post.fake.add_event(tracking, "refused", relation="self")
    body = post.fake.webhook_body(tracking, event)
    now = int(clock.now().timestamp())
    before = await post.api.table_counts()
    events = await post.api.event_types(dispatch_id)

    assert await post.webhook(body, {"Content-Type": "application/json"}) == 403  # unsigned
    assert await post.webhook(body, signed_headers("wrong-secret", now, body)) == 403
    tampered = body.replace(b"refused", b"returned")
    assert await post.webhook(tampered, signed_headers(SECRET, now, body)) == 403
    assert await post.webhook(body, signed_headers(SECRET, now - 301, body)) == 403  # stale
    assert await post.webhook(body, signed_headers(SECRET, now, body), carrier="other") == 404
    unknown = post.fake.webhook_body("1999999999999", {**event, "id": "x-1"})
    assert await post.webhook(unknown, signed_headers(SECRET, now, unknown)) == 404
    junk = b'{"tracking_number": "' + tracking.encode() + b'", "status": "teleported"}'
    assert await post.webhook(junk, signed_headers(SECRET, now, junk)) == 400
    assert await post.api.table_counts() == before
    assert await post.api.event_types(dispatch_id) == events

    assert await post.webhook(body, signed_headers(SECRET, now, body)) == 200
    served = await post.api.until_state(dispatch_id, "served")
    assert served["legal_basis"] == "PM-11"
    await settled(post.api.ctx)
    after = await post.api.table_counts()
    events = await post.api.event_types(dispatch_id)
    replay = await post.api.client.post(
        f"/hooks/carrier/{CARRIER}", data=body, headers=signed_headers(SECRET, now + 5, body)
    )
    assert replay.status == 200
    assert await replay.json() == {"recorded": False, "outcome": "duplicate"}
    assert await post.api.table_counts() == after
    assert await post.api.event_types(dispatch_id) == events

    # A later, different event for a piece that already has its outcome changes no state.
    assert (
        await post.fake.report(tracking, "delivered", signer_id=SIGNER_ID, relation="self") == 200
    )
    assert await post.api.event_types(dispatch_id) == events
    assert (await post.api.dispatch(dispatch_id))["legal_basis"] == "PM-11"


async def test_carrier_errors_are_classified(post: Post) -> None:
    message = dataclasses.replace(service_message(ADDRESS), postcode="310012")
    for status, outcome in ((500, SendOutcome.TRANSIENT), (400, SendOutcome.PERMANENT)):
        post.fake.fail_with = status
        assert (await post.channel.send(message)).outcome == outcome
    post.fake.fail_with = None
    wrong_key = PostalChannel(
        ReferenceCarrier(post.channel.carrier.base_url, "wrong", CARRIER),  # type: ignore[attr-defined]
        SECRET,
    )
    assert (await wrong_key.send(message)).outcome == SendOutcome.UNAVAILABLE
    await wrong_key.close()
    nowhere = PostalChannel(ReferenceCarrier("http://127.0.0.1:9", "k", CARRIER), SECRET)
    assert (await nowhere.send(message)).outcome == SendOutcome.TRANSIENT
    await nowhere.close()
    first = await post.channel.send(message)
    again = await post.channel.send(message)  # a retried send: the same shipment
    assert first.outcome == SendOutcome.ACCEPTED
    assert first.provider_ref == again.provider_ref and len(post.fake.shipments) == 1
    code = await post.channel.send_code(CodeMessage(ADDRESS, "zh-CN", COURT, "123456", 10))
    assert code.outcome == SendOutcome.PERMANENT


@pytest.mark.usefixtures("worker")
async def test_without_a_carrier_postal_attempts_wait(api: Api) -> None:
    body = await api.new_dispatch_body(consent=False)
    body["recipient"]["emails"] = []
    body["recipient"]["postal_addresses"] = [{"lines": ADDRESS, "source": "court_found"}]
    created = await api.create(body)
    waiting = await api.until(
        created["id"], lambda d: d["attempts"][0]["reason"] == "channel_unavailable"
    )
    assert waiting["attempts"][0]["state"] == "pending"
    unknown = await api.client.post(f"/hooks/carrier/{CARRIER}", data=b"{}")
    assert unknown.status == 404


@pytest.mark.usefixtures("worker")
async def test_the_sandbox_plays_the_postman(
    post: Post, smtp_sink: Any, aiohttp_client: Callable[..., Any]
) -> None:
    api = post.api
    await post.in_sandbox(smtp_sink, aiohttp_client)
    dispatch_id = await post.dispatch()
    tracking = await post.posted(dispatch_id)

    page = await api.client.get("/sandbox/mailbox")
    assert tracking in await page.text() and ADDRESS in await page.text()
    listed = await (await api.client.get("/sandbox/api/messages")).json()
    assert [m["tracking_number"] for m in listed["mail"]] == [tracking]

    events = f"/sandbox/api/carrier/{tracking}/events"
    for bad in (
        {"status": "teleported"},
        {"status": "delivered"},  # who signed?
        {"status": "returned"},  # why?
        {"status": "refused", "relation": "neighbour"},
        {"status": "lost", "extra": 1},
    ):
        assert (await api.client.post(events, json=bad)).status == 400
    unknown = await api.client.post(
        "/sandbox/api/carrier/1000000000000/events", json={"status": "lost"}
    )
    assert unknown.status == 404
    played = await api.client.post(
        events,
        json={
            "status": "delivered",
            "signed_by": "张三",
            "signer_id": SIGNER_ID,
            "relation": "self",
        },
    )
    assert await played.json() == {"webhook_status": 200}
    served = await api.until_state(dispatch_id, "served")
    assert served["legal_basis"] == "CPL-91"
    listed = await (await api.client.get("/sandbox/api/messages")).json()
    assert listed["mail"][0]["status"] == "delivered"
    assert SIGNER_ID not in json.dumps(listed, ensure_ascii=False)

    async def shown() -> bool:
        return "delivered" in await (await api.client.get("/sandbox/mailbox")).text()

    await eventually(shown)
