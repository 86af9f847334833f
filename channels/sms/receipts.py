"""SMS delivery reports — Twilio's status callbacks, Alibaba Cloud's SmsReport pushes and its
polled answers — the carrier's word on an SMS, recorded as evidence.

Callbacks arrive late, twice, out of order or contradicting each other; what each one does is
``channels.sms.outcomes.olr31_sms_receipt`` (docs/decisions/0023). It is recorded in the same
transaction as the attempt's change and the decision it triggers: ``delivered`` to a
recipient-confirmed number completes service (OLR-31).

Each event keeps the callback's raw fields (the phone numbers masked, as everywhere in the
evidence) — among them ``RawDlrDoneDate``, the carrier's own delivery time. That value has
minute precision and no time zone (its offset varies by carrier), so it is kept as evidence
and not used to date service: events are dated when Twilio's callback reached Songda.
Alibaba's ``report_time`` has seconds and a known zone (Beijing time), so its reports are dated
by it (docs/decisions/0044).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from channels.sms.outcomes import DELIVERED, FAILED, SmsReceipt, olr31_sms_receipt
from delivery.context import Context
from delivery.domain import Attempt, AttemptState
from delivery.identity import mask_address
from delivery.services.progress import decide_now
from delivery.services.transactions import dispatch_transaction
from delivery.storage.attempts import sms_attempt
from delivery.storage.sms_sends import note_receipt, note_unattended_receipt
from delivery.storage.unit_of_work import DispatchTransaction
from delivery.vocabulary import Channel, EventType, SmsProvider

SOURCE = SmsProvider.TWILIO
DELIVERED_EVENT = EventType.SMS_DELIVERED
CONTRADICTED_EVENT = EventType.SMS_RECEIPT_CONTRADICTED
PHONE_FIELDS = frozenset({"To", "From"})


def callback_evidence(params: Mapping[str, str]) -> dict[str, Any]:
    """What an event keeps of one callback: its status, error code and raw fields."""
    raw = {
        key: mask_address(Channel.SMS, value) if key in PHONE_FIELDS else value
        for key, value in sorted(params.items())
    }
    return {
        "message_sid": params.get("MessageSid", ""),
        "status": params.get("MessageStatus", ""),
        "error_code": params.get("ErrorCode"),
        "raw": raw,
    }


@dataclass(frozen=True)
class SmsStatus:
    """One provider's report on one message, in Twilio's words for its status (``delivered``,
    ``undelivered``, ``failed``, or a progress status), ready to record: ``source`` names the
    provider, ``data`` is the event's evidence and ``reported_at`` the carrier's own time of
    the report where the provider gives it to the second (None: dated on arrival)."""

    provider_ref: str
    status: str
    source: str
    data: dict[str, Any]
    reported_at: datetime | None = None


async def record_sms_status(ctx: Context, params: Mapping[str, str]) -> bool:
    """Apply one verified Twilio callback; False when no SMS attempt has its ``MessageSid``."""
    status = SmsStatus(
        params["MessageSid"], params["MessageStatus"], SOURCE, callback_evidence(params)
    )
    return await record_sms_report(ctx, status)


async def record_sms_report(ctx: Context, report: SmsStatus) -> bool:
    """Apply one verified report of any provider; False when Songda sent no message with its
    reference (not yet recorded, or not ours).

    A final report also ends the message's polls and counts for its provider's receipt times
    (delivery/services/sms_health.py). A report on a message with no attempt (an identity
    code, an address confirmation request) is only noted there: it concerns no dispatch."""
    row = await sms_attempt(ctx.engine, report.provider_ref)
    if row is None:
        return await note_unattended_receipt(
            ctx.engine, report.provider_ref, ctx.clock.now(), final=_final(report.status)
        )
    async with dispatch_transaction(ctx.engine, ctx.clock, row.dispatch_id) as tx:
        attempt = await tx.attempt(row.id)
        assert attempt is not None
        if _final(report.status):
            await note_receipt(tx.conn, report.provider_ref, tx.now)
        reported = {e.type for e in await tx.events() if e.attempt_id == attempt.id}
        effect = olr31_sms_receipt(
            report.status,
            attempt.state,
            delivered_before=DELIVERED_EVENT in reported,
            contradicted_before=CONTRADICTED_EVENT in reported,
            dispatch_open=tx.dispatch.is_open,
        )
        if effect != SmsReceipt.NOTHING:
            _record(tx, effect, attempt, report, _dated(report.reported_at, attempt, tx.now))
            await decide_now(ctx, tx)
    await ctx.queue.after_commit(tx.followups)
    return True


def _final(status: str) -> bool:
    return status == DELIVERED or status in FAILED


def _dated(reported_at: datetime | None, attempt: Attempt, now: datetime) -> datetime | None:
    """The carrier's time of the report, kept between the sending and now (a carrier clock
    ahead of ours, or behind the sending, does not date service outside what happened)."""
    if reported_at is None:
        return None
    earliest = attempt.sent_at or reported_at
    return min(max(reported_at, earliest), now)


def _record(
    tx: DispatchTransaction,
    effect: SmsReceipt,
    attempt: Attempt,
    report: SmsStatus,
    occurred_at: datetime | None,
) -> None:
    """The evidence of one report, and the attempt's change where there is one."""
    # Reports that change no state say which one they found.
    data, source = report.data, report.source
    kept = {**data, "attempt_state": attempt.state.value}
    match effect:
        case SmsReceipt.DELIVERED:
            tx.change_attempt(
                attempt,
                AttemptState.DELIVERED,
                DELIVERED_EVENT,
                source=source,
                data=data,
                occurred_at=occurred_at,
            )
        case SmsReceipt.DELIVERED_LATE:
            tx.record(
                DELIVERED_EVENT,
                source=source,
                attempt_id=attempt.id,
                data=kept,
                occurred_at=occurred_at,
            )
        case SmsReceipt.FAILED:
            reason = f"carrier: {data['status']} ({data['error_code'] or 'no code'})"
            tx.change_attempt(
                attempt,
                AttemptState.FAILED,
                EventType.ATTEMPT_FAILED,
                source=source,
                reason=reason,
                data=data,
            )
        case SmsReceipt.CONTRADICTED:
            # Flagged for the clerk; the delivery stands until a rebuttal is recorded.
            tx.record(
                CONTRADICTED_EVENT,
                source=source,
                attempt_id=attempt.id,
                data={**kept, "contradicts": DELIVERED_EVENT},
            )
