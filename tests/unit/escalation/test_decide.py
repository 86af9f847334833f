"""Table tests of the pure ``decide`` and of the completion rules (domain.md, OLR-29..31)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from delivery.domain import (
    Attempt,
    AttemptState,
    Contact,
    ContactKind,
    ContactSource,
    Dispatch,
    DispatchState,
    Event,
)
from escalation.actions import (
    Action,
    CloseAttempt,
    CompleteService,
    Fail,
    NewAttempt,
    SkipStep,
    StartStep,
    WaitUntil,
)
from escalation.decide import decide
from escalation.policy import parse_policy
from escalation.rules import (
    Completion,
    earliest_completion,
    olr31_confirmed_email_accepted,
    olr31_read_after_identity_check,
)
from unit.builders import a_dispatch

CONFIRMED = ContactSource.RECIPIENT_CONFIRMED
FOUND = ContactSource.COURT_FOUND
# The one-step e-mail ladder of the foundation: these tests are about the engine, not about
# the shipped ladders (tested below and in test_escalation_policy.py).
POLICY = parse_policy(
    {
        "name": "email-only",
        "steps": [
            {
                "name": "electronic",
                "channels": ["email"],
                "window_days": 3,
                "completion": ["OLR-31"],
            }
        ],
    },
    "test",
)
WINDOW = timedelta(days=3)
STARTED = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
NOW = STARTED + timedelta(hours=6)
T1 = STARTED + timedelta(minutes=1)
T2 = STARTED + timedelta(hours=2)
T3 = STARTED + timedelta(hours=4)

CONFIRMED_EMAIL = Contact("c-confirmed", ContactKind.EMAIL, "me@example.com", CONFIRMED)
FOUND_EMAIL = Contact("c-found", ContactKind.EMAIL, "found@example.com", FOUND)
PHONE = Contact("c-phone", ContactKind.PHONE, "+8613800138000", CONFIRMED)
POSTAL = Contact("c-postal", ContactKind.POSTAL, "杭州市西湖区 1 号", CONFIRMED)


def dispatch(
    state: DispatchState = DispatchState.IN_PROGRESS,
    *,
    consent: bool = True,
    contacts: tuple[Contact, ...] = (CONFIRMED_EMAIL,),
) -> Dispatch:
    started = state != DispatchState.QUEUED
    return a_dispatch(
        state=state,
        consent_given=consent,
        consent_basis="express" if consent else None,
        created_at=STARTED,
        contacts=list(contacts),
        step_index=0 if started else None,
        step_started_at=STARTED if started else None,
    )


def attempt(
    attempt_id: str,
    source: ContactSource = CONFIRMED,
    state: AttemptState = AttemptState.SENT,
    *,
    channel: str = "email",
) -> Attempt:
    return Attempt(
        id=attempt_id,
        dispatch_id="d1",
        step_index=0,
        channel=channel,
        contact_id=f"c-{attempt_id}",
        address="x@example.com",
        source=source,
        state=state,
        created_at=STARTED,
    )


def event(event_id: str, type_: str, at: datetime, attempt_id: str | None) -> Event:
    return Event(
        id=event_id,
        dispatch_id="d1",
        seq=1,
        type=type_,
        occurred_at=at,
        recorded_at=NOW,
        source="test",
        actor=None,
        attempt_id=attempt_id,
        data={},
        prev_hash="p",
        hash="h",
    )


def sent(event_id: str, at: datetime, attempt_id: str) -> Event:
    return event(event_id, "attempt_sent", at, attempt_id)


def read(event_id: str, at: datetime, attempt_id: str) -> Event:
    return event(event_id, "identity_verified", at, attempt_id)


def completion_of(actions: list[Action]) -> Completion:
    assert actions, "expected CompleteService first"
    assert isinstance(actions[0], CompleteService)
    return actions[0].completion


# --- starting and skipping steps ----------------------------------------------------------


def test_queued_with_consent_and_confirmed_email_starts_the_electronic_step() -> None:
    actions = decide(dispatch(DispatchState.QUEUED), [], [], NOW, POLICY)
    assert actions == [
        StartStep(0, "electronic", (NewAttempt("email", CONFIRMED_EMAIL.id),)),
        WaitUntil(NOW + WINDOW),
    ]


def test_start_tries_every_email_address_together() -> None:
    """Policy windows: step 1 goes to every consented address at once."""
    queued = dispatch(DispatchState.QUEUED, contacts=(CONFIRMED_EMAIL, PHONE, FOUND_EMAIL))
    (start, _) = decide(queued, [], [], NOW, POLICY)
    assert isinstance(start, StartStep)
    assert start.attempts == (
        NewAttempt("email", CONFIRMED_EMAIL.id),
        NewAttempt("email", FOUND_EMAIL.id),
    )


@pytest.mark.parametrize(
    ("consent", "contacts", "reason"),
    [
        (False, (CONFIRMED_EMAIL,), "no_e_service_consent"),
        (True, (PHONE, POSTAL), "no_address"),
        (True, (), "no_address"),
    ],
    ids=["OLR-29-no-consent", "no-email", "no-contacts"],
)
def test_nothing_to_try_skips_the_step_and_fails(
    consent: bool, contacts: tuple[Contact, ...], reason: str
) -> None:
    """OLR-29/30: without recorded consent there is no e-service step."""
    queued = dispatch(DispatchState.QUEUED, consent=consent, contacts=contacts)
    assert decide(queued, [], [], NOW, POLICY) == [
        SkipStep(0, "electronic", reason),
        Fail("exhausted"),
    ]


def test_skipped_steps_lead_to_the_next_usable_step() -> None:
    policy = parse_policy(
        {
            "name": "two-steps",
            "steps": [
                {"name": "electronic", "channels": ["email"], "window_days": 3, "completion": []},
                {"name": "postal", "channels": ["postal"], "window_days": 10, "completion": []},
            ],
        },
        "test",
    )
    queued = dispatch(DispatchState.QUEUED, consent=False, contacts=(CONFIRMED_EMAIL, POSTAL))
    assert decide(queued, [], [], NOW, policy) == [
        SkipStep(0, "electronic", "no_e_service_consent"),
        StartStep(1, "postal", (NewAttempt("postal", POSTAL.id),)),
        WaitUntil(NOW + timedelta(days=10)),
    ]


# --- completion (OLR-31, CPL-INT-135) -----------------------------------------------------


def test_confirmed_email_is_served_when_sent_cpl_int_135() -> None:
    """OLR-31 + CPL-INT-135: a recipient-confirmed address is served on successful sending."""
    actions = decide(dispatch(), [attempt("a1")], [sent("e1", T1, "a1")], NOW, POLICY)
    assert completion_of(actions) == Completion(
        "OLR-31",
        "a1",
        "email",
        T1,
        "e1",
        "recipient-confirmed address; accepted by the court's mail server (CPL-INT-135)",
    )


def test_service_closes_the_other_open_attempts() -> None:
    attempts = [
        attempt("a1"),
        attempt("a2", FOUND, AttemptState.PENDING),
        attempt("a3", FOUND, AttemptState.FAILED),
    ]
    actions = decide(dispatch(), attempts, [sent("e1", T1, "a1")], NOW, POLICY)
    assert CloseAttempt("a2", "cancelled", "service_completed") in actions
    assert not any(isinstance(a, CloseAttempt) and a.attempt_id == "a3" for a in actions)
    assert not any(isinstance(a, (WaitUntil, Fail, StartStep)) for a in actions)


def test_completing_attempt_is_not_cancelled() -> None:
    """The attempt that served stays ``sent``: a later bounce must still be recordable on it to
    reverse the service (CPL-INT-135)."""
    actions = decide(dispatch(), [attempt("a1")], [sent("e1", T1, "a1")], NOW, POLICY)
    assert not any(isinstance(a, CloseAttempt) and a.attempt_id == "a1" for a in actions)


def test_court_found_email_is_not_served_by_sending_olr_31() -> None:
    """OLR-31: a court-found address is served only when read, not when sent."""
    actions = decide(dispatch(), [attempt("a1", FOUND)], [sent("e1", T1, "a1")], NOW, POLICY)
    assert actions == [WaitUntil(STARTED + WINDOW)]


def test_court_found_email_is_served_when_read_olr_31() -> None:
    """OLR-31: date of service is the reading (identity check passed), not the sending."""
    events = [sent("e1", T1, "a1"), read("e2", T2, "a1")]
    found = attempt("a1", FOUND, AttemptState.READ)
    completion = completion_of(decide(dispatch(), [found], events, NOW, POLICY))
    assert (completion.rule_id, completion.served_at, completion.event_id) == ("OLR-31", T2, "e2")
    assert completion.reading == "court_found address; read after the identity check"


@pytest.mark.parametrize(
    ("confirmed_sent_at", "winner", "served_at"),
    [(T1, "a-confirmed", T1), (T3, "a-found", T2)],
    ids=["confirmed-sent-first", "found-read-first"],
)
def test_earliest_completion_by_event_time_wins_olr_31(
    confirmed_sent_at: datetime, winner: str, served_at: datetime
) -> None:
    """OLR-31: with several addresses the earliest effective service counts, by the event's own
    time and not by the order in which the events were learnt."""
    attempts = [attempt("a-found", FOUND, AttemptState.READ), attempt("a-confirmed")]
    events = [read("e-read", T2, "a-found"), sent("e-sent", confirmed_sent_at, "a-confirmed")]
    completion = completion_of(decide(dispatch(), attempts, events, NOW, POLICY))
    assert (completion.attempt_id, completion.served_at) == (winner, served_at)


def test_queued_dispatch_is_not_completed_by_stray_events() -> None:
    """Completion rules apply only to steps that have started."""
    actions = decide(
        dispatch(DispatchState.QUEUED), [attempt("a1")], [sent("e1", T1, "a1")], NOW, POLICY
    )
    assert isinstance(actions[0], StartStep)


# --- waiting, expiry and failure ----------------------------------------------------------


def test_open_attempt_before_the_window_waits_for_the_deadline() -> None:
    actions = decide(
        dispatch(), [attempt("a1", FOUND)], [], STARTED + WINDOW - timedelta(seconds=1), POLICY
    )
    assert actions == [WaitUntil(STARTED + WINDOW)]


@pytest.mark.parametrize("after", [timedelta(0), timedelta(days=1)], ids=["at-deadline", "later"])
def test_window_elapsed_expires_open_attempts_and_fails(after: timedelta) -> None:
    attempts = [attempt("a1", FOUND), attempt("a2", FOUND, AttemptState.FAILED)]
    actions = decide(dispatch(), attempts, [sent("e1", T1, "a1")], STARTED + WINDOW + after, POLICY)
    assert actions == [CloseAttempt("a1", "expired", "window_elapsed"), Fail("exhausted")]


@pytest.mark.parametrize("ending", [AttemptState.FAILED, AttemptState.BOUNCED])
def test_all_attempts_ended_before_the_window_fails_at_once(ending: AttemptState) -> None:
    attempts = [attempt("a1", FOUND, ending), attempt("a2", FOUND, AttemptState.FAILED)]
    assert decide(dispatch(), attempts, [], NOW, POLICY) == [Fail("exhausted")]


@pytest.mark.parametrize(
    "state", [DispatchState.SERVED, DispatchState.FAILED, DispatchState.CANCELLED]
)
def test_closed_dispatch_needs_nothing(state: DispatchState) -> None:
    actions = decide(dispatch(state), [attempt("a1")], [sent("e1", T1, "a1")], NOW, POLICY)
    assert actions == []


# --- the rules on their own ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "source", "event_type", "completes"),
    [
        ("email", CONFIRMED, "attempt_sent", True),
        ("email", FOUND, "attempt_sent", False),
        ("sms", CONFIRMED, "attempt_sent", False),
        ("email", CONFIRMED, "identity_verified", True),
        ("email", FOUND, "identity_verified", True),
        ("sms", FOUND, "identity_verified", True),
        ("postal", CONFIRMED, "identity_verified", False),
        ("email", CONFIRMED, "link_opened", False),
        ("email", FOUND, "identity_failed", False),
    ],
)
def test_olr_31_rules(
    channel: str, source: ContactSource, event_type: str, completes: bool
) -> None:
    a = attempt("a1", source, channel=channel)
    found = earliest_completion(["OLR-31"], [a], [event("e1", event_type, T1, "a1")])
    assert (found is not None) is completes
    if found is not None:
        assert (found.rule_id, found.channel, found.served_at) == ("OLR-31", channel, T1)


def test_rules_ignore_events_of_unknown_attempts() -> None:
    events = [sent("e1", T1, "other"), sent("e2", T1, None)]  # type: ignore[arg-type]
    assert earliest_completion(["OLR-31"], [attempt("a1")], events) is None


def test_no_rules_no_completion() -> None:
    assert earliest_completion([], [attempt("a1")], [sent("e1", T1, "a1")]) is None


def test_rule_functions_return_none_for_other_events() -> None:
    a = attempt("a1")
    assert olr31_confirmed_email_accepted(a, read("e1", T1, "a1")) is None
    assert olr31_read_after_identity_check(a, sent("e1", T1, "a1")) is None


def test_equal_times_are_broken_by_event_id() -> None:
    attempts = [attempt("a1"), attempt("a2")]
    events = [sent("e9", T1, "a1"), sent("e2", T1, "a2")]
    found = earliest_completion(["OLR-31"], attempts, events)
    assert found is not None
    assert found.event_id == "e2"


# --- regressions: bounces, channels without addresses ------------------------------------


def test_bounced_confirmed_email_does_not_complete_service_cpl_int_135() -> None:
    bounced = attempt("a1", CONFIRMED, AttemptState.BOUNCED)
    actions = decide(dispatch(), [bounced], [sent("e1", T1, "a1")], NOW, POLICY)
    assert not any(isinstance(a, CompleteService) for a in actions)
