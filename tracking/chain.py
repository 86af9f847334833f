"""The evidence chain: each event is hashed together with the hash of the one before it.

``hash = sha256_hex(prev_hash + jcs(fields))`` where ``jcs`` is RFC 8785 canonical JSON of the
event's recorded fields (instants as RFC 3339 UTC with microseconds) and the first event's
``prev_hash`` is 64 zeros. Anyone holding the events can recompute the chain; changing, removing,
inserting or reordering one event breaks every hash after it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import rfc8785

from delivery.clock import rfc3339
from delivery.domain import Event

GENESIS = "0" * 64


def hashed_fields(
    *,
    id: str,
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
    """The fields an event's hash covers, in their canonical text form."""
    return {
        "id": id,
        "dispatch_id": dispatch_id,
        "seq": seq,
        "type": type,
        "occurred_at": rfc3339(occurred_at),
        "recorded_at": rfc3339(recorded_at),
        "source": source,
        "actor": actor,
        "attempt_id": attempt_id,
        "data": data,
    }


def canonical(value: Any) -> bytes:
    """RFC 8785 canonical JSON bytes."""
    return bytes(rfc8785.dumps(value))


def link_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + canonical(fields)).hexdigest()


def event_fields(event: Event) -> dict[str, Any]:
    return hashed_fields(
        id=event.id,
        dispatch_id=event.dispatch_id,
        seq=event.seq,
        type=event.type,
        occurred_at=event.occurred_at,
        recorded_at=event.recorded_at,
        source=event.source,
        actor=event.actor,
        attempt_id=event.attempt_id,
        data=event.data,
    )


@dataclass(frozen=True)
class ChainVerdict:
    valid: bool
    head: str
    count: int
    problem: str | None = None
    event_id: str | None = None


def verify_chain(events: Iterable[Event]) -> ChainVerdict:
    """Recompute a dispatch's chain in order; name the first event that does not match."""
    prev = GENESIS
    count = 0
    for expected_seq, event in enumerate(events, start=1):
        count = expected_seq
        if event.seq != expected_seq:
            return ChainVerdict(
                False, prev, count, f"sequence gap: expected {expected_seq}", event.id
            )
        if event.prev_hash != prev:
            return ChainVerdict(False, prev, count, "prev_hash does not match", event.id)
        if link_hash(prev, event_fields(event)) != event.hash:
            return ChainVerdict(False, prev, count, "hash does not match content", event.id)
        prev = event.hash
    return ChainVerdict(True, prev, count)
