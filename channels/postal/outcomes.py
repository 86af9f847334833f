"""Carrier tracking events → attempt states and receipt events (domain.md, "Postal outcomes").

Pure: no storage, no clock. ``channels.postal.receipts`` records what this returns, in the
transaction that decides the dispatch; the completion rules (``escalation/rules.py``: CPL-91,
PM-11, CPL-283) read the receipt events by these names and fields:

- ``postal_delivered`` {relation, signer_id_recorded, signed_by, signer_id_hmac, signer_id_last4}:
  the attempt is ``delivered`` when an eligible person signed with their ID number recorded
  (CPL-91), else ``failed`` with a reason naming PM-7/PM-9 (opposing party, minor, no ID);
- ``postal_refused`` {refused_by: "recipient" for the recipient themself, else the relation}:
  ``refused`` (PM-11 deems service when the recipient or the designated receiver refused);
- ``postal_returned`` {reason}: ``returned`` (PM-11 deems service for a wrong, moved or unknown
  recipient-confirmed address; nobody home, PM-6, is not service);
- lost: ``attempt_failed`` with reason ``lost``.

The signer's full ID number is never part of what is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from delivery.channel_api import TrackingEvent
from delivery.clock import rfc3339
from delivery.domain import AttemptState
from delivery.identity import identity_digest, identity_last4
from delivery.vocabulary import EventType
from escalation.receivers import may_receive

# Carrier statuses on the way: recorded as tracking, the attempt stays ``sent``.
ON_THE_WAY = frozenset({"accepted", "in_transit", "delivery_attempted"})
RELATIONS = frozenset(
    {
        "self",
        "guardian",
        "family",
        "family_opposing_party",
        "minor",
        "entity_representative",
        "entity_mailroom",
        "agent",
        "designated_receiver",
    }
)
RETURN_REASONS = frozenset({"address_wrong", "moved", "unknown_recipient", "nobody_home", "other"})


@dataclass(frozen=True)
class Receipt:
    """What one carrier event means for its attempt. ``state`` None: no state change."""

    event_type: str
    state: AttemptState | None
    reason: str | None
    data: dict[str, Any]

    @property
    def final(self) -> bool:
        return self.state is not None


def carrier_data(carrier: str, event: TrackingEvent) -> dict[str, Any]:
    """The carrier's own words, minus the signer's ID number."""
    return {
        "carrier": carrier,
        "tracking_number": event.tracking_number,
        "carrier_event_id": event.event_id,
        "carrier_status": event.status,
        "carrier_payload": {k: v for k, v in event.raw.items() if k != "signer_id"},
        "occurred_at": rfc3339(event.occurred_at),
    }


def _invalid_signature(relation: str | None, id_recorded: bool) -> str | None:
    """Why a signed return receipt does not serve (PM-7, PM-9), or None when it does."""
    if relation == "family_opposing_party":
        return "PM-9: signed by a family member who is the opposing party"
    if relation == "minor":
        return "PM-7: signed by a minor"
    if not may_receive(relation):
        return f"PM-7: signed by someone not entitled to receive ({relation or 'unknown'})"
    if not id_recorded:
        return "PM-7: the signer's ID number is not on the receipt"
    return None


def interpret(carrier: str, event: TrackingEvent, secret: str) -> Receipt:
    """The receipt one carrier event makes (``secret`` keys the signer-ID digest)."""
    data = carrier_data(carrier, event)
    status = event.status
    if status == "delivered":
        id_recorded = bool(event.signer_id and event.signer_id.strip())
        data.update(
            relation=event.relation,
            signed_by=event.signed_by,
            signer_id_recorded=id_recorded,
            signer_id_hmac=identity_digest(secret, event.signer_id or "") if id_recorded else None,
            signer_id_last4=identity_last4(event.signer_id or "") if id_recorded else None,
        )
        invalid = _invalid_signature(event.relation, id_recorded)
        if invalid is None:
            return Receipt(EventType.POSTAL_DELIVERED, AttemptState.DELIVERED, None, data)
        return Receipt(EventType.POSTAL_DELIVERED, AttemptState.FAILED, invalid, data)
    if status == "refused":
        relation = event.relation or "unknown"
        data.update(
            refused_by="recipient" if relation == "self" else relation, relation=event.relation
        )
        return Receipt(
            EventType.POSTAL_REFUSED, AttemptState.REFUSED, f"refused by {relation}", data
        )
    if status == "returned":
        reason = event.reason or "other"
        data.update(reason=reason)
        return Receipt(
            EventType.POSTAL_RETURNED, AttemptState.RETURNED, f"returned: {reason}", data
        )
    if status == "lost":
        return Receipt(EventType.ATTEMPT_FAILED, AttemptState.FAILED, "lost", data)
    if status == "accepted":
        # The piece is in the carrier's hands: this, not the shipment's registration, is when
        # it was posted (CPL-283's three months run from it).
        return Receipt(EventType.POSTAL_ACCEPTED, None, None, data)
    return Receipt(EventType.POSTAL_TRACKING, None, None, data)
