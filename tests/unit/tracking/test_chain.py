"""The evidence chain (design.md, "Event"): hash = sha256_hex(prev_hash + RFC 8785(fields))."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import rfc8785

from delivery.domain import Event
from tracking.chain import GENESIS, event_fields, hashed_fields, link_hash, verify_chain

T0 = datetime(2026, 3, 2, 1, 2, 3, 456789, tzinfo=UTC)


def make_event(
    seq: int, prev_hash: str, *, data: dict[str, Any] | None = None, event_id: str | None = None
) -> Event:
    """An event whose hash is computed with the module's own helpers, as storage does."""
    occurred = T0 + timedelta(minutes=seq)
    fields: dict[str, Any] = {
        "id": event_id or f"e{seq}",
        "dispatch_id": "d1",
        "seq": seq,
        "type": f"type_{seq}",
        "occurred_at": occurred,
        "recorded_at": occurred + timedelta(seconds=1),
        "source": "test",
        "actor": None,
        "attempt_id": "a1" if seq > 1 else None,
        "data": {"n": seq} if data is None else data,
    }
    digest = link_hash(prev_hash, hashed_fields(**fields))
    return Event(**fields, prev_hash=prev_hash, hash=digest)


def make_chain(n: int = 3) -> list[Event]:
    events: list[Event] = []
    prev = GENESIS
    for seq in range(1, n + 1):
        events.append(make_event(seq, prev))
        prev = events[-1].hash
    return events


def test_genesis_is_64_zeros() -> None:
    assert GENESIS == "0" * 64


def test_first_hash_matches_an_independent_computation() -> None:
    """sha256 over the prev hash text and the RFC 8785 bytes of the fields, times in UTC µs."""
    first = make_chain(1)[0]
    fields: dict[str, Any] = {
        "id": "e1",
        "dispatch_id": "d1",
        "seq": 1,
        "type": "type_1",
        "occurred_at": "2026-03-02T01:03:03.456789Z",
        "recorded_at": "2026-03-02T01:03:04.456789Z",
        "source": "test",
        "actor": None,
        "attempt_id": None,
        "data": {"n": 1},
    }
    expected = hashlib.sha256(("0" * 64).encode() + rfc8785.dumps(fields)).hexdigest()
    assert first.hash == expected
    assert event_fields(first) == fields


def test_second_hash_chains_on_the_first() -> None:
    first, second = make_chain(2)
    expected = hashlib.sha256(first.hash.encode() + rfc8785.dumps(event_fields(second))).hexdigest()
    assert second.prev_hash == first.hash
    assert second.hash == expected


def test_times_are_hashed_in_utc_whatever_their_zone() -> None:
    shanghai = timezone(timedelta(hours=8))
    event = make_chain(1)[0]
    shifted = replace(
        event,
        occurred_at=event.occurred_at.astimezone(shanghai),
        recorded_at=event.recorded_at.astimezone(shanghai),
    )
    assert event_fields(shifted) == event_fields(event)
    assert verify_chain([shifted]).valid


def test_intact_chain_is_valid_and_head_is_last_hash() -> None:
    events = make_chain(3)
    verdict = verify_chain(events)
    assert verdict.valid
    assert verdict.head == events[-1].hash
    assert verdict.count == 3
    assert verdict.problem is None
    assert verdict.event_id is None


def test_empty_chain_is_valid_with_genesis_head() -> None:
    verdict = verify_chain([])
    assert (verdict.valid, verdict.head, verdict.count) == (True, GENESIS, 0)


def _changed_data(events: list[Event]) -> list[Event]:
    e1, e2, e3 = events
    return [e1, replace(e2, data={"n": 99}), e3]


def _changed_data_and_rehashed(events: list[Event]) -> list[Event]:
    e1, _, e3 = events
    forged = make_event(2, e1.hash, data={"n": 99})
    return [e1, forged, e3]


def _reordered(events: list[Event]) -> list[Event]:
    e1, e2, e3 = events
    return [e1, e3, e2]


def _reordered_and_renumbered(events: list[Event]) -> list[Event]:
    e1, e2, e3 = events
    return [e1, replace(e3, seq=2), replace(e2, seq=3)]


def _first_deleted(events: list[Event]) -> list[Event]:
    return events[1:]


def _inserted(events: list[Event]) -> list[Event]:
    e1, e2, e3 = events
    intruder = make_event(2, e1.hash, event_id="intruder")
    return [e1, intruder, e2, e3]


def _inserted_and_renumbered(events: list[Event]) -> list[Event]:
    e1, e2, e3 = events
    intruder = make_event(2, e1.hash, event_id="intruder")
    return [e1, intruder, replace(e2, seq=3), replace(e3, seq=4)]


def _prev_hash_changed(events: list[Event]) -> list[Event]:
    """Event 3 re-pointed at another parent and re-hashed so its own hash is consistent."""
    e1, e2, _ = events
    return [e1, e2, make_event(3, e1.hash)]


def _hash_replaced(events: list[Event]) -> list[Event]:
    e1, e2, e3 = events
    return [e1, e2, replace(e3, hash="f" * 64)]


@pytest.mark.parametrize(
    ("tamper", "event_id", "problem", "good_prefix"),
    [
        (_changed_data, "e2", "hash does not match content", 1),
        (_changed_data_and_rehashed, "e3", "prev_hash does not match", 2),
        (_reordered, "e3", "sequence gap: expected 2", 1),
        (_reordered_and_renumbered, "e3", "prev_hash does not match", 1),
        (_first_deleted, "e2", "sequence gap: expected 1", 0),
        (_inserted, "e2", "sequence gap: expected 3", 2),
        (_inserted_and_renumbered, "e2", "prev_hash does not match", 2),
        (_prev_hash_changed, "e3", "prev_hash does not match", 2),
        (_hash_replaced, "e3", "hash does not match content", 2),
    ],
    ids=lambda v: v.__name__.strip("_") if callable(v) else None,
)
def test_tampering_is_detected_and_named(
    tamper: Any, event_id: str, problem: str, good_prefix: int
) -> None:
    events = make_chain(3)
    tampered = tamper(events)
    verdict = verify_chain(tampered)
    assert not verdict.valid
    assert verdict.event_id == event_id
    assert verdict.problem == problem
    # The head reported is the last hash that still verified.
    assert verdict.head == (tampered[good_prefix - 1].hash if good_prefix else GENESIS)
