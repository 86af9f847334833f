"""E-mail replies: the recipient answering a service e-mail, recorded as evidence.

The court's mail server forwards every message that comes back to the sender's address, raw
(RFC 5322), to ``POST /api/v1/replies`` with the mail processor's key (the ``bounces`` scope:
the same processor reports bounces). The reply is matched to the attempt by its ``In-Reply-To``
and then ``References`` (last first) against the Message-ID Songda sent it with.

A reply from the attempt's own address is the recipient acting on the message (OLR-31,
``escalation.rules.olr31_replied``), dated when it reached Songda: the ``Date:`` header is the
sender's client's word and is kept as evidence only. Automatic replies — RFC 3834
``Auto-Submitted``, the ``X-Autoreply``/``X-Autorespond`` headers, ``Precedence`` bulk, junk, list
or auto_reply, and ``multipart/report`` delivery or read reports — are recorded and never serve;
so is a reply from another address (a colleague answering for the recipient is not the recipient)
(docs/decisions/0042).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from email.message import Message
from email.utils import parseaddr
from typing import Any

from channels.email.receipts import same_address
from delivery.context import Context
from delivery.identity import mask_address
from delivery.services.progress import decide_now
from delivery.services.transactions import dispatch_transaction
from delivery.storage.attempts import email_attempt
from delivery.vocabulary import Channel, EventType

SOURCE = "mail_server"
MESSAGE_ID = re.compile(r"<[^<>\s]+>")
AUTO_HEADERS = ("X-Autoreply", "X-Autorespond")
AUTO_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply"})
MAX_HEADER = 300
# What a stored one-line text may not hold (delivery/text.py): folded lines and control characters
# of a header become spaces, lone surrogates of undecodable bytes too.
NOT_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


@dataclass(frozen=True)
class ReplyOutcome:
    dispatch_id: str
    attempt_id: str
    automatic: bool
    from_recipient: bool


def referenced_ids(message: Message) -> list[str]:
    """The Message-IDs the reply answers, the likeliest first: ``In-Reply-To``, then
    ``References`` from its end (the message answered is the last one it lists)."""
    found = MESSAGE_ID.findall(str(message.get("In-Reply-To", "")))
    found += reversed(MESSAGE_ID.findall(str(message.get("References", ""))))
    return list(dict.fromkeys(found))


def automatic_because(message: Message) -> str | None:
    """Why a message is an automatic reply (the header that says so), ``None`` for a person's."""
    submitted = str(message.get("Auto-Submitted", "")).split(";")[0].strip().lower()
    if submitted and submitted != "no":
        return f"Auto-Submitted: {submitted}"
    for header in AUTO_HEADERS:
        if message.get(header) is not None:
            return header
    precedence = str(message.get("Precedence", "")).strip().lower()
    if precedence in AUTO_PRECEDENCE:
        return f"Precedence: {precedence}"
    if message.get_content_type() == "multipart/report":
        return "multipart/report"
    return None


def _header(message: Message, name: str) -> str:
    """A header as people read it (RFC 2047 words decoded); as it came when it does not decode."""
    raw = str(message.get(name, ""))
    try:
        text = str(make_header(decode_header(raw)))
    except (ValueError, LookupError, UnicodeError):
        text = raw
    return NOT_ONE_LINE.sub(" ", text)[:MAX_HEADER]


def reply_evidence(raw: bytes, message: Message, address: str, answered: str) -> dict[str, Any]:
    """What the event keeps: whether it is automatic and from the recipient, the masked sender,
    the headers that date and name it, and the raw message's digest."""
    sender = parseaddr(_header(message, "From"))[1]
    because = automatic_because(message)
    return {
        "automatic": because is not None,
        "automatic_because": because,
        "from_recipient": same_address(sender, address),
        "from": mask_address(Channel.EMAIL, sender),
        "in_reply_to": answered,
        "message_id": _header(message, "Message-ID"),
        "date_header": _header(message, "Date"),
        "subject": _header(message, "Subject"),
        "sha256": hashlib.sha256(raw).hexdigest(),
    }


def parse(raw: bytes) -> Message:
    return message_from_bytes(raw, policy=policy.compat32)


async def record_email_reply(
    ctx: Context, raw: bytes, *, courts: tuple[str, ...], actor: str
) -> ReplyOutcome | None:
    """Record the raw reply on the attempt it answers; ``None`` when it answers none of ours."""
    message = parse(raw)
    for answered in referenced_ids(message):
        row = await email_attempt(ctx.engine, answered, courts)
        if row is not None:
            break
    else:
        return None
    data = reply_evidence(raw, message, row.address, answered)
    async with dispatch_transaction(ctx.engine, ctx.clock, row.dispatch_id) as tx:
        tx.record(
            EventType.REPLY_RECEIVED, source=SOURCE, actor=actor, attempt_id=row.id, data=data
        )
        await decide_now(ctx, tx)
    await ctx.queue.after_commit(tx.followups)
    return ReplyOutcome(row.dispatch_id, row.id, data["automatic"], data["from_recipient"])
