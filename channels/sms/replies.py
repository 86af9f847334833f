"""Inbound messages (Twilio's inbound webhook, Alibaba Cloud's uplink 短信上行): the recipient
answering an SMS, recorded as evidence.

A reply from the number an attempt was sent to is the recipient acting on the message, which
serves it under OLR-31 (``escalation.rules.olr31_replied``), dated when the reply reached Songda —
Twilio's inbound webhook carries no time of its own. A message from a number Songda never sent
to belongs to no dispatch and is not recorded. The completion rules decide what it does: a reply
after the step's window still serves a dispatch that is open, like a late delivery report
(docs/decisions/0023, 0042).

A reply answers the latest message the number got, and that is not always a notice of service:
the court also sends identity-check codes and address confirmation requests by SMS. The evidence
says what the reply answers (``answers``, an :class:`~delivery.vocabulary.SmsKind`); one to a
code or a confirmation request is kept on the latest service attempt to the number, and never
serves (``escalation.rules.olr31_replied``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from delivery.context import Context
from delivery.identity import mask_address
from delivery.services.progress import decide_now
from delivery.services.transactions import dispatch_transaction
from delivery.storage.attempts import sms_attempt_to
from delivery.storage.sms_sends import latest_kind_to
from delivery.vocabulary import Channel, EventType, SmsKind, SmsProvider

SOURCE = SmsProvider.TWILIO
MAX_BODY = 1600  # Twilio's longest message


def reply_evidence(params: Mapping[str, str]) -> dict[str, Any]:
    """What the event keeps of one inbound message: its SID, the masked sender and the text."""
    return {
        "automatic": False,
        "from_recipient": True,  # matched by the number the SMS was sent to
        "message_sid": params.get("MessageSid", ""),
        "from": mask_address(Channel.SMS, params.get("From", "")),
        "body": params.get("Body", "")[:MAX_BODY],
    }


async def record_sms_reply(ctx: Context, params: Mapping[str, str]) -> bool:
    """Record one verified Twilio inbound message; False when no SMS went to its sender."""
    return await record_reply(ctx, params.get("From", ""), reply_evidence(params), SOURCE)


async def record_reply(ctx: Context, number: str, data: dict[str, Any], source: str) -> bool:
    """Record one verified message from ``number`` (E.164) of any provider, its evidence
    ``data`` saying it came from the recipient's number; False when no SMS went to that
    number."""
    row = await sms_attempt_to(ctx.engine, number)
    if row is None:
        return False
    # No send recorded (sent before the sends were, or by a channel with no router): the
    # service attempt's message is the latest the number got.
    answers = await latest_kind_to(ctx.engine, number) or SmsKind.SERVICE
    async with dispatch_transaction(ctx.engine, ctx.clock, row.dispatch_id) as tx:
        tx.record(
            EventType.REPLY_RECEIVED,
            source=source,
            attempt_id=row.id,
            data={**data, "answers": answers.value},
        )
        await decide_now(ctx, tx)
    await ctx.queue.after_commit(tx.followups)
    return True
