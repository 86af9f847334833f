"""The postal channel end to end: the API, the worker, the real reference carrier adapter and the
carrier stand-in on loopback, its signed tracking webhooks and the polling fallback.

Each row of domain.md's "Postal outcomes" table is played by the stand-in (the postman) and the
dispatch's state, legal basis and date of service are checked as the case system sees them.
"""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import FormData
from conftest import COURT, MINIMAL_PDF, OTHER_COURT, eventually, settled
from helpers import Api, service_message
from pypdf import PdfReader
from standins import CARRIER, Post
from standins import CARRIER_SECRET as SECRET
from standins import POSTAL_ADDRESS as ADDRESS

from channels.postal.adapter import (
    PostalChannel,
    ReferenceCarrier,
    signed_headers,
)
from delivery.api.app import create_app
from delivery.channel_api import CodeMessage, SendOutcome
from delivery.clock import rfc3339
from delivery.sandbox.pages import add_routes
from delivery.services.api_keys import create_api_key
from delivery.services.sweep import sweep

SIGNER_ID = "33010619900101123X"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _postal_attempt(dispatch: dict[str, Any]) -> dict[str, Any]:
    [attempt] = [a for a in dispatch["attempts"] if a["channel"] == "postal"]
    return attempt


SERVED = [
    # (source, status, details, legal basis, attempt state)
    (
        "recipient_confirmed",
        "delivered",
        {"signed_by": "张三", "signer_id": SIGNER_ID, "relation": "self"},
        "CPL-91",
        "delivered",
    ),
    (
        "court_found",
        "delivered",
        {"signed_by": "李四", "signer_id": "330106199001011234", "relation": "family"},
        "CPL-91",
        "delivered",
    ),
    (
        "court_found",
        "delivered",
        {"signed_by": "收发室", "signer_id": "330106198001015678", "relation": "entity_mailroom"},
        "CPL-91",
        "delivered",
    ),
    ("court_found", "refused", {"relation": "self"}, "PM-11", "refused"),
    ("court_found", "refused", {"relation": "designated_receiver"}, "PM-11", "refused"),
    ("recipient_confirmed", "returned", {"reason": "address_wrong"}, "PM-11", "returned"),
    ("recipient_confirmed", "returned", {"reason": "moved"}, "PM-11", "returned"),
    ("recipient_confirmed", "returned", {"reason": "unknown_recipient"}, "PM-11", "returned"),
]


@pytest.mark.usefixtures("worker")
@pytest.mark.parametrize(("source", "status", "details", "basis", "attempt_state"), SERVED)
async def test_postal_outcomes_that_serve(
    post: Post,
    source: str,
    status: str,
    details: dict[str, str],
    basis: str,
    attempt_state: str,
) -> None:
    """CPL-91: signed by an eligible person with their ID recorded — served on the receipt date;
    PM-11: refused by the recipient or designated receiver, or returned from a wrong
    recipient-confirmed address — deemed served on the return date."""
    dispatch_id = await post.dispatch(source)
    tracking = await post.posted(dispatch_id)
    [shipment] = post.fake.shipments
    assert (shipment["address"], shipment["postcode"]) == (ADDRESS, "310012")
    post.later(timedelta(days=2, hours=5))  # the event happens 2026-11-25 07:00 UTC (15:00 CST)
    assert await post.fake.report(tracking, status, **details) == 200
    served = await post.api.until_state(dispatch_id, "served")
    assert served["legal_basis"] == basis
    assert served["served_by_channel"] == "postal"
    assert served["served_at"] == "2026-11-25T07:00:00.000000Z"
    assert served["service_date"] == "2026-11-25"
    assert _postal_attempt(served)["state"] == attempt_state
    receipt = next(e for e in served["events"] if e["type"] == f"postal_{status}")
    assert receipt["occurred_at"] == "2026-11-25T07:00:00.000000Z"
    assert receipt["data"]["tracking_number"] == tracking
    assert SIGNER_ID not in json.dumps(served["events"], ensure_ascii=False)
    if status == "delivered":
        assert receipt["data"]["signer_id_recorded"] is True
        assert receipt["data"]["signer_id_last4"] == details["signer_id"][-4:]
        assert len(receipt["data"]["signer_id_hmac"]) == 64


ESCALATED = [
    # (source, status, details, attempt state, reason contains)
    (
        "recipient_confirmed",
        "delivered",
        {
            "signed_by": "张五",
            "signer_id": "330106199201011111",
            "relation": "family_opposing_party",
        },
        "failed",
        "PM-9",
    ),
    (
        "recipient_confirmed",
        "delivered",
        {"signed_by": "张小三", "signer_id": "330106201501012222", "relation": "minor"},
        "failed",
        "PM-7",
    ),
    ("recipient_confirmed", "delivered", {"signed_by": "张三", "relation": "self"}, "failed", "ID"),
    ("recipient_confirmed", "refused", {"relation": "family"}, "refused", "family"),
    ("court_found", "returned", {"reason": "address_wrong"}, "returned", "address_wrong"),
    ("court_found", "returned", {"reason": "moved"}, "returned", "moved"),
    ("recipient_confirmed", "returned", {"reason": "nobody_home"}, "returned", "nobody_home"),
    ("recipient_confirmed", "lost", {}, "failed", "lost"),
]


@pytest.mark.usefixtures("worker")
@pytest.mark.parametrize(("source", "status", "details", "attempt_state", "reason"), ESCALATED)
async def test_postal_outcomes_that_escalate(
    post: Post,
    source: str,
    status: str,
    details: dict[str, str],
    attempt_state: str,
    reason: str,
) -> None:
    """PM-7/PM-9 (a signer who may not sign, or no ID), a refusal by anyone else, a return from a
    court-found address or with nobody home (PM-6), a lost piece: not served — the ladder goes on
    to in-person service."""
    dispatch_id = await post.dispatch(source)
    tracking = await post.posted(dispatch_id)
    post.later(timedelta(days=1))
    assert await post.fake.report(tracking, status, **details) == 200
    escalated = await post.api.until(dispatch_id, lambda d: d["step"] == 2)
    assert escalated["state"] == "in_progress"
    assert escalated["served_at"] is None and escalated["legal_basis"] is None
    attempt = _postal_attempt(escalated)
    assert attempt["state"] == attempt_state
    assert reason in attempt["reason"]
    started = [e for e in escalated["events"] if e["type"] == "step_started"]
    assert [e["data"]["name"] for e in started] == ["postal", "in_person"]
    assert any(a["channel"] == "in_person" for a in escalated["attempts"])


@pytest.mark.usefixtures("worker")
async def test_polling_feeds_the_same_path_when_no_webhook_comes(post: Post) -> None:
    dispatch_id = await post.dispatch()
    tracking = await post.posted(dispatch_id)
    post.later(timedelta(hours=1))
    post.fake.add_event(tracking, "in_transit")
    post.fake.add_event(
        tracking, "delivered", signed_by="张三", signer_id=SIGNER_ID, relation="self"
    )
    report = await sweep(post.api.ctx)
    assert report.polled == 0  # not due yet: every 6 hours
    post.later(timedelta(hours=5))
    report = await sweep(post.api.ctx)
    assert report.polled == 1
    served = await post.api.until_state(dispatch_id, "served")
    assert (served["legal_basis"], served["served_at"]) == ("CPL-91", "2026-11-23T03:00:00.000000Z")
    types = await post.api.event_types(dispatch_id)
    assert types.count("postal_tracking") == 1 and types.count("postal_delivered") == 1

    # The webhook for the same events arriving late changes nothing.
    before = await post.api.table_counts()
    events = await post.api.event_types(dispatch_id)
    for event in post.fake.shipment(tracking)["events"]:  # type: ignore[index]
        assert await post.fake.send_webhook(tracking, event) == 200
    post.later(timedelta(hours=6))
    assert (await sweep(post.api.ctx)).polled == 0  # a final outcome stops the polling
    assert await post.api.table_counts() == before
    assert await post.api.event_types(dispatch_id) == events


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


@pytest.mark.usefixtures("worker")
async def test_mail_piece_pdfs(post: Post, aiohttp_client: Callable[..., Any]) -> None:
    api = post.api
    first = await post.dispatch(reference="piece-1")
    second = await post.dispatch(reference="piece-2")
    tracking = [await post.posted(first), await post.posted(second)]
    attempt = _postal_attempt(await api.dispatch(first))
    url = f"/api/v1/dispatches/{first}/attempts/{attempt['id']}/mail-piece.pdf"

    response = await api.client.get(url, headers=api.auth)
    assert response.status == 200
    assert response.content_type == "application/pdf"
    reader = PdfReader(io.BytesIO(await response.read()))
    assert len(reader.pages) == 3  # cover letter, address label, return-receipt card
    text = "".join(page.extract_text() for page in reader.pages)
    assert COURT in text
    assert tracking[0] in text and "送达回执" in text and "民事起诉状" in text
    assert "/verify/" + first in text

    day = await api.client.get("/api/v1/mail-pieces.pdf?date=2026-11-23", headers=api.auth)
    assert day.status == 200
    reader = PdfReader(io.BytesIO(await day.read()))
    assert len(reader.pages) == 6
    text = "".join(page.extract_text() for page in reader.pages)
    assert all(t in text for t in tracking)

    cancelled = await api.client.post(f"/api/v1/dispatches/{second}/cancel", headers=api.auth)
    assert cancelled.status == 200
    day = await api.client.get("/api/v1/mail-pieces.pdf?date=2026-11-23", headers=api.auth)
    reader = PdfReader(io.BytesIO(await day.read()))
    assert len(reader.pages) == 3  # the cancelled dispatch's letter is not printed
    assert tracking[1] not in "".join(page.extract_text() for page in reader.pages)
    assert await post.fake.report(tracking[0], "accepted") == 200
    gone = await api.client.get("/api/v1/mail-pieces.pdf?date=2026-11-23", headers=api.auth)
    assert gone.status == 404  # the carrier took the last one: nothing is printed twice

    none = await api.client.get("/api/v1/mail-pieces.pdf?date=2026-11-24", headers=api.auth)
    assert none.status == 404 and none.content_type == "application/problem+json"
    bad = await api.client.get("/api/v1/mail-pieces.pdf?date=yesterday", headers=api.auth)
    assert bad.status == 422

    _key, other = await create_api_key(api.ctx.engine, api.ctx.clock, "other", [OTHER_COURT])
    foreign = {"Authorization": f"Bearer {other}"}
    assert (await api.client.get(url, headers=foreign)).status == 404
    day = await api.client.get("/api/v1/mail-pieces.pdf?date=2026-11-23", headers=foreign)
    assert day.status == 404


async def _upload(api: Api, path: str, content: bytes, name: str = "card.png") -> Any:
    form = FormData()
    form.add_field("file", content, filename=name, content_type="application/octet-stream")
    return await api.client.post(path, data=form, headers=api.auth)


@pytest.mark.usefixtures("worker")
async def test_a_scanned_return_card_is_stored_hashed(post: Post) -> None:
    api = post.api
    dispatch_id = await post.dispatch()
    await post.posted(dispatch_id)
    attempt = _postal_attempt(await api.dispatch(dispatch_id))
    path = f"/api/v1/dispatches/{dispatch_id}/attempts/{attempt['id']}/return-card"

    before = await api.table_counts()
    events = await api.event_types(dispatch_id)
    assert (await _upload(api, path, b"GIF89a" + b"\x00" * 20)).status == 415
    assert (await _upload(api, path, b"")).status == 422
    too_big = PNG + b"\x00" * api.ctx.settings.max_upload_bytes
    assert (await _upload(api, path, too_big)).status == 413
    form = FormData({"note": "x"}, default_to_multipart=True)
    assert (await api.client.post(path, data=form, headers=api.auth)).status == 422
    plain = await api.client.post(path, data=FormData({"file": "x"}), headers=api.auth)
    assert plain.status == 415  # not multipart
    elsewhere = path.replace(attempt["id"], "01ARZ3NDEKTSV4RRFFQ69G5FAV")
    assert (await _upload(api, elsewhere, PNG)).status == 404
    assert await api.table_counts() == before
    assert await api.event_types(dispatch_id) == events

    stored = await _upload(api, path, PNG)
    assert stored.status == 201, await stored.text()
    media = await stored.json()
    assert media["media_type"] == "image/png" and media["size"] == len(PNG)
    scan = await _upload(api, path, MINIMAL_PDF, "card.pdf")
    assert (await scan.json())["media_type"] == "application/pdf"
    after = await api.table_counts()
    assert after["media_files"] == before["media_files"] + 2
    recorded = next(e for e in (await api.events(dispatch_id)) if e.type == "return_card_uploaded")
    assert recorded.data == {
        "media_id": media["id"],
        "sha256": media["sha256"],
        "media_type": "image/png",
        "size": len(PNG),
    }
    assert api.ctx.documents.path_for(media["sha256"]).read_bytes() == PNG


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
    app = create_app(api.ctx)
    add_routes(app, smtp_sink, None, post.fake)
    api.client = await aiohttp_client(app)
    post.fake.webhook_url = str(api.client.make_url(f"/hooks/carrier/{CARRIER}"))
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


@pytest.mark.usefixtures("worker")
async def test_post_abroad_without_receipt_is_deemed_served_three_months_after_posting(
    post: Post,
) -> None:
    """CPL-283: a party without domicile in China, court express mail, no receipt: deemed
    served when three months from posting end — from the carrier taking the piece, not from the
    shipment's registration."""
    body = await post.api.new_dispatch_body(consent=False, policy="cn-foreign")
    body["recipient"]["emails"] = []
    body["recipient"]["domicile_in_china"] = False
    body["recipient"]["postal_addresses"] = [
        {"lines": ADDRESS, "postcode": "310012", "source": "recipient_confirmed"}
    ]
    dispatch_id = str((await post.api.create(body))["id"])
    tracking = await post.posted(dispatch_id)
    post.later(timedelta(days=2))  # printed, then handed to the carrier two days later
    assert await post.fake.report(tracking, "accepted") == 200
    handed_over = post.api.ctx.clock.now()
    await settled(post.api.ctx)
    waiting = await post.api.dispatch(dispatch_id)
    assert waiting["state"] == "in_progress"
    deemed = handed_over.replace(month=handed_over.month + 3 - 12, year=handed_over.year + 1)
    assert waiting["next_action_at"] == rfc3339(deemed)

    post.later(deemed - handed_over)
    await sweep(post.api.ctx)
    served = await post.api.until_state(dispatch_id, "served")
    assert (served["legal_basis"], served["served_at"]) == ("CPL-283", rfc3339(deemed))
