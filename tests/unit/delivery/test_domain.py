"""State machines of delivery.domain: dispatches and attempts (design.md, "The domain")."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TypeVar

import pytest

from delivery.domain import (
    Attempt,
    AttemptState,
    Contact,
    ContactKind,
    ContactSource,
    Dispatch,
    DispatchState,
    IllegalTransition,
)
from unit.builders import a_dispatch

D = DispatchState
A = AttemptState
S = TypeVar("S", DispatchState, AttemptState)
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)

# The specification, written out by hand rather than read from the module's own tables.
ALLOWED_DISPATCH = {
    D.QUEUED: {D.IN_PROGRESS, D.FAILED, D.CANCELLED},
    D.IN_PROGRESS: {D.NOTICE_PENDING, D.SERVED, D.FAILED, D.CANCELLED},
    D.NOTICE_PENDING: {D.IN_PROGRESS, D.SERVED, D.FAILED, D.CANCELLED},  # escalated past notice
    D.SERVED: {D.IN_PROGRESS},  # reversal by rebuttal or bounce
    D.FAILED: set(),  # but see the CPL-INT-140 exception below
    D.CANCELLED: set(),
}
_ENDINGS = {A.FAILED, A.EXPIRED, A.CANCELLED}
ALLOWED_ATTEMPT = {
    A.PENDING: {A.SENDING, A.SENT} | _ENDINGS,  # SENT: the court's own channels
    A.SENDING: {A.PENDING, A.SENT} | _ENDINGS,
    A.SENT: {A.DELIVERED, A.READ, A.BOUNCED, A.RETURNED, A.REFUSED} | _ENDINGS,
    A.DELIVERED: {A.READ, A.BOUNCED, A.EXPIRED, A.CANCELLED},
    # A carrier's delivery report correcting its own failure report (docs/decisions/0023).
    A.FAILED: {A.DELIVERED},
    **{s: set() for s in (A.READ, A.BOUNCED, A.RETURNED, A.REFUSED, A.EXPIRED)},
    A.CANCELLED: set(),
}


def make_dispatch(state: DispatchState, contacts: list[Contact] | None = None) -> Dispatch:
    return a_dispatch(state=state, created_at=T0, contacts=contacts or [])


def make_attempt(state: AttemptState) -> Attempt:
    return Attempt(
        id="a1",
        dispatch_id="d1",
        step_index=0,
        channel="email",
        contact_id="c1",
        address="x@example.com",
        source=ContactSource.RECIPIENT_CONFIRMED,
        state=state,
        created_at=T0,
    )


def pairs(table: Mapping[S, set[S]], allowed: bool) -> list[tuple[S, S]]:
    return [(a, b) for a, b in itertools.product(table, repeat=2) if (b in table[a]) == allowed]


def test_tables_cover_every_state() -> None:
    assert set(ALLOWED_DISPATCH) == set(DispatchState)
    assert set(ALLOWED_ATTEMPT) == set(AttemptState)


@pytest.mark.parametrize(("current", "new"), pairs(ALLOWED_DISPATCH, allowed=True))
def test_dispatch_allowed_transition(current: DispatchState, new: DispatchState) -> None:
    dispatch = make_dispatch(current)
    dispatch.transition(new, reason="why")
    assert dispatch.state == new
    assert dispatch.state_reason == "why"


@pytest.mark.parametrize(("current", "new"), pairs(ALLOWED_DISPATCH, allowed=False))
def test_dispatch_illegal_transition_raises(current: DispatchState, new: DispatchState) -> None:
    dispatch = make_dispatch(current)
    with pytest.raises(IllegalTransition):
        dispatch.transition(new, reason="why")
    assert dispatch.state == current
    assert dispatch.state_reason is None


@pytest.mark.parametrize(("current", "new"), pairs(ALLOWED_ATTEMPT, allowed=True))
def test_attempt_allowed_transition(current: AttemptState, new: AttemptState) -> None:
    attempt = make_attempt(current)
    attempt.transition(new, reason="why")
    assert attempt.state == new
    assert attempt.reason == "why"


@pytest.mark.parametrize(("current", "new"), pairs(ALLOWED_ATTEMPT, allowed=False))
def test_attempt_illegal_transition_raises(current: AttemptState, new: AttemptState) -> None:
    attempt = make_attempt(current)
    with pytest.raises(IllegalTransition):
        attempt.transition(new)
    assert attempt.state == current


@pytest.mark.parametrize(
    ("current", "new"),
    [
        (D.CANCELLED, D.SERVED),
        (D.SERVED, D.FAILED),
        (D.SERVED, D.CANCELLED),
        (D.QUEUED, D.SERVED),
        (D.NOTICE_PENDING, D.QUEUED),
        (D.CANCELLED, D.IN_PROGRESS),
    ],
)
def test_named_illegal_dispatch_transitions(current: DispatchState, new: DispatchState) -> None:
    with pytest.raises(IllegalTransition, match=f"from {current} to {new}"):
        make_dispatch(current).transition(new)


@pytest.mark.parametrize(
    ("current", "new"),
    [(A.READ, A.SENT), (A.BOUNCED, A.SENT), (A.CANCELLED, A.SENDING), (A.DELIVERED, A.SENT)],
)
def test_named_illegal_attempt_transitions(current: AttemptState, new: AttemptState) -> None:
    with pytest.raises(IllegalTransition, match=f"from {current} to {new}"):
        make_attempt(current).transition(new)


def test_a_failed_dispatch_stays_failed_unless_it_awaits_ordinary_procedure() -> None:
    """Final — except a simplified-procedure case that converts (CPL-INT-140): its dispatch
    failed only because public notice was out of reach, and the ladder goes on."""
    exhausted = make_dispatch(D.FAILED)
    exhausted.state_reason = "exhausted"
    with pytest.raises(IllegalTransition, match="stays failed"):
        exhausted.transition(D.IN_PROGRESS)
    converting = make_dispatch(D.FAILED)
    converting.state_reason = "requires_ordinary_procedure"
    converting.transition(D.IN_PROGRESS)
    assert converting.state == D.IN_PROGRESS


def test_served_dispatch_can_be_reversed_to_in_progress() -> None:
    """A rebuttal or a bounce proving non-arrival un-serves (OLR-31, CPL-INT-135)."""
    dispatch = make_dispatch(D.SERVED)
    dispatch.transition(D.IN_PROGRESS, reason="rebuttal")
    assert dispatch.state == D.IN_PROGRESS
    assert dispatch.state_reason == "rebuttal"


@pytest.mark.parametrize(
    ("state", "is_open"),
    [
        (D.QUEUED, True),
        (D.IN_PROGRESS, True),
        (D.NOTICE_PENDING, True),
        (D.SERVED, False),
        (D.FAILED, False),
        (D.CANCELLED, False),
    ],
)
def test_dispatch_is_open(state: DispatchState, is_open: bool) -> None:
    assert make_dispatch(state).is_open is is_open


def test_contacts_of_filters_by_kind() -> None:
    email = Contact("c1", ContactKind.EMAIL, "x@example.com", ContactSource.COURT_FOUND)
    phone = Contact("c2", ContactKind.PHONE, "+8613800138000", ContactSource.RECIPIENT_CONFIRMED)
    dispatch = make_dispatch(D.QUEUED, [email, phone])
    assert dispatch.contacts_of(ContactKind.EMAIL) == [email]
    assert dispatch.contacts_of(ContactKind.PHONE) == [phone]
    assert dispatch.contacts_of(ContactKind.POSTAL) == []
