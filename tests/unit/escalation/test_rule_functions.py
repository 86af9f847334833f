"""One function per legal rule (issue 13): each is table-tested here by the rule it holds.

The completion rules themselves are tested in test_escalation_rules.py; these are the rules the
decision, the services and the pages share — notice period, date of service and its
roll-forward, the periods from service, who may receive, and e-service consent.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from delivery.domain import AttemptState
from escalation.calendar import CourtDays, HolidayCalendar, YearData
from escalation.consent import may_serve_on
from escalation.notice_period import notice_period
from escalation.periods import periods_from_service, running_period
from escalation.policy import get_policy
from escalation.receivers import may_leave, may_receive
from escalation.service_date import notice_deemed_at, service_date
from unit.builders import a_dispatch, notice, published

SHANGHAI = ZoneInfo("Asia/Shanghai")
CN_CIVIL = get_policy("cn-civil")
NATIONAL_DAY = frozenset(date(2026, 10, d) for d in range(1, 8))
HOLIDAYS = HolidayCalendar({2026: YearData(holidays=NATIONAL_DAY, workdays=frozenset())})
MEDIATION = frozenset({"mediation_statement"})


@pytest.mark.parametrize(
    ("domicile_in_china", "rule_id", "article", "days"),
    [(True, "CPL-95", 95, 30), (False, "CPL-283", 283, 60)],
)
def test_notice_period_cpl_95_and_cpl_283(
    domicile_in_china: bool, rule_id: str, article: int, days: int
) -> None:
    chosen = notice_period(CN_CIVIL, domicile_in_china=domicile_in_china)
    assert (chosen.rule_id, chosen.article, chosen.days) == (rule_id, article, days)


def test_notice_period_is_the_policys() -> None:
    longer = replace(CN_CIVIL, notice_period=timedelta(days=45))
    assert notice_period(longer, domicile_in_china=True).period == timedelta(days=45)


@pytest.mark.parametrize(
    ("relation", "kinds", "allowed", "rule"),
    [
        ("self", frozenset(), True, "CPL-88"),
        ("family", frozenset(), True, "CPL-88"),
        ("entity_mailroom", frozenset(), True, "CPL-91"),
        ("designated_receiver", frozenset(), True, "CPL-91"),
        ("family_opposing_party", frozenset(), False, "PM-9"),
        ("minor", frozenset(), False, "PM-7"),
        (None, frozenset(), False, "PM-7"),
        ("self", MEDIATION, True, "CPL-INT-133"),
        ("entity_representative", MEDIATION, True, "CPL-INT-133"),
        ("family", MEDIATION, False, "CPL-INT-133"),
        ("entity_mailroom", MEDIATION, False, "CPL-INT-133"),
    ],
)
def test_who_may_receive(
    relation: str | None, kinds: frozenset[str], allowed: bool, rule: str
) -> None:
    assert may_receive(relation, kinds) is allowed, rule


@pytest.mark.parametrize(
    ("kinds", "allowed"), [(frozenset({"complaint"}), True), (MEDIATION, False)]
)
def test_documents_may_be_left_except_a_mediation_statement_cpl_89_cpl_int_133(
    kinds: frozenset[str], allowed: bool
) -> None:
    assert may_leave(kinds) is allowed


@pytest.mark.parametrize(
    ("channel", "consent_given", "allowed"),
    [
        ("email", True, True),
        ("sms", True, True),
        ("email", False, False),
        ("sms", False, False),
        ("postal", False, True),
        ("in_person", False, True),
    ],
)
def test_e_service_only_with_consent_olr_29_30(
    channel: str, consent_given: bool, allowed: bool
) -> None:
    assert may_serve_on(channel, consent_given=consent_given) is allowed


@pytest.mark.parametrize(
    ("served_at", "day"),
    [
        (datetime(2026, 11, 23, 15, 59, tzinfo=UTC), date(2026, 11, 23)),
        (datetime(2026, 11, 23, 16, 0, tzinfo=UTC), date(2026, 11, 24)),  # midnight in Beijing
    ],
)
def test_the_date_of_service_is_the_courts_calendar_day(served_at: datetime, day: date) -> None:
    assert service_date(served_at, SHANGHAI) == day


@pytest.mark.parametrize(
    ("kind", "domicile_in_china", "expected"),
    [
        ("complaint", True, ("answer", 15, "CPL-128")),
        ("complaint", False, ("answer", 30, "CPL-285")),
        ("judgment", True, ("appeal", 15, "CPL-171")),
        ("ruling", True, ("appeal", 10, "CPL-171")),
        ("judgment", False, ("appeal", 30, "CPL-286")),
        ("summons", True, None),
    ],
)
def test_running_period(
    kind: str, domicile_in_china: bool, expected: tuple[str, int, str] | None
) -> None:
    assert running_period(kind, domicile_in_china=domicile_in_china) == expected


def test_periods_run_from_the_date_of_service_cpl_85() -> None:
    # Served at 01:00 on 16 September in Beijing (17:00 UTC the day before): 15 days from the
    # 16th is 1 October, National Day — the answer period ends on the first working day after.
    served_at = datetime(2026, 9, 15, 17, 0, tzinfo=UTC)
    hearing_at = datetime(2026, 10, 20, 1, 30, tzinfo=UTC)
    periods = periods_from_service(
        served_at,
        [("doc1", "complaint"), ("doc2", "summons")],
        domicile_in_china=True,
        hearing_at=hearing_at,
        court_days=CourtDays(HOLIDAYS, SHANGHAI),
    )
    assert [(p.name, p.basis, p.ends_on) for p in periods] == [
        ("answer", "CPL-128", date(2026, 10, 8)),
        ("hearing", "CPL-139", date(2026, 10, 20)),
    ]


def test_the_calendar_rolls_to_a_working_day_cpl_85() -> None:
    assert HOLIDAYS.on_or_after(date(2026, 10, 1)) == date(2026, 10, 8)
    assert HOLIDAYS.on_or_after(date(2026, 10, 9)) == date(2026, 10, 9)
    assert HOLIDAYS.on_or_before(date(2026, 10, 7)) == date(2026, 9, 30)


@pytest.mark.parametrize(
    ("rolls_forward", "deemed"),
    [
        # CPL-95: 30 days after publication on 1 September is 1 October, National Day.
        (False, datetime(2026, 10, 1, 2, 0, tzinfo=UTC)),
        # With the policy option, CPL-85's roll-forward: the next working day.
        (True, datetime(2026, 10, 8, 2, 0, tzinfo=UTC)),
    ],
)
def test_notice_deemed_date_cpl_95_with_the_roll_forward_option(
    rolls_forward: bool, deemed: datetime
) -> None:
    policy = replace(CN_CIVIL, notice_period_rolls_forward=rolls_forward)
    events = [published("e1", datetime(2026, 9, 1, 2, 0, tzinfo=UTC), 1)]
    court_days = CourtDays(HOLIDAYS, UTC)
    assert (
        notice_deemed_at(a_dispatch(), notice(AttemptState.SENT), events, policy, court_days)
        == deemed
    )


def test_an_unpublished_notice_has_no_deemed_date() -> None:
    court_days = CourtDays(HOLIDAYS, UTC)
    assert (
        notice_deemed_at(a_dispatch(), notice(AttemptState.SENT), [], CN_CIVIL, court_days) is None
    )
