"""Asking a recipient to confirm their addresses online (送达地址确认书, CPL-INT-136): the clerk
action ``request_address_confirmation``, and the link a letter prints as a QR code.

A request is an ``address_confirmation_requested`` event: it issues the link (its issuance and
expiry are in the event) and names the messages that carry it — one to each e-mail address and
mobile number of the dispatch, on the channels configured. The transaction that records it
commits before anything leaves; each message is then sent once and its outcome recorded
(``address_confirmation_request_sent``). Nothing ever sends an earlier request's messages again,
and a second request within :data:`QUIET` of the last is refused (a double click, a retried
call), so no message goes twice — a process that dies between sending and recording leaves that
message's outcome missing from the chain, never repeated.

The newest request is the standing one: its link works, every earlier link stops (re-issuing is
asking again). The dispatch's first letter prints the standing link as a QR code; a letter that
goes before any request issues one (``via`` ``letter``) with no message of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from delivery.channel_api import ConfirmationRequestMessage, SendOutcome
from delivery.clock import rfc3339
from delivery.context import Context
from delivery.domain import Event
from delivery.services.transactions import dispatch_transaction
from delivery.storage.unit_of_work import DispatchTransaction
from delivery.vocabulary import CHANNEL_CONTACTS, Channel, EventType
from templates.texts import Text, wording
from tracking.links import CONFIRMATION, LinkClaims, issue_token

log = logging.getLogger(__name__)
ACTION = "request_address_confirmation"
REQUESTED = EventType.ADDRESS_CONFIRMATION_REQUESTED
SENT = EventType.ADDRESS_CONFIRMATION_REQUEST_SENT
QUIET = timedelta(minutes=1)
# The channels that carry the link, in the order their messages go.
CARRIERS = (Channel.SMS, Channel.EMAIL)
LETTER, MESSAGES = "letter", "messages"
PATH = "/c/"


class RequestRefused(Exception):
    """No message can carry the link, or a request was just made; ``reason`` says which."""

    def __init__(self, reason: Text) -> None:
        super().__init__(str(reason))
        self.reason = reason


@dataclass(frozen=True)
class Planned:
    """One message of a request: the channel and the contact it goes to."""

    channel: str
    contact_id: str
    address: str


def standing_request(chain: Sequence[Event]) -> Event | None:
    """The newest request of the dispatch: the one whose link works."""
    return next((e for e in reversed(chain) if e.type == REQUESTED), None)


def claims_of(dispatch_id: str, request: Event) -> LinkClaims:
    return LinkClaims(
        attempt_id=dispatch_id,
        issued_at=datetime.fromisoformat(request.data["issued_at"]),
        expires_at=datetime.fromisoformat(request.data["expires_at"]),
    )


def link_url(ctx: Context, dispatch_id: str, request: Event) -> str:
    """The address of the confirmation form a request issued."""
    token = issue_token(ctx.settings.secret_key, claims_of(dispatch_id, request), CONFIRMATION)
    return f"{ctx.settings.public_base_url}{PATH}{token}"


def _issue(
    ctx: Context,
    tx: DispatchTransaction,
    planned: list[Planned],
    *,
    via: str,
    actor: str | None = None,
    **data: Any,
) -> None:
    expires_at = tx.now + timedelta(days=ctx.settings.link_ttl_days)
    tx.record(
        REQUESTED,
        source="clerk" if actor is not None else Channel.POSTAL,
        actor=actor,
        data={
            **data,
            "via": via,
            "issued_at": rfc3339(tx.now),
            "expires_at": rfc3339(expires_at),
            "messages": [{"channel": p.channel, "contact_id": p.contact_id} for p in planned],
        },
    )


def _plan(ctx: Context, tx: DispatchTransaction) -> list[Planned]:
    return [
        Planned(channel, contact.id, contact.value)
        for channel in CARRIERS
        if channel in ctx.channels
        for contact in tx.dispatch.contacts_of(CHANNEL_CONTACTS[channel])
    ]


async def record_request(
    ctx: Context, tx: DispatchTransaction, *, note: str, actor: str
) -> list[Planned]:
    """Record a clerk's request in the action's transaction (contacts loaded); the messages to
    send once it commits (:func:`send_requests`). :class:`RequestRefused` records nothing."""
    last = standing_request(await tx.events())
    if last is not None and last.data.get("via") != LETTER and last.recorded_at > tx.now - QUIET:
        raise RequestRefused(wording("a confirmation request was sent less than a minute ago"))
    planned = _plan(ctx, tx)
    if not planned:
        raise RequestRefused(
            wording("the recipient has no e-mail address or mobile number to send the link to")
        )
    _issue(ctx, tx, planned, via=MESSAGES, actor=actor, note=note)
    return planned


async def send_requests(ctx: Context, dispatch_id: str, planned: list[Planned]) -> None:
    """Send each planned message of the standing request once and record how it went."""
    for message in planned:
        await _send_one(ctx, dispatch_id, message)


async def _send_one(ctx: Context, dispatch_id: str, planned: Planned) -> None:
    async with dispatch_transaction(ctx.engine, ctx.clock, dispatch_id) as tx:
        request = standing_request(await tx.events())
        assert request is not None
        dispatch = tx.dispatch
        message = ConfirmationRequestMessage(
            address=planned.address,
            locale=dispatch.locale,
            court=dispatch.court,
            case_number=dispatch.case_number,
            recipient_name=dispatch.recipient_name,
            link_url=link_url(ctx, dispatch.id, request),
            link_expires_at=datetime.fromisoformat(request.data["expires_at"]),
            time_zone=ctx.settings.time_zone,
        )
    result = await ctx.channels[planned.channel].send_confirmation_request(message)
    async with dispatch_transaction(ctx.engine, ctx.clock, dispatch_id) as tx:
        tx.record(
            SENT,
            source=planned.channel,
            data={
                "request_event_id": request.id,
                "channel": planned.channel,
                "contact_id": planned.contact_id,
                "outcome": result.outcome.value,
                "provider_ref": result.provider_ref,
                "detail": result.detail,
            },
        )
    if result.outcome != SendOutcome.ACCEPTED:
        log.warning(
            "confirmation request not sent",
            extra={"dispatch_id": dispatch_id, "channel": planned.channel},
        )


def expired(request: Event, now: datetime) -> bool:
    return now >= datetime.fromisoformat(request.data["expires_at"])


async def letter_request(ctx: Context, tx: DispatchTransaction) -> None:
    """A standing request for the first letter's QR code: the one there is, unless it has
    expired; else one issued now (no message of its own: the letter carries it)."""
    standing = standing_request(await tx.events())
    if standing is None or expired(standing, tx.now):
        _issue(ctx, tx, [], via=LETTER)
