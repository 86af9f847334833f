"""The dispatch transaction as the services open it.

Storage's unit of work (delivery/storage/unit_of_work.py) writes a dispatch's state, its events
and the webhooks about them together; what a webhook shows of the dispatch and its attempts is the
API's shape (delivery/representations.py), given to it here so that storage depends on nothing
above it.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from delivery.clock import Clock
from delivery.representations import attempt_view, dispatch_summary
from delivery.storage import unit_of_work
from delivery.storage.engine import Engine
from delivery.storage.unit_of_work import DispatchTransaction, WebhookShapes

WEBHOOK_SHAPES = WebhookShapes(dispatch=dispatch_summary, attempt=attempt_view)


def dispatch_transaction(
    engine: Engine, clock: Clock, dispatch_id: str
) -> AbstractAsyncContextManager[DispatchTransaction]:
    """Lock one dispatch and yield its transaction (raises
    :class:`~delivery.storage.unit_of_work.DispatchNotFound`), written on a clean exit."""
    return unit_of_work.dispatch_transaction(engine, clock, dispatch_id, WEBHOOK_SHAPES)
