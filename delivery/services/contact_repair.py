"""ICP-16 contact repair (失联修复): a number or account a carrier or platform reports the party
used lately, recorded with its evidence as a ``court_found`` contact (clerk action
``repair_contact``) — one, or the rows of the carrier's results as CSV (``rows``).

The evidence is what makes such a contact defensible later: who supplied it (the carrier or
platform), their query reference, the date of the last activity they report, and their reply
document (the file sent with the action, stored like a signed proof's scan). The activity date is
checked by the one ICP-16 rule (``escalation.contact_repair``); a stale contact is refused with the
reason and nothing is recorded. A recorded contact re-opens the electronic step that owns its
channel, as ``record_consent`` does — when consent is recorded (OLR-29/30); without it the
contact waits for consent like any other.
"""

from __future__ import annotations

import csv
import io
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
# A carrier's results as CSV (the file part ``rows``, or its text in JSON): one repaired contact
# a row, with the columns below; the supplier, reference and reply document are the file's.
ROWS_FIELD = "rows"
# The date column is ``date`` (a carrier's sheet has no API names), read as ``active_on``.
ROW_DATE = "date"
ROW_COLUMNS = ("kind", "value", ROW_DATE)
MAX_ROWS = 50
MAX_ROWS_BYTES = 64 * 1024
# Every detail the action reads (the page's form sends these).
DETAILS = ("kind", "value", *EVIDENCE_FIELDS, ACTIVE_ON, ROWS_FIELD)


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
    if not isinstance(value, str) or not value.strip():
        raise RepairRefused("value", wording("required"))
    address, problem = check_address(ContactKind(kind), value.strip())
    if problem is not None:
        raise RepairRefused("value", problem)
    return Contact(new_id(), ContactKind(kind), address, ContactSource.COURT_FOUND)


def _checked(ctx: Context, tx: DispatchTransaction, row: dict[str, Any]) -> tuple[Contact, date]:
    contact = _contact(row)
    active_on = _active_on(row.get(ACTIVE_ON))
    refusal = repair_refusal(active_on, now=tx.now, zone=ctx.settings.zone)
    if refusal is not None:
        raise RepairRefused(ACTIVE_ON, refusal)
    return contact, active_on


def _rows(ctx: Context, tx: DispatchTransaction, text: object) -> list[tuple[Contact, date]]:
    """Every row of a carrier's CSV, checked: the first wrong row refuses the whole file
    (nothing half-recorded), named as a spreadsheet numbers it (``rows[2].active_on``)."""
    if not isinstance(text, str) or len(text.encode()) > MAX_ROWS_BYTES:
        raise RepairRefused(ROWS_FIELD, wording("must be CSV text of at most 64 KB"))
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [(name or "").strip().lower() for name in reader.fieldnames or []]
    if sorted(header) != sorted(ROW_COLUMNS):
        raise RepairRefused(ROWS_FIELD, wording("the columns must be: kind, value, date"))
    reader.fieldnames = header
    found = []
    for number, row in enumerate(reader, start=2):
        if not any((cell or "").strip() for cell in row.values()):
            continue  # spreadsheets leave blank rows at the end
        cells = {k: (v or "").strip() for k, v in row.items()}
        try:
            found.append(_checked(ctx, tx, {**cells, ACTIVE_ON: cells[ROW_DATE]}))
        except RepairRefused as exc:
            column = ROW_DATE if exc.field == ACTIVE_ON else exc.field
            raise RepairRefused(f"{ROWS_FIELD}[{number}].{column}", exc.reason) from None
    if not found or len(found) > MAX_ROWS:
        raise RepairRefused(
            ROWS_FIELD, wording("between 1 and %(count)s rows of contacts", count=MAX_ROWS)
        )
    return found


async def repair_contact(
    ctx: Context,
    tx: DispatchTransaction,
    details: dict[str, Any],
    reply: EvidenceFile | None,
    *,
    note: str,
    actor: str,
) -> list[Contact]:
    """Check, then record the repaired contact (or a carrier's CSV of them) with its evidence
    and re-open their e-service."""
    if details.get(ROWS_FIELD):
        contacts = _rows(ctx, tx, details[ROWS_FIELD])
    else:
        contacts = [_checked(ctx, tx, details)]
    supplied_by, reference = (_evidence_text(details, f) for f in EVIDENCE_FIELDS)
    if reply is None:
        raise RepairRefused(
            REPLY_FIELD, wording("required: the carrier's or platform's reply document")
        )
    media_id = await tx.add_media(None, PURPOSE, reply.stored, reply.media_type, actor)
    evidence = {
        "supplied_by": supplied_by,
        "query_reference": reference,
        "reply": {
            "media_id": media_id,
            "sha256": reply.stored.sha256,
            "media_type": reply.media_type,
            "size": reply.stored.size,
        },
    }
    for contact, active_on in contacts:
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
                "repair": {**evidence, ACTIVE_ON: active_on.isoformat()},
            },
        )
        reopen_electronic(ctx, tx, contact)
    return [contact for contact, _ in contacts]


def reopen_electronic(ctx: Context, tx: DispatchTransaction, contact: Contact) -> None:
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
