"""ICP-16 contact repair (失联修复): a number or account a carrier or platform reports the party
used lately, recorded with its evidence as a ``court_found`` contact (clerk action
``repair_contact``).

The evidence is what makes such a contact defensible later: who supplied it (the carrier or
platform), their query reference, the date of the last activity they report, and their reply
document (the file sent with the action, stored like a signed proof's scan). The activity date is
checked by the one ICP-16 rule (``escalation.contact_repair``); a stale contact is refused with the
reason and nothing is recorded. A recorded contact re-opens the electronic step that owns its
channel, as ``record_consent`` does — when consent is recorded (OLR-29/30); without it the
contact waits for consent like any other.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from delivery.addresses import check_address
from delivery.context import Context
from delivery.domain import ELECTRONIC_CHANNELS, Contact, ContactKind, ContactSource
from delivery.identity import address_digest
from delivery.ids import new_id
from delivery.infra.document_store import EvidenceFile
from delivery.services.progress import start_attempt
from delivery.storage.unit_of_work import DispatchTransaction
from delivery.vocabulary import CHANNEL_CONTACTS, EventType
from escalation.consent import may_serve_on
from escalation.contact_repair import repair_refusal
from templates.texts import Text, wording

PURPOSE = "contact_repair_reply"
SOURCE = "clerk"
KINDS = (ContactKind.PHONE, ContactKind.EMAIL)
MAX_EVIDENCE_TEXT = 200
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# The detail fields, as the API, the page and the OpenAPI name them.
EVIDENCE_FIELDS = ("supplied_by", "query_reference")
ACTIVE_ON = "active_on"
REPLY_FIELD = "scan"


class RepairRefused(Exception):
    """A detail of the repaired contact is wrong or missing; ``field`` names which."""

    def __init__(self, field: str, reason: str | Text) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def _active_on(value: object) -> date:
    if not isinstance(value, str) or not ISO_DATE.fullmatch(value):
        raise RepairRefused(
            ACTIVE_ON, wording("required: the date of the last activity, YYYY-MM-DD")
        )
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise RepairRefused(ACTIVE_ON, wording("not a date of the calendar")) from None


def _evidence_text(details: dict[str, Any], field: str) -> str:
    value = details.get(field)
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_EVIDENCE_TEXT:
        raise RepairRefused(
            field, wording("required, at most %(count)s characters", count=MAX_EVIDENCE_TEXT)
        )
    return value.strip()


def _contact(details: dict[str, Any]) -> Contact:
    kind = details.get("kind")
    if kind not in [k.value for k in KINDS]:
        raise RepairRefused("kind", wording("must be phone or email"))
    value = details.get("value")
    problem: str | Text | None = wording("required")
    if isinstance(value, str):
        value, found = check_address(ContactKind(kind), value.strip())
        problem = None if found is None else found
    if problem is not None or not isinstance(value, str):
        raise RepairRefused("value", problem or wording("required"))
    return Contact(new_id(), ContactKind(kind), value, ContactSource.COURT_FOUND)


async def repair_contact(
    ctx: Context,
    tx: DispatchTransaction,
    details: dict[str, Any],
    reply: EvidenceFile | None,
    *,
    note: str,
    actor: str,
) -> Contact:
    """Check, then record the repaired contact with its evidence and re-open its e-service."""
    contact = _contact(details)
    supplied_by, reference = (_evidence_text(details, f) for f in EVIDENCE_FIELDS)
    active_on = _active_on(details.get(ACTIVE_ON))
    refusal = repair_refusal(active_on, now=tx.now, zone=ctx.settings.zone)
    if refusal is not None:
        raise RepairRefused(ACTIVE_ON, refusal)
    if reply is None:
        raise RepairRefused(
            REPLY_FIELD, wording("required: the carrier's or platform's reply document")
        )
    media_id = await tx.add_media(None, PURPOSE, reply.stored, reply.media_type, actor)
    tx.add_contact(contact)
    tx.record(
        EventType.CONTACT_ADDED,
        source=SOURCE,
        actor=actor,
        data={
            "note": note,
            "contact_id": contact.id,
            "kind": contact.kind.value,
            "source": contact.source.value,
            "address_hmac": address_digest(ctx.settings.secret_key, contact.value),
            "repair": {
                "supplied_by": supplied_by,
                "query_reference": reference,
                ACTIVE_ON: active_on.isoformat(),
                "reply": {
                    "media_id": media_id,
                    "sha256": reply.stored.sha256,
                    "media_type": reply.media_type,
                    "size": reply.stored.size,
                },
            },
        },
    )
    _reopen(ctx, tx, contact)
    return contact


def _reopen(ctx: Context, tx: DispatchTransaction, contact: Contact) -> None:
    """Start the contact's e-service in the step of the policy that owns its channel."""
    steps = ctx.policies.get(tx.dispatch.policy, tx.dispatch.court).steps
    for channel in ELECTRONIC_CHANNELS:
        if CHANNEL_CONTACTS[channel] != contact.kind:
            continue
        if not may_serve_on(channel, consent_given=tx.dispatch.consent_given):
            continue
        owners = [i for i, step in enumerate(steps) if channel in step.channels]
        if owners:
            start_attempt(ctx, tx, owners[0], channel, contact, source=SOURCE)
