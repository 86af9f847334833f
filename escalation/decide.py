"""The decision: given a dispatch, its attempts, its events, the time and the policy, what next.

A pure function, so every legal path can be table-tested without a database; ``delivery`` turns
the returned actions into state changes and events in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from delivery.domain import (
    OPEN_ATTEMPT_STATES,
    Attempt,
    AttemptState,
    Contact,
    Dispatch,
    DispatchState,
    Event,
)
from delivery.vocabulary import CHANNEL_CONTACTS, EventType
from escalation.actions import (
    Action,
    CloseAttempt,
    CompleteService,
    Fail,
    FlagAtRisk,
    NewAttempt,
    RepeatAttempts,
    SkipStep,
    StartStep,
    WaitUntil,
)
from escalation.calendar import CALENDAR_DAYS_ONLY, CourtDays
from escalation.consent import may_serve_on
from escalation.policy import NOTICE_CHANNEL, Policy, Step
from escalation.rules import earliest_completion
from escalation.service_date import case_facts, deemed_service


def step_deadline(start: datetime, step: Step, court_days: CourtDays) -> datetime:
    """When a step started at ``start`` has waited its window."""
    if step.window_unit == "calendar_days":
        return start + step.window
    local = start.astimezone(court_days.zone)
    end = court_days.calendar.add_working_days(local.date(), step.window.days)
    return datetime.combine(end, local.timetz()).astimezone(UTC)


def decide(
    dispatch: Dispatch,
    attempts: Sequence[Attempt],
    events: Sequence[Event],
    now: datetime,
    policy: Policy,
    court_days: CourtDays = CALENDAR_DAYS_ONLY,
) -> list[Action]:
    """What to do next. ``court_days`` (holiday data and time zone) counts windows given in
    working days; without it they count weekends only, in UTC."""
    if not dispatch.is_open:
        return []
    started_rules = {
        rule
        for index, step in enumerate(policy.steps)
        if dispatch.step_index is not None and index <= dispatch.step_index
        for rule in step.completion
    }
    facts = case_facts(dispatch, policy, court_days.zone)
    # A recorded rebuttal (OLR-31) takes the completing event it names out of consideration.
    rebutted = {
        e.data.get("completing_event_id") for e in events if e.type == EventType.SERVICE_REBUTTED
    }
    standing = [e for e in events if e.id not in rebutted]
    completion = earliest_completion(started_rules, attempts, standing, facts)
    if completion is not None:
        completion = deemed_service(completion, policy, court_days)
    if completion is not None and completion.served_at > now:
        if not _escalated(dispatch, events):
            # Deemed service still to come (a notice period running): wake up when it arrives.
            return [WaitUntil(completion.served_at)]
        completion = None  # the clerk gave the deemed service up: the ladder goes on
    if completion is not None:
        return [
            CompleteService(completion),
            *(
                CloseAttempt(a.id, AttemptState.CANCELLED.value, "service_completed")
                for a in attempts
                if a.state in OPEN_ATTEMPT_STATES and a.id != completion.attempt_id
            ),
        ]
    actions = _next_step(dispatch, attempts, events, now, policy, court_days)
    risk = _at_risk(dispatch, events, actions)
    if risk is None:
        return actions
    return [*actions, risk, *_in_parallel(dispatch, events, actions, now, policy, court_days)]


def _next_step(
    dispatch: Dispatch,
    attempts: Sequence[Attempt],
    events: Sequence[Event],
    now: datetime,
    policy: Policy,
    court_days: CourtDays,
) -> list[Action]:
    """Wait for the current step, or close it and start the next one."""
    skipped = {e.data.get("step") for e in events if e.type == EventType.CLERK_SKIPPED_STEP}
    if dispatch.state == DispatchState.QUEUED or dispatch.step_index is None:
        return _start_from(0, dispatch, now, policy, court_days, skipped)
    step = policy.steps[dispatch.step_index]
    assert dispatch.step_started_at is not None
    deadline = step_deadline(dispatch.step_started_at, step, court_days)
    still_open = [
        a
        for a in attempts
        if a.step_index == dispatch.step_index and a.state in OPEN_ATTEMPT_STATES
    ]
    escalated = _escalated(dispatch, events)
    if still_open and not escalated and not step.timed:
        return _while_the_notice_waits(attempts, now, policy, court_days)
    if now < deadline and not escalated:
        if still_open:
            return [WaitUntil(deadline)]
        again = _repeats(dispatch, attempts, step)
        if again:
            return [RepeatAttempts(dispatch.step_index, again), WaitUntil(deadline)]
    reason = "escalated_by_clerk" if escalated else "window_elapsed"
    # Earlier steps' attempts still running (started in parallel, or re-opened by consent)
    # end with the step under way.
    closing: list[Action] = [
        CloseAttempt(a.id, AttemptState.EXPIRED.value, reason)
        for a in attempts
        if a.step_index <= dispatch.step_index and a.state in OPEN_ATTEMPT_STATES
    ]
    return closing + _start_from(
        dispatch.step_index + 1, dispatch, now, policy, court_days, skipped
    )


def _escalated(dispatch: Dispatch, events: Sequence[Event]) -> bool:
    """A clerk escalated the step under way."""
    return dispatch.step_index is not None and any(
        e.type == EventType.CLERK_ESCALATED and e.data.get("step") == dispatch.step_index
        for e in events
    )


def _while_the_notice_waits(
    attempts: Sequence[Attempt], now: datetime, policy: Policy, court_days: CourtDays
) -> list[Action]:
    """The notice waits for approval and publication (they wake the decision; its period is
    the completion rule's). Other attempts still out — e-service re-opened by consent recorded
    meanwhile — run for their own step's window from their start, then expire: the notice may
    be approved only when nothing else can serve (CPL-95)."""
    others = [a for a in attempts if a.channel != NOTICE_CHANNEL and a.state in OPEN_ATTEMPT_STATES]
    ends = {
        a.id: step_deadline(a.created_at, policy.steps[a.step_index], court_days) for a in others
    }
    due: list[Action] = [
        CloseAttempt(a.id, AttemptState.EXPIRED.value, "window_elapsed")
        for a in others
        if ends[a.id] <= now
    ]
    running = [end for end in ends.values() if end > now]
    return due + ([WaitUntil(min(running))] if running else [])


def _at_risk(
    dispatch: Dispatch, events: Sequence[Event], actions: list[Action]
) -> FlagAtRisk | None:
    """Flag the dispatch once when the step under way ends after the hearing's service
    deadline (domain.md, "Policy windows"): the ladder cannot finish in time."""
    deadline = dispatch.service_deadline_at
    waits = [a.when for a in actions if isinstance(a, WaitUntil)]
    if deadline is None or not waits or any(e.type == EventType.DISPATCH_AT_RISK for e in events):
        return None
    return FlagAtRisk(deadline, waits[-1]) if waits[-1] > deadline else None


def _in_parallel(
    dispatch: Dispatch,
    events: Sequence[Event],
    actions: list[Action],
    now: datetime,
    policy: Policy,
    court_days: CourtDays,
) -> list[Action]:
    """With ``parallel_when_at_risk``, start the next step now instead of after this one —
    but only if there is one with something to try, and never public notice: it is the last
    resort, for when every other method has failed (CPL-95), not a way to save time."""
    if not policy.parallel_when_at_risk:
        return []
    started = [a.index for a in actions if isinstance(a, StartStep)]
    current = started[-1] if started else dispatch.step_index
    if current is None:
        return []
    skipped = {e.data.get("step") for e in events if e.type == EventType.CLERK_SKIPPED_STEP}
    following = _start_from(current + 1, dispatch, now, policy, court_days, skipped)
    starts = [a for a in following if isinstance(a, StartStep)]
    return following if starts and policy.steps[starts[0].index].timed else []


def _start_from(
    index: int,
    dispatch: Dispatch,
    now: datetime,
    policy: Policy,
    court_days: CourtDays,
    skipped: set[object] | None = None,
) -> list[Action]:
    """Start the first step from ``index`` that has something to try; skip the others."""
    actions: list[Action] = []
    for i in range(index, len(policy.steps)):
        step = policy.steps[i]
        skip_reason = "skipped_by_clerk" if i in (skipped or set()) else _why_not(step, dispatch)
        if skip_reason is not None:
            actions.append(SkipStep(i, step.name, skip_reason))
            continue
        new = tuple(planned for channel in step.channels for planned in _planned(dispatch, channel))
        # Public notice serves no address: one notice, no window — it waits for a supervisor's
        # approval and publication, then for its period (the completion rule's date).
        waits = [WaitUntil(step_deadline(now, step, court_days))] if step.timed else []
        return [*actions, StartStep(i, step.name, new), *waits]
    return [*actions, Fail(policy.exhausted_reason)]


def _why_not(step: Step, dispatch: Dispatch) -> str | None:
    if not all(may_serve_on(c, consent_given=dispatch.consent_given) for c in step.channels):
        return "no_e_service_consent"
    if not any(_planned(dispatch, c) for c in step.channels):
        return "no_address"
    return None


def _planned(dispatch: Dispatch, channel: str) -> list[NewAttempt]:
    """The attempts a channel makes in a step: one per usable address, one notice."""
    if channel == NOTICE_CHANNEL:
        return [NewAttempt(channel, None)]
    return [NewAttempt(channel, c.id) for c in _contacts_for(dispatch, channel)]


def _contacts_for(dispatch: Dispatch, channel: str) -> list[Contact]:
    """The recipient's addresses a channel can use."""
    kind = CHANNEL_CONTACTS.get(channel)
    return [] if kind is None else dispatch.contacts_of(kind)


def _repeats(dispatch: Dispatch, attempts: Sequence[Attempt], step: Step) -> tuple[NewAttempt, ...]:
    """Every attempt of the step has ended without service, inside its window: try each address
    again while it has had fewer than ``max_attempts`` tries (one visit = one attempt)."""
    tried: dict[tuple[str, str | None], int] = {}
    for a in attempts:
        if a.step_index == dispatch.step_index:
            tried[(a.channel, a.contact_id)] = tried.get((a.channel, a.contact_id), 0) + 1
    return tuple(
        planned
        for channel in step.channels
        for planned in _planned(dispatch, channel)
        if 0 < tried.get((planned.channel, planned.contact_id), 0) < step.max_attempts
    )
