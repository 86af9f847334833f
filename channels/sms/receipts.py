"""Twilio status callbacks: the carrier's word on an SMS, recorded as evidence.

Callbacks arrive late, twice, out of order or contradicting each other; what each one does is
``channels.sms.outcomes.olr31_sms_receipt`` (docs/decisions/0023). It is recorded in the same
transaction as the attempt's change and the decision it triggers: ``delivered`` to a
recipient-confirmed number completes service (OLR-31).

Each event keeps the callback's raw fields (the phone numbers masked, as everywhere in the
evidence) — among them ``RawDlrDoneDate``, the carrier's own delivery time. That value has
minute precision and no time zone (its offset varies by carrier), so it is kept as evidence
and not used to date service: events are dated when Twilio's callback reached Songda.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from channels.sms.outcomes import SmsReceipt, olr31_sms_receipt
from delivery.context import Context
from delivery.domain import Attempt, AttemptState
from delivery.identity import mask_address
from delivery.services.progress import decide_now
from delivery.services.transactions import dispatch_transaction
from delivery.storage.attempts import sms_attempt
from delivery.storage.unit_of_work import DispatchTransaction
from delivery.vocabulary import Channel, EventType

SOURCE = "twilio"
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


async def record_sms_status(ctx: Context, params: Mapping[str, str]) -> bool:
    """Apply one verified callback; False when no SMS attempt has its ``MessageSid``."""
    sid, status = params["MessageSid"], params["MessageStatus"]
    row = await sms_attempt(ctx.engine, sid)
    if row is None:
        return False
    async with dispatch_transaction(ctx.engine, ctx.clock, row.dispatch_id) as tx:
        attempt = await tx.attempt(row.id)
        assert attempt is not None
        reported = {e.type for e in await tx.events() if e.attempt_id == attempt.id}
        effect = olr31_sms_receipt(
            status,
            attempt.state,
            delivered_before=DELIVERED_EVENT in reported,
            contradicted_before=CONTRADICTED_EVENT in reported,
            dispatch_open=tx.dispatch.is_open,
        )
        if effect != SmsReceipt.NOTHING:
            _record(tx, effect, attempt, callback_evidence(params))
            await decide_now(ctx, tx)
    await ctx.queue.after_commit(tx.followups)
    return True


def _record(
    tx: DispatchTransaction,
    effect: SmsReceipt,
    attempt: Attempt,
    data: dict[str, Any],
) -> None:
    """The evidence of one report, and the attempt's change where there is one."""
    # Reports that change no state say which one they found.
    kept = {**data, "attempt_state": attempt.state.value}
    match effect:
        case SmsReceipt.DELIVERED:
            tx.change_attempt(
                attempt, AttemptState.DELIVERED, DELIVERED_EVENT, source=SOURCE, data=data
            )
        case SmsReceipt.DELIVERED_LATE:
            tx.record(
                DELIVERED_EVENT,
                source=SOURCE,
                attempt_id=attempt.id,
                data=kept,
            )
        case SmsReceipt.FAILED:
            reason = f"carrier: {data['status']} ({data['error_code'] or 'no code'})"
            tx.change_attempt(
                attempt,
                AttemptState.FAILED,
                EventType.ATTEMPT_FAILED,
                source=SOURCE,
                reason=reason,
                data=data,
            )
        case SmsReceipt.CONTRADICTED:
            # Flagged for the clerk; the delivery stands until a rebuttal is recorded.
            tx.record(
                CONTRADICTED_EVENT,
                source=SOURCE,
                attempt_id=attempt.id,
                data={**kept, "contradicts": DELIVERED_EVENT},
            )
