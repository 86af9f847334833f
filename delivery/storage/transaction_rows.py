"""The rows of one dispatch transaction (delivery/storage/unit_of_work.py): what it reads of
its dispatch — the locked row with the chain's position, the attempts, the stored events — and
the row of each event it appends, linked to the chain by its hash."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from delivery.domain import Attempt, Dispatch, Event
from delivery.ids import new_id
from delivery.storage.rows import attempt_from_row, dispatch_from_row, event_from_row
from delivery.storage.statements import SELECT_ATTEMPTS, SELECT_DISPATCH_FOR_UPDATE, SELECT_EVENTS
from tracking.chain import hashed_fields, link_hash


async def locked_dispatch(
    conn: AsyncConnection, dispatch_id: str
) -> tuple[Dispatch, int, str] | None:
    """The dispatch (without its contacts, read on demand), locked for the transaction, with
    the seq and hash of the last event of its chain; None when there is no such dispatch."""
    row = (
        (await conn.execute(SELECT_DISPATCH_FOR_UPDATE, {"dispatch_id": dispatch_id}))
        .mappings()
        .first()
    )
    if row is None:
        return None
    return dispatch_from_row(row, []), row["event_seq"], row["chain_head"]


async def load_attempts(conn: AsyncConnection, dispatch_id: str) -> list[Attempt]:
    rows = await conn.execute(SELECT_ATTEMPTS, {"dispatch_id": dispatch_id})
    return [attempt_from_row(r) for r in rows.mappings()]


async def load_events(conn: AsyncConnection, dispatch_id: str) -> list[Event]:
    rows = await conn.execute(SELECT_EVENTS, {"dispatch_id": dispatch_id})
    return [event_from_row(r) for r in rows.mappings()]


def chained_event(
    head: str,
    *,
    dispatch_id: str,
    seq: int,
    type: str,
    occurred_at: datetime,
    recorded_at: datetime,
    source: str,
    actor: str | None,
    attempt_id: str | None,
    data: dict[str, Any],
) -> dict[str, Any]:
    """The ``events`` row of a new event that follows the event whose hash is ``head``: its
    ``hash`` covers ``head`` and the event's fields (tracking/chain.py)."""
    fields = hashed_fields(
        id=new_id(),
        dispatch_id=dispatch_id,
        seq=seq,
        type=type,
        occurred_at=occurred_at,
        recorded_at=recorded_at,
        source=source,
        actor=actor,
        attempt_id=attempt_id,
        data=data,
    )
    return {
        "id": fields["id"],
        "dispatch_id": dispatch_id,
        "seq": seq,
        "attempt_id": attempt_id,
        "type": type,
        "occurred_at": occurred_at,
        "recorded_at": recorded_at,
        "source": source,
        "actor": actor,
        "data": json.dumps(data, ensure_ascii=False, sort_keys=True),
        "prev_hash": head,
        "hash": link_hash(head, fields),
    }
