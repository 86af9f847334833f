"""Translating between table rows and domain objects, in one place."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy.engine import RowMapping

from delivery.domain import (
    Attempt,
    AttemptState,
    Contact,
    ContactKind,
    ContactSource,
    Dispatch,
    DispatchState,
    DocumentRef,
    Event,
)

DISPATCH_MUTABLE = (
    "policy",
    "consent_given",
    "consent_basis",
    "state",
    "state_reason",
    "step_index",
    "step_started_at",
    "next_action_at",
    "served_at",
    "service_date",
    "served_by_channel",
    "legal_basis",
    "periods",
    "owner_id",
)
ATTEMPT_MUTABLE = (
    "state",
    # An open attempt at an address the recipient replaced or a consent they withdrew in
    # writing becomes court-found (delivery/services/address_confirmation.py).
    "source",
    "reason",
    "provider_ref",
    "tries",
    "next_action_at",
    "sent_at",
    "link_issued_at",
    "claimed_by",
)


def dispatch_from_row(row: RowMapping, contacts: list[Contact]) -> Dispatch:
    return Dispatch(
        id=row["id"],
        court=row["court"],
        case_number=row["case_number"],
        reference=row["reference"],
        policy=row["policy"],
        state=DispatchState(row["state"]),
        recipient_name=row["recipient_name"],
        recipient_role=row["recipient_role"],
        id_last4=row["id_last4"],
        consent_given=row["consent_given"],
        consent_basis=row["consent_basis"],
        locale=row["locale"],
        created_at=row["created_at"],
        contacts=contacts,
        hearing_at=row["hearing_at"],
        state_reason=row["state_reason"],
        step_index=row["step_index"],
        step_started_at=row["step_started_at"],
        next_action_at=row["next_action_at"],
        served_at=row["served_at"],
        service_date=row["service_date"],
        served_by_channel=row["served_by_channel"],
        legal_basis=row["legal_basis"],
        api_key_id=row["api_key_id"],
        domicile_in_china=row["domicile_in_china"],
        document_kinds=frozenset(row["document_kinds"] or ()),
        service_deadline_at=row["service_deadline_at"],
        periods=row["periods"],
        owner_id=row["owner_id"],
    )


def dispatch_changes(dispatch: Dispatch) -> dict[str, Any]:
    return {name: getattr(dispatch, name) for name in DISPATCH_MUTABLE}


def contact_from_row(row: RowMapping) -> Contact:
    return Contact(
        id=row["id"],
        kind=ContactKind(row["kind"]),
        value=row["value"],
        source=ContactSource(row["source"]),
        postcode=row["postcode"],
        confirmation_id=row["confirmation_id"],
    )


def contact_row(dispatch_id: str, contact: Contact, position: int) -> dict[str, Any]:
    """The ``contacts`` row of one of a dispatch's contacts; ``position`` orders them."""
    return {
        "id": contact.id,
        "dispatch_id": dispatch_id,
        "kind": contact.kind.value,
        "value": contact.value,
        "postcode": contact.postcode,
        "source": contact.source.value,
        "position": position,
        "confirmation_id": contact.confirmation_id,
    }


def attempt_from_row(row: RowMapping) -> Attempt:
    return Attempt(
        id=row["id"],
        dispatch_id=row["dispatch_id"],
        step_index=row["step_index"],
        channel=row["channel"],
        contact_id=row["contact_id"],
        address=row["address"],
        source=ContactSource(row["source"]),
        state=AttemptState(row["state"]),
        created_at=row["created_at"],
        tries=row["tries"],
        reason=row["reason"],
        provider_ref=row["provider_ref"],
        next_action_at=row["next_action_at"],
        sent_at=row["sent_at"],
        link_issued_at=row["link_issued_at"],
        claimed_by=row["claimed_by"],
    )


def attempt_row(attempt: Attempt) -> dict[str, Any]:
    return {
        "id": attempt.id,
        "dispatch_id": attempt.dispatch_id,
        "step_index": attempt.step_index,
        "channel": attempt.channel,
        "contact_id": attempt.contact_id,
        "address": attempt.address,
        "source": attempt.source.value,
        "state": attempt.state.value,
        "reason": attempt.reason,
        "provider_ref": attempt.provider_ref,
        "tries": attempt.tries,
        "next_action_at": attempt.next_action_at,
        "sent_at": attempt.sent_at,
        "link_issued_at": attempt.link_issued_at,
        "claimed_by": attempt.claimed_by,
        "created_at": attempt.created_at,
    }


def attempt_changes(attempt: Attempt) -> dict[str, Any]:
    values = {name: getattr(attempt, name) for name in ATTEMPT_MUTABLE}
    values["state"] = attempt.state.value
    values["source"] = attempt.source.value
    return values


def event_from_row(row: Mapping[Any, Any]) -> Event:
    """An event from a stored row, or from the row a transaction is about to insert."""
    return Event(
        id=row["id"],
        dispatch_id=row["dispatch_id"],
        seq=row["seq"],
        type=row["type"],
        occurred_at=row["occurred_at"],
        recorded_at=row["recorded_at"],
        source=row["source"],
        actor=row["actor"],
        attempt_id=row["attempt_id"],
        data=json.loads(row["data"]),
        prev_hash=row["prev_hash"],
        hash=row["hash"],
    )


def document_from_row(row: RowMapping) -> DocumentRef:
    return DocumentRef(
        id=row["id"],
        sha256=row["sha256"],
        size=row["size"],
        title=row["title"],
        kind=row["kind"],
        media_type=row["media_type"],
    )
