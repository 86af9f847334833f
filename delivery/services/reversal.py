"""Reversing service: back to ``in_progress`` with the reason, and the ladder resumes.

Service is reversed only by proof that it did not happen — a bounce for the message whose
acceptance was the service (CPL-INT-135), or a recorded rebuttal (OLR-31).
"""

from __future__ import annotations

from typing import Any

from delivery.clock import rfc3339
from delivery.domain import DispatchState, Event
from delivery.services.certificates import supersede
from delivery.storage.unit_of_work import DispatchTransaction
from delivery.vocabulary import EventType, WebhookEventType


async def completing_event(tx: DispatchTransaction) -> Event | None:
    """The ``dispatch_served`` event of the service now standing, if the dispatch is served."""
    if tx.dispatch.state != DispatchState.SERVED:
        return None
    served = [e for e in await tx.events() if e.type == EventType.DISPATCH_SERVED]
    return served[-1] if served else None


def unserve(
    tx: DispatchTransaction,
    served: Event,
    *,
    reason: str,
    source: str,
    actor: str,
    data: dict[str, Any],
) -> None:
    dispatch = tx.dispatch
    reversed_service = {
        "served_at": rfc3339(dispatch.served_at) if dispatch.served_at else None,
        "legal_basis": dispatch.legal_basis,
        "served_event_id": served.id,
    }
    dispatch.served_at = None
    dispatch.service_date = None
    dispatch.served_by_channel = None
    dispatch.legal_basis = None
    dispatch.periods = None
    tx.change_dispatch(
        DispatchState.IN_PROGRESS,
        EventType.DISPATCH_UNSERVED,
        source=source,
        actor=actor,
        reason=reason,
        data={**data, "reversed": reversed_service},
    )
    tx.notify(WebhookEventType.DISPATCH_UNSERVED, {"reason": reason})
    # The certificate of the reversed service is kept, marked superseded.
    supersede(tx)
