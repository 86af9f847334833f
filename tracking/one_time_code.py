"""One-time codes: the alternative to the last-4 identity check.

A 6-digit code, valid 10 minutes, sent on a channel other than the one that carried the link.
Only a keyed digest is recorded (in the ``otp_sent`` event); a code is good once, and wrong codes
count towards the same lock-out as wrong identity numbers.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from delivery.domain import Event
from delivery.identity import keyed_digest
from delivery.vocabulary import EventType

CODE_TTL = timedelta(minutes=10)
RESEND_AFTER = timedelta(minutes=1)


def new_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


def code_digest(secret: str, attempt_id: str, code: str) -> str:
    return keyed_digest(secret, "one-time-code", f"{attempt_id}:{code.strip()}")


def usable_code_event(
    events: Sequence[Event], attempt_id: str, digest: str, now: datetime, since: datetime
) -> Event | None:
    """The ``otp_sent`` event this code belongs to, if it is the latest, unexpired and unused."""
    sent = [
        e
        for e in events
        if e.attempt_id == attempt_id and e.type == EventType.OTP_SENT and e.recorded_at >= since
    ]
    if not sent or sent[-1].data.get("digest") != digest:
        return None
    latest = sent[-1]
    if now >= latest.recorded_at + CODE_TTL:
        return None
    used = any(
        e.type == EventType.IDENTITY_VERIFIED and e.data.get("otp_event_id") == latest.id
        for e in events
    )
    return None if used else latest


def recently_sent(events: Sequence[Event], attempt_id: str, now: datetime) -> bool:
    """A code went out less than a minute ago: do not send another yet."""
    return any(
        e.attempt_id == attempt_id
        and e.type == EventType.OTP_SENT
        and e.recorded_at > now - RESEND_AFTER
        for e in events
    )
