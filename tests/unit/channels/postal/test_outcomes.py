"""Carrier events → receipts (domain.md, "Postal outcomes"), checked against the completion
rules that read them (CPL-91, PM-11), and the carrier webhook's signature and parsing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from channels.postal.adapter import parse_webhook, signed_headers, verify_webhook
from channels.postal.outcomes import interpret
from delivery.channel_api import TrackingEvent, WebhookRejected
from delivery.config import ConfigError, load_settings
from delivery.domain import Attempt, AttemptState, ContactSource, Event
from delivery.infra.secret_box import new_key
from escalation.rules import cpl91_return_receipt, pm11_returned_deemed
from templates.barcode import code128_values

SECRET = "s" * 40
WHEN = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
ID_NUMBER = "33010619900101123X"


def _event(status: str, **details: str) -> TrackingEvent:
    raw = {"id": "e1", "status": status, **details}
    return TrackingEvent(
        "e1",
        "1000000000001",
        status,
        WHEN,
        raw=raw,
        **details,  # type: ignore[arg-type]
    )


def _attempt(source: ContactSource) -> Attempt:
    return Attempt(
        id="a1",
        dispatch_id="d1",
        step_index=1,
        channel="postal",
        contact_id="c1",
        address="地址",
        source=source,
        state=AttemptState.SENT,
        created_at=WHEN - timedelta(days=2),
    )


def _served_by(status: str, source: ContactSource, **details: str) -> tuple[str | None, str]:
    """(rule id that completes service or None, attempt state) for one carrier event."""
    receipt = interpret("court-express", _event(status, **details), SECRET)
    event = Event(
        "ev1",
        "d1",
        5,
        receipt.event_type,
        WHEN,
        WHEN,
        "court-express",
        None,
        "a1",
        receipt.data,
        "0" * 64,
        "1" * 64,
    )
    attempt = _attempt(source)
    done = cpl91_return_receipt(attempt, event) or pm11_returned_deemed(attempt, event)
    assert receipt.state is not None
    if done is not None:
        assert done.served_at == WHEN  # dated by the carrier's event, not by when we learnt it
    return (done.rule_id if done else None), receipt.state.value


CONFIRMED, FOUND = ContactSource.RECIPIENT_CONFIRMED, ContactSource.COURT_FOUND


@pytest.mark.parametrize(
    ("status", "source", "details", "expected"),
    [
        ("delivered", FOUND, {"relation": "self", "signer_id": ID_NUMBER}, ("CPL-91", "delivered")),
        (
            "delivered",
            FOUND,
            {"relation": "guardian", "signer_id": ID_NUMBER},
            ("CPL-91", "delivered"),
        ),
        (
            "delivered",
            FOUND,
            {"relation": "agent", "signer_id": ID_NUMBER},
            ("CPL-91", "delivered"),
        ),
        (
            "delivered",
            FOUND,
            {"relation": "family_opposing_party", "signer_id": ID_NUMBER},
            (None, "failed"),
        ),
        ("delivered", FOUND, {"relation": "minor", "signer_id": ID_NUMBER}, (None, "failed")),
        ("delivered", FOUND, {"relation": "self"}, (None, "failed")),
        ("delivered", FOUND, {"signer_id": ID_NUMBER}, (None, "failed")),
        ("refused", FOUND, {"relation": "self"}, ("PM-11", "refused")),
        ("refused", FOUND, {"relation": "designated_receiver"}, ("PM-11", "refused")),
        ("refused", CONFIRMED, {"relation": "family"}, (None, "refused")),
        ("returned", CONFIRMED, {"reason": "address_wrong"}, ("PM-11", "returned")),
        ("returned", CONFIRMED, {"reason": "moved"}, ("PM-11", "returned")),
        ("returned", CONFIRMED, {"reason": "unknown_recipient"}, ("PM-11", "returned")),
        ("returned", FOUND, {"reason": "address_wrong"}, (None, "returned")),
        ("returned", CONFIRMED, {"reason": "nobody_home"}, (None, "returned")),
        ("lost", CONFIRMED, {}, (None, "failed")),
    ],
)
def test_the_postal_outcomes_table(
    status: str, source: ContactSource, details: dict[str, str], expected: tuple[str | None, str]
) -> None:
    assert _served_by(status, source, **details) == expected


def test_the_signer_id_is_kept_only_as_a_keyed_digest_and_last_4() -> None:
    receipt = interpret(
        "court-express", _event("delivered", relation="self", signer_id=ID_NUMBER), SECRET
    )
    text = json.dumps(receipt.data, ensure_ascii=False)
    assert ID_NUMBER not in text
    assert receipt.data["signer_id_last4"] == "123X"
    assert receipt.data["signer_id_recorded"] is True
    assert receipt.reason is None
    failed = interpret("court-express", _event("delivered", relation="minor"), SECRET)
    assert failed.reason is not None and failed.reason.startswith("PM-7")


def test_tracking_on_the_way_changes_no_state() -> None:
    receipt = interpret("court-express", _event("in_transit"), SECRET)
    assert (receipt.event_type, receipt.state) == ("postal_tracking", None)


def test_the_carrier_taking_the_piece_is_its_posting() -> None:
    """CPL-283 counts three months from posting: the carrier's ``accepted``, not the shipment's
    registration."""
    receipt = interpret("court-express", _event("accepted"), SECRET)
    assert (receipt.event_type, receipt.state) == ("postal_accepted", None)


def test_webhook_signatures() -> None:
    body = json.dumps(
        {"tracking_number": "1", "id": "e", "status": "lost", "occurred_at": "2026-11-25T07:00:00Z"}
    ).encode()
    now = WHEN
    headers = signed_headers(SECRET, int(now.timestamp()), body)
    verify_webhook(SECRET, headers, body, now)
    verify_webhook(SECRET, headers, body, now + timedelta(minutes=5))
    for bad_headers, at in (
        ({}, now),
        (headers, now + timedelta(minutes=5, seconds=1)),
        (signed_headers("other", int(now.timestamp()), body), now),
        ({**headers, "X-Carrier-Timestamp": "soon"}, now),
    ):
        with pytest.raises(WebhookRejected) as rejected:
            verify_webhook(SECRET, bad_headers, body, at)
        assert rejected.value.status == 403
    event = parse_webhook(body)
    assert (event.status, event.occurred_at) == ("lost", now)
    for junk in (b"[]", b"{}", b"not json", b'{"tracking_number": "1", "id": "e", "status": "x"}'):
        with pytest.raises(WebhookRejected):
            parse_webhook(junk)


def test_code128_checksum() -> None:
    # Start B 104 + P 48·1 + J 42·2 + J 42·3 + 1 17·4 + 2 18·5 + 3 19·6 + C 35·7 = 879 ≡ 55
    values = code128_values("PJJ123C")
    assert (values[0], values[1:-2], values[-2], values[-1]) == (
        104,
        [48, 42, 42, 17, 18, 19, 35],
        55,
        106,
    )
    with pytest.raises(ValueError):
        code128_values("邮件")


def test_carrier_settings_go_together(tmp_path: Path) -> None:
    base = {
        "SONGDA_DATA_DIR": str(tmp_path),
        "SONGDA_SECRET_KEY": "x" * 32,
        "SONGDA_SECRETS_KEY": new_key(),
        "SONGDA_SMTP_HOST": "smtp.court.example",
        "SONGDA_SMTP_SENDER": "songda@court.example",
        "SONGDA_COURT_NAME": "法院",
    }
    assert not load_settings(base).carrier.configured
    with pytest.raises(ConfigError) as error:
        load_settings({**base, "SONGDA_CARRIER_URL": "https://carrier.example"})
    assert any("SONGDA_CARRIER_KEY" in p for p in error.value.problems)
    full = load_settings(
        {
            **base,
            "SONGDA_CARRIER_URL": "https://carrier.example",
            "SONGDA_CARRIER_KEY": "key",
            "SONGDA_CARRIER_WEBHOOK_SECRET": "secret",
        }
    )
    assert full.carrier.configured and full.carrier.name == "court-express"
    assert "secret" not in repr(full.carrier) and "key=" not in repr(full.carrier)
