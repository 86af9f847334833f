"""Twilio status callbacks: the carrier's word on an SMS, recorded as evidence.

Callbacks arrive late, twice or out of order, so an attempt's state only ever moves forward:
``sent`` → ``delivered`` → (``read`` by the identity check), or ``failed``. ``delivered`` to a
recipient-confirmed number completes service (OLR-31), decided in the same transaction.
"""

from __future__ import annotations

import sqlalchemy as sa

from delivery.context import Context
from delivery.domain import AttemptState
from delivery.services.progress import decide_now
from delivery.storage.schema import attempts
from delivery.storage.unit_of_work import dispatch_transaction

DELIVERED = "delivered"
FAILED = frozenset({"undelivered", "failed"})
ON_THE_WAY = frozenset({"accepted", "queued", "sending", "sent", "scheduled"})


async def record_sms_status(
    ctx: Context, message_sid: str, status: str, error_code: str | None
) -> bool:
    """Apply one callback; False when no SMS attempt has that SID."""
    async with ctx.engine.connect() as conn:
        row = (
            await conn.execute(
                sa.select(attempts.c.dispatch_id, attempts.c.id).where(
                    attempts.c.provider_ref == message_sid, attempts.c.channel == "sms"
                )
            )
        ).first()
    if row is None:
        return False
    async with dispatch_transaction(ctx.engine, ctx.clock, row.dispatch_id) as tx:
        attempt = await tx.attempt(row.id)
        assert attempt is not None
        data = {"message_sid": message_sid, "status": status, "error_code": error_code}
        if status == DELIVERED and attempt.state == AttemptState.SENT:
            tx.change_attempt(
                attempt, AttemptState.DELIVERED, "sms_delivered", source="twilio", data=data
            )
            await decide_now(ctx, tx)
        elif status in FAILED and attempt.state in (AttemptState.SENT, AttemptState.DELIVERED):
            tx.change_attempt(
                attempt,
                AttemptState.FAILED,
                "attempt_failed",
                source="twilio",
                reason=f"carrier: {status} ({error_code or 'no code'})",
                data=data,
            )
            await decide_now(ctx, tx)
        # Anything else is a repeat or arrives after a later status: nothing moves backwards.
    await ctx.queue.after_commit(tx.followups)
    return True
