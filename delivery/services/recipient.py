"""What happens when a recipient follows a link: open, identity check, download.

Every step is evidence (``link_opened``, ``identity_verified``, ``identity_failed``,
``link_locked``, ``document_downloaded``), recorded in the same transaction as any state change,
and a passed check is the receipt that completes service on a court-found address (OLR-31).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from pathlib import Path

from delivery.channel_api import CodeMessage, SendOutcome
from delivery.clock import rfc3339
from delivery.context import Context
from delivery.domain import (
    ATTEMPT_TRANSITIONS,
    Attempt,
    AttemptState,
    Contact,
    ContactSource,
    Dispatch,
    DispatchState,
    DocumentRef,
)
from delivery.identity import mask_address
from delivery.infra.rate_limits import Rule, TooSoon
from delivery.services.progress import decide_now
from delivery.services.recipient_view import ServiceFacts, service_facts
from delivery.services.transactions import dispatch_transaction
from delivery.storage.attempts import dispatch_of
from delivery.storage.unit_of_work import DispatchNotFound, DispatchTransaction
from delivery.vocabulary import CHANNEL_CONTACTS, Channel, EventType
from tracking.identity_check import LockState, last4_matches, lock_state
from tracking.links import BadToken, ExpiredToken, LinkClaims, read_token, same_issuance
from tracking.one_time_code import (
    CODE_TTL,
    code_digest,
    new_code,
    recently_sent,
    usable_code_event,
)

SOURCE = "recipient"
WITHDRAWN = frozenset({DispatchState.CANCELLED, DispatchState.FAILED})
QUIET = timedelta(minutes=1)
CODE_DAY = timedelta(days=1)


class LinkGone(Exception):
    """The link expired, was re-issued, or the dispatch was withdrawn."""


class CheckResult(StrEnum):
    VERIFIED = "verified"
    FAILED = "failed"
    LOCKED = "locked"


@dataclass(frozen=True)
class LinkView:
    court: str
    case_number: str
    recipient_name: str
    locale: str
    documents: list[DocumentRef]
    lock: LockState
    claims: LinkClaims
    facts: ServiceFacts
    code_via: str | None = None  # "sms" or "email" when a one-time code can be sent


@dataclass(frozen=True)
class VisitorInfo:
    """What we note about the visitor: enough to evidence the visit, no more."""

    ip: str | None
    user_agent: str | None

    def as_data(self) -> dict[str, str | None]:
        return {"ip": self.ip, "user_agent": (self.user_agent or "")[:300] or None}


async def _dispatch_of_attempt(ctx: Context, attempt_id: str) -> str:
    dispatch_id = await dispatch_of(ctx.engine, attempt_id)
    if dispatch_id is None:
        raise DispatchNotFound(attempt_id)
    return dispatch_id


async def _resolve(ctx: Context, token: str) -> tuple[LinkClaims, str]:
    try:
        claims = read_token(ctx.settings.secret_key, token, ctx.clock.now())
    except ExpiredToken:
        raise LinkGone from None
    try:
        return claims, await _dispatch_of_attempt(ctx, claims.attempt_id)
    except DispatchNotFound:
        raise BadToken from None


async def _attempt_for(tx: DispatchTransaction, claims: LinkClaims) -> Attempt:
    attempt = await tx.attempt(claims.attempt_id)
    if attempt is None:
        raise BadToken
    if not same_issuance(attempt.link_issued_at, claims.issued_at):
        raise LinkGone
    if tx.dispatch.state in WITHDRAWN:
        raise LinkGone  # the court has told the case system "not served": the link says so too
    return attempt


async def _lock(tx: DispatchTransaction, attempt: Attempt) -> LockState:
    failures = [
        e.recorded_at
        for e in await tx.events()
        if e.attempt_id == attempt.id
        and e.type == EventType.IDENTITY_FAILED
        and attempt.link_issued_at is not None
        and e.recorded_at >= attempt.link_issued_at
    ]
    return lock_state(failures, tx.now)


async def _record_unless_repeated(
    tx: DispatchTransaction, event_type: str, attempt: Attempt, data: dict[str, str | None]
) -> None:
    """Opening a link, or knocking on a locked one, can be repeated at will by whoever holds
    it: one event a minute per kind is evidence enough and keeps the chain from being flooded."""
    repeated = any(
        e.attempt_id == attempt.id and e.type == event_type and e.recorded_at > tx.now - QUIET
        for e in await tx.events()
    )
    if not repeated:
        tx.record(event_type, source=SOURCE, attempt_id=attempt.id, data=data)


async def open_link(ctx: Context, token: str, visitor: VisitorInfo, *, record: bool) -> LinkView:
    claims, dispatch_id = await _resolve(ctx, token)
    async with dispatch_transaction(ctx.engine, ctx.clock, dispatch_id) as tx:
        attempt = await _attempt_for(tx, claims)
        if record:
            await _record_unless_repeated(tx, EventType.LINK_OPENED, attempt, visitor.as_data())
        await tx.load_contacts()
        route = code_route(ctx, tx.dispatch, attempt)
        view = LinkView(
            code_via=route.channel if route else None,
            court=tx.dispatch.court,
            case_number=tx.dispatch.case_number,
            recipient_name=tx.dispatch.recipient_name,
            locale=tx.dispatch.locale,
            documents=await tx.documents(),
            lock=await _lock(tx, attempt),
            claims=claims,
            facts=await service_facts(tx, attempt),
        )
    return view


async def check_identity(
    ctx: Context,
    token: str,
    visitor: VisitorInfo,
    *,
    last4: str | None = None,
    code: str | None = None,
) -> tuple[CheckResult, LockState]:
    """Check the last 4 characters of the identity number, or a one-time code."""
    claims, dispatch_id = await _resolve(ctx, token)
    async with dispatch_transaction(ctx.engine, ctx.clock, dispatch_id) as tx:
        attempt = await _attempt_for(tx, claims)
        lock = await _lock(tx, attempt)
        data: dict[str, str | None] = dict(visitor.as_data())
        matched = False
        if code is not None:
            otp = usable_code_event(
                await tx.events(),
                attempt.id,
                code_digest(ctx.settings.secret_key, attempt.id, code),
                tx.now,
                since=claims.issued_at,
            )
            matched = otp is not None
            data |= {"method": "one_time_code", "otp_event_id": otp.id if otp else None}
        elif last4 is not None:
            matched = last4_matches(tx.dispatch.id_last4, last4)
            data |= {"method": "id_last4"}
        if lock.locked:
            await _record_unless_repeated(tx, EventType.IDENTITY_REJECTED_LOCKED, attempt, data)
            result = CheckResult.LOCKED
        elif matched:
            await _verified(ctx, tx, attempt, data)
            result = CheckResult.VERIFIED
        else:
            tx.record(EventType.IDENTITY_FAILED, source=SOURCE, attempt_id=attempt.id, data=data)
            lock = await _lock(tx, attempt)
            if lock.locked:
                tx.record(
                    EventType.LINK_LOCKED,
                    source=SOURCE,
                    attempt_id=attempt.id,
                    data={
                        "failures": lock.failures,
                        "until": rfc3339(lock.until) if lock.until else "reissue",
                    },
                )
            result = CheckResult.LOCKED if lock.locked else CheckResult.FAILED
    await ctx.queue.after_commit(tx.followups)
    return result, lock


async def _verified(
    ctx: Context, tx: DispatchTransaction, attempt: Attempt, data: dict[str, str | None]
) -> None:
    """A passed check is reading: the attempt becomes ``read`` if it can, and escalation looks."""
    if AttemptState.READ in ATTEMPT_TRANSITIONS[attempt.state]:
        tx.change_attempt(
            attempt, AttemptState.READ, EventType.IDENTITY_VERIFIED, source=SOURCE, data=data
        )
    else:
        tx.record(EventType.IDENTITY_VERIFIED, source=SOURCE, attempt_id=attempt.id, data=data)
    await decide_now(ctx, tx)


async def download(
    ctx: Context, token: str, document_id: str, visitor: VisitorInfo
) -> tuple[DocumentRef, Path]:
    claims, dispatch_id = await _resolve(ctx, token)
    async with dispatch_transaction(ctx.engine, ctx.clock, dispatch_id) as tx:
        attempt = await _attempt_for(tx, claims)
        document = next((d for d in await tx.documents() if d.id == document_id), None)
        if document is None:
            raise KeyError(document_id)
        tx.record(
            EventType.DOCUMENT_DOWNLOADED,
            source=SOURCE,
            attempt_id=attempt.id,
            data={"document_id": document.id, "sha256": document.sha256, **visitor.as_data()},
        )
    return document, ctx.documents.path_for(document.sha256)


@dataclass(frozen=True)
class CodeRoute:
    """Where a one-time code for this link goes: another channel than the link's own."""

    channel: str
    contact: Contact


def code_route(ctx: Context, dispatch: Dispatch, attempt: Attempt) -> CodeRoute | None:
    other = Channel.SMS if attempt.channel == Channel.EMAIL else Channel.EMAIL
    if other not in ctx.channels:
        return None
    candidates = [c for c in dispatch.contacts if c.kind == CHANNEL_CONTACTS[other]]
    candidates.sort(key=lambda c: c.source != ContactSource.RECIPIENT_CONFIRMED)
    return CodeRoute(other, candidates[0]) if candidates else None


class CodeNotAvailable(Exception):
    """No other channel to send a code on, or the link is locked."""


class CodeLimitReached(TooSoon):
    """The link has had its codes for the day (``SONGDA_OTP_SENDS_PER_DAY``)."""


async def send_code(ctx: Context, token: str, visitor: VisitorInfo) -> str:
    """Send a one-time code on the other channel; returns the masked address it went to.

    At most one a minute (a second request within it is answered as if sent), and at most
    ``SONGDA_OTP_SENDS_PER_DAY`` a day per link, counted in the shared limits before the code
    leaves (:class:`CodeLimitReached`; ``LimitsUnavailable``: no code is sent unlimited)."""
    claims, dispatch_id = await _resolve(ctx, token)
    async with dispatch_transaction(ctx.engine, ctx.clock, dispatch_id) as tx:
        attempt = await _attempt_for(tx, claims)
        await tx.load_contacts()
        route = code_route(ctx, tx.dispatch, attempt)
        if route is None or (await _lock(tx, attempt)).locked:
            raise CodeNotAvailable
        masked = mask_address(route.channel, route.contact.value)
        if recently_sent(await tx.events(), attempt.id, tx.now):
            return masked
        code = new_code()
        message = CodeMessage(
            address=route.contact.value,
            locale=tx.dispatch.locale,
            court=tx.dispatch.court,
            code=code,
            valid_minutes=int(CODE_TTL.total_seconds() // 60),
        )
    daily = Rule(f"otp:{attempt.id}", ctx.settings.limits.otp_sends_per_day, CODE_DAY)
    wait = await ctx.limits.hit(daily)
    if wait is not None:
        raise CodeLimitReached(wait)
    result = await ctx.channels[route.channel].send_code(message)
    async with dispatch_transaction(ctx.engine, ctx.clock, dispatch_id) as tx:
        data = {"channel": route.channel, "contact_id": route.contact.id, **visitor.as_data()}
        if result.outcome != SendOutcome.ACCEPTED:
            tx.record(
                EventType.OTP_SEND_FAILED,
                source=SOURCE,
                attempt_id=attempt.id,
                data={**data, "detail": result.detail},
            )
        else:
            tx.record(
                EventType.OTP_SENT,
                source=SOURCE,
                attempt_id=attempt.id,
                data={**data, "digest": code_digest(ctx.settings.secret_key, attempt.id, code)},
            )
    if result.outcome != SendOutcome.ACCEPTED:
        raise CodeNotAvailable
    return masked
