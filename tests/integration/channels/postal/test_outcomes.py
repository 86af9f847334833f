"""The postal channel end to end: the API, the worker, the real reference carrier adapter and the
carrier stand-in on loopback, its signed tracking webhooks and the polling fallback.

Each row of domain.md's "Postal outcomes" table is played by the stand-in (the postman) and the
dispatch's state, legal basis and date of service are checked as the case system sees them.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from conftest import settled
from standins import POSTAL_ADDRESS as ADDRESS
from standins import Post

from delivery.clock import rfc3339
from delivery.services.sweep import sweep
from integration.channels.postal.support import SIGNER_ID, postal_attempt

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
    assert postal_attempt(served)["state"] == attempt_state
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
    attempt = postal_attempt(escalated)
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
