"""``decide`` for the steps after electronic service: repeated visits in person, and public
notice — untimed until approved and published, deemed served after its period from the last
publication (domain.md "In-person outcomes", CPL-95, CPL-283, CPL-INT-138)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from delivery.domain import (
    AttemptState,
    Dispatch,
    DispatchState,
)
from escalation.actions import (
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
from escalation.calendar import CourtDays, HolidayCalendar, YearData
from escalation.decide import decide
from escalation.policy import get_policy
from unit.builders import HOME, IN_PERSON, NOTICE, STARTED, a_dispatch, notice, published, visit

CN_CIVIL = get_policy("cn-civil")
CN_FOREIGN = get_policy("cn-foreign")


def at_step(step: int, **overrides: Any) -> Dispatch:
    values: dict[str, Any] = {
        "consent_given": False,
        "contacts": [HOME],
        "step_index": step,
        "step_started_at": STARTED,
        "state": DispatchState.NOTICE_PENDING if step == NOTICE else DispatchState.IN_PROGRESS,
    }
    return a_dispatch(**{**values, **overrides})


# --- in person: one visit = one attempt, up to the step's max_attempts -------------------


def test_a_failed_visit_inside_the_window_is_followed_by_another() -> None:
    now = STARTED + timedelta(days=1)
    actions = decide(at_step(IN_PERSON), [visit("v1", AttemptState.FAILED)], [], now, CN_CIVIL)
    assert actions == [
        RepeatAttempts(IN_PERSON, (NewAttempt("in_person", HOME.id),)),
        WaitUntil(STARTED + timedelta(days=7)),
    ]


def test_after_the_policys_last_visit_the_step_fails_and_notice_follows() -> None:
    visits = [visit(f"v{i}", AttemptState.FAILED) for i in range(CN_CIVIL.steps[2].max_attempts)]
    actions = decide(at_step(IN_PERSON), visits, [], STARTED + timedelta(days=2), CN_CIVIL)
    assert actions == [StartStep(NOTICE, "public_notice", (NewAttempt("public_notice", None),))]


def test_an_open_visit_waits_for_the_window() -> None:
    actions = decide(at_step(IN_PERSON), [visit("v1", AttemptState.SENT)], [], STARTED, CN_CIVIL)
    assert actions == [WaitUntil(STARTED + timedelta(days=7))]


def test_the_window_ends_the_visits_however_many_were_made() -> None:
    late = STARTED + timedelta(days=7)
    actions = decide(at_step(IN_PERSON), [visit("v1", AttemptState.FAILED)], [], late, CN_CIVIL)
    assert isinstance(actions[0], StartStep) and actions[0].index == NOTICE


def test_at_risk_in_person_never_starts_public_notice_alongside() -> None:
    """``parallel_when_at_risk`` saves time with the next method, but public notice is the last
    resort (CPL-95): it waits until the visits have failed, even when the hearing is near."""
    deadline = STARTED + timedelta(days=2)
    near = at_step(IN_PERSON, service_deadline_at=deadline)
    actions = decide(near, [visit("v1", AttemptState.SENT)], [], STARTED, CN_CIVIL)
    ends = STARTED + timedelta(days=7)
    assert actions == [WaitUntil(ends), FlagAtRisk(deadline, ends)]


def test_at_risk_post_still_starts_the_visits_alongside() -> None:
    postal = replace(visit("p1", AttemptState.SENT), step_index=1, channel="postal")
    near = at_step(1, service_deadline_at=STARTED + timedelta(days=2))
    actions = decide(near, [postal], [], STARTED, CN_CIVIL)
    assert StartStep(IN_PERSON, "in_person", (NewAttempt("in_person", HOME.id),)) in actions


# --- public notice: untimed until published, then deemed after the period ----------------


def test_notice_is_the_last_resort_even_with_no_address() -> None:
    bare = a_dispatch(state=DispatchState.QUEUED, consent_given=False, contacts=[])
    actions = decide(bare, [], [], STARTED, CN_CIVIL)
    assert [type(a) for a in actions] == [SkipStep, SkipStep, SkipStep, StartStep]
    assert actions[-1] == StartStep(NOTICE, "public_notice", (NewAttempt("public_notice", None),))


def test_a_notice_awaiting_approval_sets_no_timer_and_never_expires() -> None:
    a_year_on = STARTED + timedelta(days=365)
    assert decide(at_step(NOTICE), [notice()], [], a_year_on, CN_CIVIL) == []


def test_e_service_reopened_during_the_notice_runs_its_own_window_then_expires() -> None:
    """Consent recorded at the notice step re-opens e-mail (step 0): it may still serve, for the
    electronic step's 3 days from its start; then it expires and only the notice waits."""
    email = replace(visit("e1", AttemptState.SENT), step_index=0, channel="email")
    reopened = replace(email, created_at=STARTED + timedelta(days=1))
    waiting = [notice(), reopened]
    ends = STARTED + timedelta(days=4)
    assert decide(at_step(NOTICE), waiting, [], ends - timedelta(seconds=1), CN_CIVIL) == [
        WaitUntil(ends)
    ]
    assert decide(at_step(NOTICE), waiting, [], ends, CN_CIVIL) == [
        CloseAttempt("e1", "expired", "window_elapsed")
    ]


def test_a_published_notice_waits_for_its_period() -> None:
    day = STARTED + timedelta(days=1)
    events = [published("p1", day, 1)]
    actions = decide(at_step(NOTICE), [notice(AttemptState.SENT)], events, day, CN_CIVIL)
    assert actions == [WaitUntil(day + timedelta(days=30))]


def test_the_period_over_the_dispatch_is_deemed_served_cpl_95() -> None:
    day = STARTED + timedelta(days=1)
    events = [published("p1", day, 1)]
    ends = day + timedelta(days=30)
    [done] = decide(at_step(NOTICE), [notice(AttemptState.SENT)], events, ends, CN_CIVIL)
    assert isinstance(done, CompleteService)
    assert (done.completion.rule_id, done.completion.served_at) == ("CPL-95", ends)


def test_the_last_publication_counts_cpl_int_138() -> None:
    first, last = STARTED + timedelta(days=1), STARTED + timedelta(days=4)
    events = [published("p2", last, 2), published("p1", first, 1)]
    actions = decide(at_step(NOTICE), [notice(AttemptState.SENT)], events, first, CN_CIVIL)
    assert actions == [WaitUntil(last + timedelta(days=30))]


def test_a_party_abroad_is_deemed_served_after_the_policys_60_days_cpl_283() -> None:
    day = STARTED + timedelta(days=1)
    abroad = at_step(NOTICE, policy="cn-foreign", domicile_in_china=False)
    events = [published("p1", day, 1)]
    ends = day + timedelta(days=60)
    assert decide(abroad, [notice(AttemptState.SENT)], events, day, CN_FOREIGN) == [WaitUntil(ends)]
    [done] = decide(abroad, [notice(AttemptState.SENT)], events, ends, CN_FOREIGN)
    assert isinstance(done, CompleteService)
    assert done.completion.rule_id == "CPL-283"


def test_a_policy_may_roll_a_period_ending_on_a_holiday_forward() -> None:
    # Published on Tuesday 2026-09-01 (Beijing): 30 days on is 2026-10-01, National Day.
    day = datetime(2026, 9, 1, 2, 0, tzinfo=UTC)
    national_day = frozenset(date(2026, 10, d) for d in range(1, 8))
    holidays = HolidayCalendar({2026: YearData(holidays=national_day, workdays=frozenset())})
    court_days = CourtDays(holidays, UTC)
    rolling = replace(CN_CIVIL, notice_period_rolls_forward=True)
    events = [published("p1", day, 1)]
    waits = decide(at_step(NOTICE), [notice(AttemptState.SENT)], events, day, rolling, court_days)
    assert waits == [WaitUntil(datetime(2026, 10, 8, 2, 0, tzinfo=UTC))]
    plain = decide(at_step(NOTICE), [notice(AttemptState.SENT)], events, day, CN_CIVIL, court_days)
    assert plain == [WaitUntil(datetime(2026, 10, 1, 2, 0, tzinfo=UTC))]


def test_a_clerk_escalating_past_a_published_notice_gives_its_deemed_service_up() -> None:
    day = STARTED + timedelta(days=1)
    escalated = replace(published("x", day, 2), type="clerk_escalated", data={"step": NOTICE})
    events = [published("p1", day, 1), escalated]
    actions = decide(at_step(NOTICE), [notice(AttemptState.SENT)], events, day, CN_CIVIL)
    assert actions == [CloseAttempt("n1", "expired", "escalated_by_clerk"), Fail("exhausted")]


def test_a_clerk_escalating_past_the_notice_ends_the_ladder() -> None:
    escalated = replace(published("x", STARTED, 1), type="clerk_escalated", data={"step": NOTICE})
    actions = decide(at_step(NOTICE), [notice()], [escalated], STARTED, CN_CIVIL)
    assert actions == [
        CloseAttempt("n1", "expired", "escalated_by_clerk"),
        Fail("exhausted"),
    ]
