"""The vocabulary (delivery/vocabulary.py): its members are their strings byte for byte, an
unknown event type cannot be recorded, and no code matches on a bare string of it — a misspelt
``"postal_deliverd"`` in a rule would silently never serve."""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from delivery.clock import ManualClock
from delivery.services.transactions import WEBHOOK_SHAPES
from delivery.storage.unit_of_work import DispatchTransaction
from delivery.vocabulary import (
    AttemptState,
    Channel,
    DispatchState,
    EventType,
    WebhookEventType,
)
from tracking.chain import GENESIS, canonical, hashed_fields, link_hash
from unit.builders import a_dispatch

ROOT = Path(__file__).resolve().parents[3]
SOURCE_ROOTS = ("delivery", "channels", "escalation", "tracking", "templates", "bench")
VOCABULARY = ROOT / "delivery" / "vocabulary.py"
NAMES = {m.value for m in EventType} | {m.value for m in Channel}
# The calls that record or select events by type, and the position of their event type argument.
RECORDING_CALLS = {
    "of_type": 0,
    "record": 0,
    "change_attempt": 2,
    "change_dispatch": 1,
    "_record": 1,
    "_record_unless_repeated": 1,
}
T0 = datetime(2026, 3, 2, 1, 2, 3, 456789, tzinfo=UTC)


def _as_plain(value: Any) -> Any:
    """The same value with every enum member replaced by its plain string."""
    if isinstance(value, StrEnum):
        return str.__str__(value)
    if isinstance(value, dict):
        return {_as_plain(k): _as_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_as_plain(v) for v in value]
    return value


@pytest.mark.parametrize(
    "members",
    [list(EventType), list(WebhookEventType), list(Channel), list(DispatchState)],
    ids=["events", "webhooks", "channels", "states"],
)
def test_members_serialise_as_their_strings(members: list[StrEnum]) -> None:
    """Stored rows, webhook bodies and evidence hashes stay the bytes they were with strings."""
    payload = {"types": members, **{m: {"state": AttemptState.SENT, "of": m} for m in members}}
    plain = _as_plain(payload)
    assert type(plain["types"][0]) is str
    assert canonical(payload) == canonical(plain)
    for options in ({}, {"ensure_ascii": False, "sort_keys": True}):
        assert json.dumps(payload, **options) == json.dumps(plain, **options)


def test_an_event_hashes_the_same_with_a_member_or_its_string() -> None:
    def fields(event_type: str) -> dict[str, Any]:
        return hashed_fields(
            id="e1",
            dispatch_id="d1",
            seq=1,
            type=event_type,
            occurred_at=T0,
            recorded_at=T0,
            source="api",
            actor=None,
            attempt_id="a1",
            data={"channel": Channel.POSTAL, "state": AttemptState.DELIVERED},
        )

    member = fields(EventType.POSTAL_DELIVERED)
    plain = _as_plain(fields("postal_delivered"))
    assert link_hash(GENESIS, member) == link_hash(GENESIS, plain)


def _transaction() -> DispatchTransaction:
    # Recording only buffers: no connection is touched until the transaction is written.
    return DispatchTransaction(
        cast(AsyncConnection, None),
        a_dispatch(),
        seq=0,
        head=GENESIS,
        clock=ManualClock(T0),
        shapes=WEBHOOK_SHAPES,
    )


def test_recording_an_unknown_event_type_fails_naming_it() -> None:
    tx = _transaction()
    with pytest.raises(ValueError, match="'postal_deliverd'"):
        tx.record("postal_deliverd", source="test")
    assert tx.chain_seq == 0
    tx.record(EventType.POSTAL_DELIVERED, source="test")
    tx.record("postal_delivered", source="test")
    assert tx.chain_seq == 2


def _sources() -> Iterator[Path]:
    for root in SOURCE_ROOTS:
        for path in sorted((ROOT / root).rglob("*.py")):
            if path != VOCABULARY and "migrations" not in path.parts:
                yield path


def _strings(node: ast.AST | None) -> list[str]:
    """The string constants of a literal, or of a tuple, list or set literal."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return [s for e in node.elts for s in _strings(e)]
    return []


def _event_type_argument(call: ast.Call) -> ast.AST | None:
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    keywords = {k.arg: k.value for k in call.keywords}
    if "event_type" in keywords:
        return keywords["event_type"]
    at = RECORDING_CALLS.get(name or "")
    return call.args[at] if at is not None and len(call.args) > at else None


def bare_names(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, string) of each bare vocabulary string matched on, or recorded as an event type."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            for op, left, right in zip(node.ops, operands, operands[1:], strict=False):
                if isinstance(op, ast.Eq | ast.NotEq | ast.In | ast.NotIn):
                    for s in _strings(left) + _strings(right):
                        if s in NAMES:
                            yield node.lineno, s
        elif isinstance(node, ast.MatchValue):
            yield from ((node.lineno, s) for s in _strings(node.value) if s in NAMES)
        elif isinstance(node, ast.Call):
            # Any string literal here: a misspelt type is exactly what must not pass.
            yield from ((node.lineno, s) for s in _strings(_event_type_argument(node)))


def test_the_scan_finds_bare_names() -> None:
    code = """
if event.type == "notice_published" or attempt.channel != "email": pass
if e.type in {"postal_refused", "x"}: pass
match channel:
    case "sms": pass
tx.record("postal_deliverd", source="s")
tx.change_attempt(attempt, state, "attempt_sent", source="s")
tx.change_dispatch(state, event_type="dispatch_served", source="s")
if status == "delivered" and e.type == EventType.NOTICE_PUBLISHED: pass
"""
    assert sorted(bare_names(ast.parse(code))) == [
        (2, "email"),
        (2, "notice_published"),
        (3, "postal_refused"),
        (5, "sms"),
        (6, "postal_deliverd"),
        (7, "attempt_sent"),
        (8, "dispatch_served"),
    ]


def test_no_code_matches_on_a_bare_event_type_or_channel() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}: {name!r}"
        for path in _sources()
        for line, name in bare_names(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert not found, "use the delivery.vocabulary member instead of:\n" + "\n".join(found)
