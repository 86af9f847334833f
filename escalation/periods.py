"""The periods that start to run when service completes, counted as CPL-85 says.

The day of service is not counted; a period whose last day is not a working day (a weekend or
public holiday, make-up working days counting as working days) ends on the next working day. A
period that reaches a year without holiday data is marked provisional.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any

from escalation.calendar import CourtDays, HolidayCalendar
from escalation.service_date import service_date

# (document kind) → (period name, days in China, its basis, days abroad, its basis)
RUNNING_PERIODS: dict[str, tuple[str, int, str, int, str]] = {
    "complaint": ("answer", 15, "CPL-128", 30, "CPL-285"),
    "judgment": ("appeal", 15, "CPL-171", 30, "CPL-286"),
    "ruling": ("appeal", 10, "CPL-171", 30, "CPL-286"),
}


def running_period(kind: str, *, domicile_in_china: bool) -> tuple[str, int, str] | None:
    """(period name, days, basis) that service of a document of ``kind`` starts, or ``None``:
    answer 15 days (CPL-128), 30 without domicile in China (CPL-285); appeal against a judgment
    15 days, a ruling 10 (CPL-171), 30 without domicile in China (CPL-286)."""
    rule = RUNNING_PERIODS.get(kind)
    if rule is None:
        return None
    name, days, basis, days_abroad, basis_abroad = rule
    return (name, days, basis) if domicile_in_china else (name, days_abroad, basis_abroad)


@dataclass(frozen=True)
class Period:
    name: str
    document_id: str
    basis: str
    days: int | None
    ends_on: date
    provisional: bool

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "ends_on": self.ends_on.isoformat()}


def period_end(start: date, days: int, calendar: HolidayCalendar) -> tuple[date, bool]:
    """(last day, provisional?) of a period of ``days`` days from ``start`` (CPL-85)."""
    end = calendar.on_or_after(start + timedelta(days=days))
    provisional = any(not calendar.has_data(y) for y in range(start.year, end.year + 1))
    return end, provisional


def periods_after_service(
    service_date: date,
    documents: Sequence[tuple[str, str]],
    *,
    domicile_in_china: bool,
    hearing_on: date | None,
    calendar: HolidayCalendar,
) -> list[Period]:
    """What runs from ``service_date`` for each served (document id, kind)."""
    periods: list[Period] = []
    for document_id, kind in documents:
        if kind == "summons" and hearing_on is not None:
            periods.append(Period("hearing", document_id, "CPL-139", None, hearing_on, False))
        running = running_period(kind, domicile_in_china=domicile_in_china)
        if running is None:
            continue
        name, days, basis = running
        ends_on, provisional = period_end(service_date, days, calendar)
        periods.append(Period(name, document_id, basis, days, ends_on, provisional))
    return periods


def periods_from_service(
    served_at: datetime,
    documents: Sequence[tuple[str, str]],
    *,
    domicile_in_china: bool,
    hearing_at: datetime | None,
    court_days: CourtDays,
) -> list[Period]:
    """What runs from service at ``served_at`` for each served (document id, kind), counted on
    the court's calendar from the date of service."""
    zone = court_days.zone
    return periods_after_service(
        service_date(served_at, zone),
        documents,
        domicile_in_china=domicile_in_china,
        hearing_on=None if hearing_at is None else hearing_at.astimezone(zone).date(),
        calendar=court_days.calendar,
    )


SUMMONS_NOTICE_DAYS = 3  # CPL-139: a summons reaches the parties at least 3 days before


def service_deadline(
    hearing_on: date,
    document_kinds: frozenset[str],
    *,
    domicile_in_china: bool,
    calendar: HolidayCalendar,
) -> date | None:
    """The last day service may complete for the hearing to keep its date, or ``None``.

    A summons must be served at least 3 days before the hearing (CPL-139); a complaint must
    leave the defendant the whole answer period (15 days, 30 abroad) before the hearing day, so
    the period must end the day before it at the latest. Counted back from the hearing; a
    deadline on a non-working day moves to the working day before.
    """
    leads = []
    if "summons" in document_kinds:
        leads.append(SUMMONS_NOTICE_DAYS)
    answer = running_period("complaint", domicile_in_china=domicile_in_china)
    if "complaint" in document_kinds and answer is not None:
        leads.append(answer[1] + 1)
    if not leads:
        return None
    return calendar.on_or_before(hearing_on - timedelta(days=max(leads)))
