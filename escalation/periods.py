"""The periods that start to run when service completes, counted as CPL-85 says.

The day of service is not counted; a period whose last day is not a working day (a weekend or
public holiday, make-up working days counting as working days) ends on the next working day. A
period that reaches a year without holiday data is marked provisional.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any

from escalation.calendar import HolidayCalendar

# (document kind) → (period name, days in China, its basis, days abroad, its basis)
RUNNING_PERIODS: dict[str, tuple[str, int, str, int, str]] = {
    "complaint": ("answer", 15, "CPL-128", 30, "CPL-285"),
    "judgment": ("appeal", 15, "CPL-171", 30, "CPL-286"),
    "ruling": ("appeal", 10, "CPL-171", 30, "CPL-286"),
}


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
    end = start + timedelta(days=days)
    while not calendar.is_working_day(end):
        end += timedelta(days=1)
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
        rule = RUNNING_PERIODS.get(kind)
        if rule is None:
            continue
        name, days, basis, days_abroad, basis_abroad = rule
        if not domicile_in_china:
            days, basis = days_abroad, basis_abroad
        ends_on, provisional = period_end(service_date, days, calendar)
        periods.append(Period(name, document_id, basis, days, ends_on, provisional))
    return periods


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
    if "complaint" in document_kinds:
        _name, days, _basis, days_abroad, _abroad = RUNNING_PERIODS["complaint"]
        leads.append((days if domicile_in_china else days_abroad) + 1)
    if not leads:
        return None
    deadline = hearing_on - timedelta(days=max(leads))
    while not calendar.is_working_day(deadline):
        deadline -= timedelta(days=1)
    return deadline
