"""SMS sends and provider standings: the rows of the failover (delivery/services/sms_health.py)
and of the polls that stand in for receipts that do not come (channels/sms/polls.py).

Operational records, not evidence: the evidence of a send is its attempt's events. Each write is
its own short transaction (a send is recorded before and after its provider is asked, never
inside a dispatch's transaction), except a receipt's, which goes with the receipt's evidence.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from delivery.ids import new_id
from delivery.storage import timers
from delivery.storage.schema import attempts, sms_provider_states, sms_provider_switches, sms_sends
from delivery.vocabulary import SmsKind

s = sms_sends
# A send's outcome: sending (no answer yet: the worker may have died), accepted,
# refused_number (the number's fault), failed (the provider's definite refusal), unknown (it
# may have been sent).
SENDING = "sending"
ACCEPTED = "accepted"
REFUSED_NUMBER = "refused_number"
FAILED = "failed"
UNKNOWN = "unknown"
UNSETTLED = (SENDING, UNKNOWN)
# The sends whose message the number may have got.
MAYBE_OUT = (SENDING, ACCEPTED, UNKNOWN)


@dataclass(frozen=True)
class SendRow:
    started_at: datetime
    outcome: str
    receipt_at: datetime | None
    # A service message's (it has an attempt): the one kind whose receipt Songda asks for and
    # waits on. A code's or a confirmation request's receipt may never come.
    receipt_awaited: bool = True


@dataclass(frozen=True)
class Switch:
    at: datetime
    provider: str
    from_state: str
    to_state: str
    reason: str
    figures: dict[str, Any]


async def start_send(
    engine: AsyncEngine,
    provider: str,
    attempt_id: str | None,
    now: datetime,
    address: str,
    kind: SmsKind,
) -> str:
    """A send of a ``kind`` message to ``address`` about to be asked of ``provider``; its id."""
    send_id = new_id()
    async with engine.begin() as conn:
        await conn.execute(
            s.insert().values(
                id=send_id,
                attempt_id=attempt_id,
                provider=provider,
                address=address,
                kind=kind,
                started_at=now,
                outcome=SENDING,
            )
        )
    return send_id


async def latest_kind_to(engine: AsyncEngine, address: str) -> SmsKind | None:
    """What the latest message sent to ``address`` that may have reached it was, None when no
    send to it is recorded."""
    async with engine.connect() as conn:
        kind = await conn.scalar(
            sa.select(s.c.kind)
            .where(s.c.address == address, s.c.outcome.in_(MAYBE_OUT), s.c.kind.is_not(None))
            .order_by(s.c.started_at.desc(), s.c.id.desc())
            .limit(1)
        )
    return None if kind is None else SmsKind(kind)


async def finish_send(
    engine: AsyncEngine,
    send_id: str,
    outcome: str,
    provider_ref: str | None,
    next_poll_at: datetime | None,
) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            s.update()
            .where(s.c.id == send_id)
            .values(outcome=outcome, provider_ref=provider_ref, next_poll_at=next_poll_at)
        )


async def unsettled_provider(engine: AsyncEngine, attempt_id: str) -> str | None:
    """The provider of the attempt's latest send whose fate is unknown (no answer, or the
    worker died while asking), if any: that message may be out, so only that provider may send
    the attempt again — a later refusal there does not settle the earlier send."""
    async with engine.connect() as conn:
        provider = await conn.scalar(
            sa.select(s.c.provider)
            .where(s.c.attempt_id == attempt_id, s.c.outcome.in_(UNSETTLED))
            .order_by(s.c.started_at.desc(), s.c.id.desc())
            .limit(1)
        )
    return None if provider is None else str(provider)


async def note_receipt(conn: AsyncConnection, provider_ref: str, at: datetime) -> None:
    """The first receipt for the message ``provider_ref``: its latency counts, no more polls."""
    await conn.execute(
        s.update()
        .where(s.c.provider_ref == provider_ref, s.c.receipt_at.is_(None))
        .values(receipt_at=at, next_poll_at=None)
    )


async def note_unattended_receipt(
    engine: AsyncEngine, provider_ref: str, at: datetime, *, final: bool
) -> bool:
    """A report on a message sent with no attempt (a code, a confirmation request), noted as
    its receipt when ``final``; whether Songda sent such a message (the report then belongs to
    no dispatch)."""
    async with engine.begin() as conn:
        sent = await conn.scalar(
            sa.select(sa.func.count())
            .select_from(s)
            .where(s.c.provider_ref == provider_ref, s.c.attempt_id.is_(None))
        )
        if sent and final:
            await note_receipt(conn, provider_ref, at)
    return bool(sent)


async def sends_since(engine: AsyncEngine, provider: str, since: datetime) -> list[SendRow]:
    """The provider's settled sends started at or after ``since``."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(s.c.started_at, s.c.outcome, s.c.receipt_at, s.c.attempt_id).where(
                s.c.provider == provider, s.c.started_at >= since, s.c.outcome != SENDING
            )
        )
        return [
            SendRow(r.started_at, r.outcome, r.receipt_at, r.attempt_id is not None) for r in rows
        ]


async def standings(engine: AsyncEngine) -> dict[str, tuple[str, datetime]]:
    """Each provider with a recorded standing: (state, since)."""
    async with engine.connect() as conn:
        rows = await conn.execute(sa.select(sms_provider_states))
        return {r.provider: (r.state, r.since) for r in rows}


async def first_standing(engine: AsyncEngine, provider: str, state: str, now: datetime) -> None:
    """The provider's first standing; another process may have written it first (kept)."""
    try:
        async with engine.begin() as conn:
            await conn.execute(
                sms_provider_states.insert().values(provider=provider, state=state, since=now)
            )
    except IntegrityError:
        pass


async def switch(engine: AsyncEngine, change: Switch, since: datetime) -> bool:
    """Move the provider from ``change.from_state`` (held since ``since``) on, and record the
    switch — only if no other process moved it meanwhile; whether this call did."""
    states = sms_provider_states
    async with engine.begin() as conn:
        moved = await conn.execute(
            states.update()
            .where(
                states.c.provider == change.provider,
                states.c.state == change.from_state,
                states.c.since == since,
            )
            .values(state=change.to_state, since=change.at)
        )
        if moved.rowcount != 1:
            return False
        await conn.execute(
            sms_provider_switches.insert().values(
                id=new_id(),
                at=change.at,
                provider=change.provider,
                from_state=change.from_state,
                to_state=change.to_state,
                reason=change.reason[:200],
                figures=json.dumps(change.figures, sort_keys=True),
            )
        )
    return True


async def recent_switches(engine: AsyncEngine, limit: int = 50) -> list[Switch]:
    """The latest switches, newest first."""
    w = sms_provider_switches
    async with engine.connect() as conn:
        rows = await conn.execute(sa.select(w).order_by(w.c.at.desc(), w.c.id.desc()).limit(limit))
        return [
            Switch(r.at, r.provider, r.from_state, r.to_state, r.reason, json.loads(r.figures))
            for r in rows
        ]


async def due_polls(
    engine: AsyncEngine, provider: str, now: datetime, limit: int
) -> list[tuple[str, str, str, str, datetime]]:
    """Accepted sends of ``provider`` with no receipt whose poll is due: (send id, attempt id,
    provider's reference, the number, sent at)."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(s.c.id, s.c.attempt_id, s.c.provider_ref, attempts.c.address, s.c.started_at)
            .join(attempts, attempts.c.id == s.c.attempt_id)
            .where(s.c.provider == provider, s.c.next_poll_at <= now, s.c.receipt_at.is_(None))
            .order_by(s.c.next_poll_at)
            .limit(limit)
        )
        return [(r.id, r.attempt_id, r.provider_ref, r.address, r.started_at) for r in rows]


async def claim_poll(
    engine: AsyncEngine, send_id: str, due_at: datetime, next_poll_at: datetime | None
) -> bool:
    """Move a due poll on (None: no more polls); False when another sweep took it first."""
    return await timers.claim_poll(engine, s.c.id, send_id, s.c.next_poll_at, due_at, next_poll_at)


async def send_of(engine: AsyncEngine, send_id: str) -> Any:
    """(attempt id, provider's reference, number, sent at) of one send, for its poll."""
    async with engine.connect() as conn:
        return (
            await conn.execute(
                sa.select(s.c.attempt_id, s.c.provider_ref, attempts.c.address, s.c.started_at)
                .join(attempts, attempts.c.id == s.c.attempt_id)
                .where(s.c.id == send_id)
            )
        ).first()
