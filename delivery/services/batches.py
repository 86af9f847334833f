"""CSV batches as stored: one upload is one ``batches`` row (its row errors included), each valid
row a ``batch_rows`` row pointing at the dispatch it queued — or found again, when a re-upload
repeats a reference already queued (creation is idempotent on reference).

The progress of a batch is read from its dispatches and their attempts every time it is asked
for (no counter that could drift): ``queued`` — nothing has gone out yet; ``sent`` — at least
one attempt went out and service is not complete; ``served``, ``failed``, ``cancelled``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from delivery.context import Context
from delivery.domain import AttemptState, DispatchState
from delivery.ids import new_id
from delivery.storage import batches as stored_batches

RECENT = 50
# An attempt in one of these states has left Songda (a message sent, a letter posted).
WENT_OUT = tuple(
    s.value
    for s in (
        AttemptState.SENT,
        AttemptState.DELIVERED,
        AttemptState.READ,
        AttemptState.BOUNCED,
        AttemptState.RETURNED,
        AttemptState.REFUSED,
        AttemptState.EXPIRED,
    )
)
FINAL = {
    DispatchState.SERVED.value: "served",
    DispatchState.FAILED.value: "failed",
    DispatchState.CANCELLED.value: "cancelled",
}
PROGRESS = ("queued", "sent", "served", "failed", "cancelled")


@dataclass(frozen=True)
class QueuedRow:
    row: int
    reference: str
    dispatch_id: str


async def record_batch(
    ctx: Context,
    *,
    court: str,
    created_by: str,
    filename: str,
    encoding: str,
    rows_total: int,
    errors: list[dict[str, Any]],
    queued: list[QueuedRow],
    started_at: datetime,
) -> str:
    """Write the batch and its queued rows in one transaction; its id. ``started_at`` (when the
    upload began) tells the dispatches it created from those it found queued before."""
    batch_id = new_id()
    await stored_batches.insert_batch(
        ctx.engine,
        [
            {
                "batch_id": batch_id,
                "row_no": q.row,
                "reference": q.reference,
                "dispatch_id": q.dispatch_id,
            }
            for q in queued
        ],
        id=batch_id,
        court=court,
        created_by=created_by,
        filename=filename[:300],
        encoding=encoding,
        rows_total=rows_total,
        rows_invalid=len({e["row"] for e in errors}),
        errors=errors,
        created_at=started_at,
    )
    return batch_id


async def recent_batches(ctx: Context, courts: tuple[str, ...]) -> list[dict[str, Any]]:
    """The latest batches of ``courts``, newest first."""
    return await stored_batches.recent(ctx.engine, courts, RECENT)


async def batch(ctx: Context, batch_id: str, courts: tuple[str, ...]) -> dict[str, Any] | None:
    """The batch with its queued rows (each with its dispatch's state and whether this batch
    created it), or None when it is not one of ``courts``'."""
    return await stored_batches.batch(ctx.engine, batch_id, courts)


async def progress(ctx: Context, batch_id: str) -> dict[str, Any]:
    """How far the batch's dispatches have got: a count per :data:`PROGRESS` name, ``total``,
    and ``done`` once none is queued or under way."""
    rows = await stored_batches.state_counts(ctx.engine, batch_id, WENT_OUT)
    counts = dict.fromkeys(PROGRESS, 0)
    for state, sent, count in rows:
        name = FINAL.get(state) or ("sent" if sent else "queued")
        counts[name] += count
    total = sum(counts.values())
    return {**counts, "total": total, "done": counts["queued"] + counts["sent"] == 0}
