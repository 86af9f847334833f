"""The public JSON shapes of dispatches and attempts, shared by the API and the webhooks."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import TYPE_CHECKING, Any

from delivery.clock import rfc3339
from delivery.domain import Attempt, Contact, Dispatch, Event
from delivery.identity import mask_address

if TYPE_CHECKING:
    from delivery.storage.address_confirmations import ConfirmationRef
    from delivery.storage.queries import NoticeText


def _time(value: datetime | None) -> str | None:
    return None if value is None else rfc3339(value)


def dispatch_summary(dispatch: Dispatch) -> dict[str, Any]:
    """What every webhook payload and list entry says about a dispatch."""
    return {
        "dispatch_id": dispatch.id,
        "state": dispatch.state.value,
        "state_reason": dispatch.state_reason,
        "court": dispatch.court,
        "case_number": dispatch.case_number,
        "reference": dispatch.reference,
        "policy": dispatch.policy,
        "created_at": _time(dispatch.created_at),
        "served_at": _time(dispatch.served_at),
        "service_date": None
        if dispatch.service_date is None
        else dispatch.service_date.isoformat(),
        "served_by_channel": dispatch.served_by_channel,
        "legal_basis": dispatch.legal_basis,
        "periods": dispatch.periods,
    }


def contact_view(contact: Contact, confirmations: dict[str, ConfirmationRef]) -> dict[str, Any]:
    """A recipient's contact, masked, with where it came from: its source and, for one taken
    from a signed address confirmation form (CPL-INT-136/137), that form."""
    form = confirmations.get(contact.confirmation_id) if contact.confirmation_id else None
    return {
        "id": contact.id,
        "kind": contact.kind.value,
        "value": mask_address(contact.kind.value, contact.value),
        "source": contact.source.value,
        "confirmation": None
        if form is None
        else {
            "id": form.id,
            "confirmed_at": rfc3339(form.confirmed_at),
            "form_sha256": form.form_sha256,
        },
    }


def attempt_view(attempt: Attempt) -> dict[str, Any]:
    return {
        "id": attempt.id,
        "step": attempt.step_index,
        "channel": attempt.channel,
        "address": mask_address(attempt.channel, attempt.address),
        "source": attempt.source.value,
        "state": attempt.state.value,
        "reason": attempt.reason,
        "provider_ref": attempt.provider_ref,
        "tries": attempt.tries,
        "created_at": _time(attempt.created_at),
        "sent_at": _time(attempt.sent_at),
    }


def event_view(event: Event) -> dict[str, Any]:
    return {
        "id": event.id,
        "seq": event.seq,
        "type": event.type,
        "attempt_id": event.attempt_id,
        "occurred_at": _time(event.occurred_at),
        "recorded_at": _time(event.recorded_at),
        "source": event.source,
        "actor": event.actor,
        "data": event.data,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


def notice_view(notice: NoticeText) -> dict[str, Any]:
    """A dispatch's public notice (delivery/storage/queries.py ``NoticeText``); while
    ``notice_pending``, ``text_sha256`` is what ``approve_notice`` must name (the text the
    supervisor reviewed)."""
    return {
        "id": notice.id,
        "state": notice.state,
        "title": notice.title,
        "body": notice.body,
        "text_sha256": notice_text_sha256(notice.title, notice.body),
        "first_published_at": _time(notice.first_published_at),
        "last_published_at": _time(notice.last_published_at),
        "deemed_served_at": _time(notice.deemed_served_at),
    }


def notice_text_sha256(title: str, body: str) -> str:
    """A notice's text as a supervisor approves it: title and body together (both are
    published), so an edit of either after review is noticed."""
    return hashlib.sha256(f"{title}\n{body}".encode()).hexdigest()
