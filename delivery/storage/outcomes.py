"""The projection of the outcome events that the success-rate reports read: ``service_outcomes``.

Why it exists: the reports' speed (issue 6, point 10: a year's report over 100,000 dispatches in
under a second). Read from the events themselves, a report parses the JSON data of every
``dispatch_served`` event of the period (which also carries the service's periods and reading)
and joins each outcome to the dispatch's attempts (serving step, first step, last channel): most
of a second on its own. This table holds, per outcome event, the few facts the figures use, so
a report reads one narrow row per outcome and nothing else.

It is an index of the evidence chain, not a counter: one row per outcome event (the event's
id is its key), written by :meth:`DispatchTransaction.flush` in the same transaction as the
event, from the event's own data and the dispatch's attempts at that moment; never deleted —
like the events. Migration 0005 fills it for the events recorded before it existed, with the
same :func:`outcome_row`. docs/decisions/0013-service-reports.md.

Two columns are kept on write rather than fixed (migration 0018, docs/decisions/0053): each
dispatch's latest outcome row is marked ``standing`` — the outcome a report counts — and holds
the dispatch's owner (``owner_id``, the clerk a report groups it under), which a reassignment
updates; a newer outcome takes both over (:func:`mark_standing`). At a million dispatches a
report then reads the rows it counts, instead of sorting a year's outcomes to find each
dispatch's latest and joining a year's ownership events to find its owner.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from delivery.domain import CANCELLED_EVENT, FAILED_EVENT, SERVED_EVENT
from delivery.vocabulary import EventType


class AttemptFacts(NamedTuple):
    """What the projection reads of an attempt (immutable columns: ``rows.ATTEMPT_MUTABLE``
    holds neither)."""

    id: str
    step_index: int
    channel: str


def outcome_row(
    event: Mapping[str, Any],
    court: str,
    dispatch_created_at: datetime,
    attempts: Sequence[AttemptFacts],
) -> dict[str, Any]:
    """The ``service_outcomes`` row of ``event``, an outcome event (an events row: id,
    dispatch_id, seq, type, occurred_at, data as JSON text), given its dispatch's court and
    creation and the dispatch's attempts when it was recorded.

    ``channel``: the serving channel (the event's data) for a service, the channel of the
    last attempt (highest id: ids grow with time) for a failure or a cancellation, else None;
    ``served_step``: the step of the serving attempt; ``first_step``: the lowest step of the
    dispatch's attempts."""
    type_ = event["type"]
    channel = served_at = served_step = None
    if type_ == SERVED_EVENT:
        data = json.loads(event["data"])
        channel = data.get("channel")
        served_at = datetime.fromisoformat(data["served_at"]) if data.get("served_at") else None
        serving = data.get("attempt_id")
        served_step = next((a.step_index for a in attempts if a.id == serving), None)
    elif type_ in (FAILED_EVENT, CANCELLED_EVENT) and attempts:
        channel = max(attempts).channel
    return {
        "event_id": event["id"],
        "dispatch_id": event["dispatch_id"],
        "seq": event["seq"],
        "type": type_,
        "occurred_at": event["occurred_at"],
        "court": court,
        "dispatch_created_at": dispatch_created_at,
        "channel": channel,
        "served_at": served_at,
        "served_step": served_step,
        "first_step": min((a.step_index for a in attempts), default=None),
    }


def with_report_facts(row: Mapping[str, Any]) -> dict[str, Any]:
    """An outcome row (:func:`outcome_row`) with what a report filters and ranks it by, stored
    with it (migration 0018): ``dated_at``, the instant its date is taken from — the legal
    instant of service, else when it was recorded — and ``time_to_service_us``, the whole
    microseconds from the dispatch's creation to its service (None unless served at a known
    instant)."""
    served_at = row["served_at"]
    if row["type"] != SERVED_EVENT or served_at is None:
        return {**row, "dated_at": row["occurred_at"], "time_to_service_us": None}
    elapsed = (served_at - row["dispatch_created_at"]) // MICROSECOND
    return {**row, "dated_at": served_at, "time_to_service_us": elapsed}


def service_reach(
    event: Mapping[str, Any], confirmed_attempts: Collection[str], reply_ids: Collection[str]
) -> dict[str, bool]:
    """What served: for ``dispatch_served``, whether the serving attempt's address came from a
    signed address confirmation form (``confirmed_address``: its attempt id is among
    ``confirmed_attempts``, CPL-INT-136/137) and whether the completing event was the
    recipient's reply (``by_reply``: among ``reply_ids``, the dispatch's ``reply_received``
    events, OLR-31 and docs/decisions/0042). Both false for any other outcome. Columns added
    by migration 0014; :func:`outcome_row` stays as migration 0005 filled the table."""
    if event["type"] != SERVED_EVENT:
        return {"confirmed_address": False, "by_reply": False}
    data = json.loads(event["data"])
    return {
        "confirmed_address": data.get("attempt_id") in confirmed_attempts,
        "by_reply": data.get("completing_event_id") in reply_ids,
    }


MICROSECOND = timedelta(microseconds=1)
REPLY_EVENT = EventType.REPLY_RECEIVED
# The events that change a dispatch's owner (the standing row's ``owner_id``).
OWNER_EVENTS = (EventType.OWNER_ASSIGNED, EventType.OWNER_REASSIGNED)


def mark_standing(
    rows: Sequence[dict[str, Any]], owners: Mapping[str, str | None]
) -> list[dict[str, Any]]:
    """``rows`` (new outcome rows, of one or several dispatches, in seq order per dispatch) with
    ``standing`` set on each dispatch's latest and its owner (``owners``, by dispatch id)
    beside it; the dispatch's earlier standing row, if any, is unmarked by the caller first."""
    latest = {row["dispatch_id"]: row["seq"] for row in rows}
    marked = []
    for row in rows:
        dispatch_id = row["dispatch_id"]
        standing = latest[dispatch_id] == row["seq"]
        owner = owners.get(dispatch_id) if standing else None
        marked.append({**row, "standing": standing, "owner_id": owner})
    return marked
