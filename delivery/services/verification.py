"""What the public pages tell strangers: ``/verify`` (a certificate's or a letter's QR code) and
``/check`` ("is this notice genuine?").

Both answer only about the court's own record, and only a little: ``/verify`` the court, case
number, document titles, method and date of service and whether a certificate's hash matches;
``/check`` the court and case number a notice code belongs to. Neither ever returns a name,
identity number, phone number, e-mail or postal address (see
``docs/decisions/0012-verification-page-and-notice-codes.md``).
"""

from __future__ import annotations

import hmac
import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from delivery.context import Context
from delivery.domain import DispatchState
from delivery.identity import normalise_identity
from delivery.storage import verification as stored
from delivery.storage.engine import Engine
from delivery.vocabulary import EventType
from tracking import notice_codes as codes
from tracking.timestamps import EVENT as TIMESTAMP_EVENT

HASH = re.compile(r"[0-9a-f]{64}")
SERVED_EVENT = EventType.DISPATCH_SERVED
CHECKPOINT_EVENT = EventType.CHAIN_CHECKPOINT


class Match(StrEnum):
    CURRENT = "current"  # the hash of the service the record stands on now
    SUPERSEDED = "superseded"  # a service (and its certificate) later reversed


@dataclass(frozen=True)
class ServiceShown:
    channel: str
    service_date: date


@dataclass(frozen=True)
class ThirdPartyTime:
    """The TSA's time on the checkpoint that pins the service shown (docs/decisions/0021)."""

    tsa: str
    at: datetime


@dataclass(frozen=True)
class VerifiedRecord:
    """What ``/verify`` shows. ``match`` is None on the letter's page (no hash asked about);
    ``service`` is the service the hash pins (or, without a hash, the current one, if any)."""

    court: str
    case_number: str
    document_titles: tuple[str, ...]
    service: ServiceShown | None
    match: Match | None
    served_now: ServiceShown | None  # the current service, when there is one
    # The third-party time of the service shown: None when there is none (yet).
    third_party_time: ThirdPartyTime | None = None


def normalise_hash(value: str) -> str | None:
    value = value.strip().lower()
    return value if HASH.fullmatch(value) else None


def _service(data: dict[str, Any]) -> ServiceShown | None:
    try:
        return ServiceShown(str(data["channel"]), date.fromisoformat(str(data["service_date"])))
    except (KeyError, ValueError):
        return None


async def _third_party_time(
    engine: Engine, dispatch_id: str, served_hash: str
) -> ThirdPartyTime | None:
    """The TSA's name and time on the checkpoint pinning the served event ``served_hash``."""
    rows = await stored.events_of_types(engine, dispatch_id, (CHECKPOINT_EVENT, TIMESTAMP_EVENT))
    pinning: set[int] = set()
    for seq, kind, raw in rows:
        data = json.loads(raw)
        if kind == CHECKPOINT_EVENT and data.get("head") == served_hash:
            pinning.add(seq)
        elif kind == TIMESTAMP_EVENT and data.get("checkpoint_seq") in pinning:
            return ThirdPartyTime(str(data["tsa"]), datetime.fromisoformat(data["gen_time"]))
    return None


async def verify_record(ctx: Context, dispatch_id: str, head: str | None) -> VerifiedRecord | None:
    """The record behind a verification address, or None ("no such record").

    With ``head`` (a certificate's QR code), None also when the hash matches no service of the
    dispatch: a stranger holding only an id and a made-up hash learns nothing, not even that
    the id exists. A hash matches the current record when it is the hash of the
    ``dispatch_served`` event the dispatch is served by now, or a current certificate's chain
    head; it matches a superseded certificate when it is a certificate's chain head or a
    ``dispatch_served`` event's hash whose service was later reversed.
    """
    found = await stored.service_rows(ctx.engine, dispatch_id, SERVED_EVENT)
    if found is None:
        return None
    dispatch, served, certs = found.dispatch, found.served, found.certificates

    is_served = dispatch.state == DispatchState.SERVED.value
    current = served[-1] if served and is_served else None
    served_now = _service(json.loads(current.data)) if current is not None else None
    match: Match | None = None
    service = served_now
    shown = current
    if head is not None:
        event = next((e for e in served if hmac.compare_digest(e.hash, head)), None)
        cert = next((c for c in certs if hmac.compare_digest(c.chain_head, head)), None)
        if event is None and cert is not None:
            # A certificate pins the served event at its seq (or a checkpoint right after it).
            event = next((e for e in reversed(served) if e.seq <= cert.chain_seq), None)
        if event is None:
            return None
        is_current = (
            current is not None
            and event.seq == current.seq
            and (cert is None or cert.superseded_at is None)
        )
        match = Match.CURRENT if is_current else Match.SUPERSEDED
        service = _service(json.loads(event.data))
        shown = event
    third_party_time = None
    if shown is not None:
        third_party_time = await _third_party_time(ctx.engine, dispatch_id, shown.hash)
    return VerifiedRecord(
        court=dispatch.court,
        case_number=dispatch.case_number,
        document_titles=found.document_titles,
        service=service,
        match=match,
        served_now=served_now,
        third_party_time=third_party_time,
    )


# --- /check: is this notice genuine? ---


@dataclass(frozen=True)
class NoticeOwner:
    """All ``/check`` ever says about a genuine notice."""

    court: str
    case_number: str


def _digits_last4(value: str) -> str:
    digits = "".join(c for c in value if c.isdigit())
    return digits[-4:]


async def check_notice(ctx: Context, typed_code: str, typed_last4: str) -> NoticeOwner | None:
    """The court and case number of the notice with this code, when ``typed_last4`` is the
    last 4 characters of the recipient's identity number or of one of their phone numbers;
    None otherwise — the same None for an unknown code and for wrong digits."""
    code = codes.normalise(typed_code)
    last4 = normalise_identity(unicodedata.normalize("NFKC", typed_last4[:20]))
    if code is None or len(last4) != 4:
        return None
    row, phones = await stored.code_owner(ctx.engine, code)
    if row is None:
        return None
    candidates = [row.id_last4.upper(), *(_digits_last4(p) for p in phones)]
    # Compare with every candidate (no early exit), in constant time for each.
    matched = False
    for candidate in candidates:
        matched |= len(candidate) == 4 and hmac.compare_digest(candidate.encode(), last4.encode())
    return NoticeOwner(row.court, row.case_number) if matched else None
