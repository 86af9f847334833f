"""CPL-85 counting of the periods that run from service, across the 2026 Spring Festival."""

from __future__ import annotations

from datetime import date

import pytest

from escalation.calendar import (
    CalendarError,
    HolidayCalendar,
    load_calendar,
    parse_calendar,
    render_calendar,
)
from escalation.periods import period_end, periods_after_service

CALENDAR = load_calendar()


def test_the_shipped_calendar_knows_the_2026_spring_festival() -> None:
    assert not CALENDAR.is_working_day(date(2026, 2, 17))  # Chinese New Year
    assert CALENDAR.is_working_day(date(2026, 2, 14))  # a make-up working Saturday
    assert CALENDAR.is_working_day(date(2026, 2, 24))
    assert not CALENDAR.has_data(2027)


@pytest.mark.parametrize(
    ("served", "days", "ends_on"),
    [
        # CPL-85: the day of service is not counted: 15 days from 2 March end on 17 March.
        (date(2026, 3, 2), 15, date(2026, 3, 17)),
        # 15 days from 2 February would end on 17 February, inside the Spring Festival
        # (15–23 February 2026): the period ends on the first working day after it.
        (date(2026, 2, 2), 15, date(2026, 2, 24)),
        # Ending on a Saturday moves to Monday.
        (date(2026, 3, 6), 15, date(2026, 3, 23)),
        # Ending on a make-up working Saturday stays there.
        (date(2026, 1, 30), 15, date(2026, 2, 14)),
    ],
)
def test_period_end_cpl_85(served: date, days: int, ends_on: date) -> None:
    assert period_end(served, days, CALENDAR) == (ends_on, False)


def test_a_period_reaching_a_year_without_data_is_provisional() -> None:
    end, provisional = period_end(date(2026, 12, 20), 15, CALENDAR)
    assert provisional
    assert end == date(2027, 1, 4)  # 2027-01-04 is a Monday; weekends only for 2027


@pytest.mark.parametrize(
    ("kind", "domicile", "name", "days", "basis"),
    [
        ("complaint", True, "answer", 15, "CPL-128"),
        ("complaint", False, "answer", 30, "CPL-285"),
        ("judgment", True, "appeal", 15, "CPL-171"),
        ("ruling", True, "appeal", 10, "CPL-171"),
        ("ruling", False, "appeal", 30, "CPL-286"),
    ],
)
def test_which_period_runs_for_which_document(
    kind: str, domicile: bool, name: str, days: int, basis: str
) -> None:
    [period] = periods_after_service(
        date(2026, 3, 2),
        [("doc", kind)],
        domicile_in_china=domicile,
        hearing_on=None,
        calendar=CALENDAR,
    )
    assert (period.name, period.days, period.basis) == (name, days, basis)


def test_a_summons_carries_its_hearing_date_and_evidence_runs_nothing() -> None:
    periods = periods_after_service(
        date(2026, 3, 2),
        [("s", "summons"), ("e", "evidence")],
        domicile_in_china=True,
        hearing_on=date(2026, 4, 1),
        calendar=CALENDAR,
    )
    assert [(p.name, p.document_id, p.ends_on) for p in periods] == [
        ("hearing", "s", date(2026, 4, 1))
    ]


def test_calendar_files_round_trip_and_bad_entries_are_named() -> None:
    assert parse_calendar(render_calendar(CALENDAR), "x").years == CALENDAR.years
    with pytest.raises(CalendarError, match=r"years\.2027\.holidays"):
        parse_calendar("[years.2027]\nholidays = [2026-10-01]\n", "court.toml")
    assert HolidayCalendar().is_working_day(date(2026, 2, 17))  # no data: weekdays work


def test_service_deadline_before_a_hearing() -> None:
    from escalation.periods import service_deadline

    hearing = date(2026, 3, 20)  # a Friday
    # Summons: 3 days before (CPL-139) is Tuesday 17 March.
    assert service_deadline(
        hearing, frozenset({"summons"}), domicile_in_china=True, calendar=CALENDAR
    ) == date(2026, 3, 17)
    # Complaint: the 15-day answer period must end before the hearing day: 4 March (Wed).
    assert service_deadline(
        hearing, frozenset({"complaint", "summons"}), domicile_in_china=True, calendar=CALENDAR
    ) == date(2026, 3, 4)
    # Landing on a weekend moves to the Friday before.
    assert service_deadline(
        date(2026, 3, 24), frozenset({"summons"}), domicile_in_china=True, calendar=CALENDAR
    ) == date(2026, 3, 20)
    assert (
        service_deadline(
            hearing, frozenset({"evidence"}), domicile_in_china=True, calendar=CALENDAR
        )
        is None
    )


def test_working_day_windows_across_the_spring_festival() -> None:
    """A 3-working-day window started on Friday 13 February 2026 (10:00 in Beijing) counts the
    make-up Saturday 14 February, skips the holiday 15–23 February, and ends on 25 February."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from escalation.calendar import CourtDays
    from escalation.decide import step_deadline
    from escalation.policy import PolicyError, parse_policy

    zone = ZoneInfo("Asia/Shanghai")
    policy = parse_policy(
        {
            "name": "w",
            "steps": [
                {
                    "name": "e",
                    "channels": ["email"],
                    "window_days": 3,
                    "window_unit": "working_days",
                    "completion": ["OLR-31"],
                }
            ],
        },
        "test",
    )
    start = datetime(2026, 2, 13, 10, 0, tzinfo=zone)
    deadline = step_deadline(start, policy.steps[0], CourtDays(CALENDAR, zone))
    assert deadline == datetime(2026, 2, 25, 10, 0, tzinfo=zone)
    calendar_days = parse_policy(
        {
            "name": "c",
            "steps": [
                {"name": "e", "channels": ["email"], "window_days": 3, "completion": ["OLR-31"]}
            ],
        },
        "test",
    )
    assert step_deadline(start, calendar_days.steps[0], CourtDays(CALENDAR, zone)) == (
        start + timedelta(days=3)
    )
    with pytest.raises(PolicyError, match="window_unit"):
        parse_policy(
            {
                "name": "x",
                "steps": [
                    {
                        "name": "e",
                        "channels": ["email"],
                        "window_days": 3,
                        "window_unit": "fortnights",
                        "completion": ["OLR-31"],
                    }
                ],
            },
            "test",
        )
