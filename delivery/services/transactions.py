"""The dispatch transaction as the services open it.

Storage's unit of work (delivery/storage/unit_of_work.py) writes a dispatch's state, its events
and the webhooks about them together; what a webhook shows of the dispatch and its attempts is the
API's shape (delivery/representations.py), given to it here so that storage depends on nothing
above it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import TypeVar

from delivery.clock import Clock
from delivery.context import Context
from delivery.representations import attempt_view, dispatch_summary
from delivery.storage import unit_of_work
from delivery.storage.dispatch_batches import Prefetch
from delivery.storage.engine import Connection, Engine
from delivery.storage.unit_of_work import DispatchTransaction, WebhookShapes

WEBHOOK_SHAPES = WebhookShapes(dispatch=dispatch_summary, attempt=attempt_view)
T = TypeVar("T")


def dispatch_transaction(
    engine: Engine, clock: Clock, dispatch_id: str
) -> AbstractAsyncContextManager[DispatchTransaction]:
    """Lock one dispatch and yield its transaction (raises
    :class:`~delivery.storage.unit_of_work.DispatchNotFound`), written on a clean exit."""
    return unit_of_work.dispatch_transaction(engine, clock, dispatch_id, WEBHOOK_SHAPES)


async def grouped_transaction(
    ctx: Context, dispatch_id: str, work: Callable[[DispatchTransaction], Awaitable[T]]
) -> T:
    """``work`` on the dispatch's locked transaction, committed together with whatever other
    dispatches' works are queued at the same moment (group commit,
    delivery/storage/dispatch_batches.py); its result once committed. The work must only
    change the dispatch through its transaction: it may run twice (again alone, when another
    work of its batch fails)."""
    return await ctx.dispatch_batches.run(dispatch_id, work, ctx.clock, WEBHOOK_SHAPES)


async def grouped_creation(
    ctx: Context,
    dispatch_id: str,
    creation: Callable[
        [Connection, list[DispatchTransaction]], Awaitable[tuple[T, DispatchTransaction]]
    ],
    prefetch: Prefetch | None = None,
) -> T:
    """A new dispatch's transaction, built by ``creation`` on the connection it is given (with
    the batch's transactions before it) and committed with the other dispatches queued at the
    same moment (group commit). It may run twice: it must build the dispatch afresh each
    time. ``prefetch``: what it reads first, read once for the batch's new dispatches."""
    return await ctx.dispatch_batches.create(
        dispatch_id, creation, ctx.clock, WEBHOOK_SHAPES, prefetch
    )
