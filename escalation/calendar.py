"""Working days in mainland China: public holidays and make-up working days, by year.

The State Council publishes each year's schedule late in the year before, and packaged data
lags, so the data is a court-editable TOML file (``<data dir>/calendar/cn.toml``, seeded by
``songda calendar import``); the copy shipped in ``escalation/calendars/cn.toml`` is used until
a court keeps its own. A year without data counts weekends only, and whatever is computed from
it is marked provisional (CPL-85, domain.md).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path

SHIPPED = Path(__file__).parent / "calendars" / "cn.toml"


class CalendarError(Exception):
    """A calendar file that cannot be used; the message names the file and the entry."""


@dataclass(frozen=True)
class YearData:
    holidays: frozenset[date]
    workdays: frozenset[date]


@dataclass(frozen=True)
class HolidayCalendar:
    years: dict[int, YearData] = field(default_factory=dict)

    def has_data(self, year: int) -> bool:
        return year in self.years

    def is_working_day(self, day: date) -> bool:
        data = self.years.get(day.year)
        if data is not None:
            if day in data.workdays:
                return True
            if day in data.holidays:
                return False
        return day.weekday() < 5

    def on_or_after(self, day: date) -> date:
        """``day`` when it is a working day, otherwise the next one (CPL-85: a period whose last
        day is a holiday ends on the next working day)."""
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    def on_or_before(self, day: date) -> date:
        """``day`` when it is a working day, otherwise the one before (a deadline counted back)."""
        while not self.is_working_day(day):
            day -= timedelta(days=1)
        return day

    def add_working_days(self, start: date, days: int) -> date:
        """The ``days``-th working day after ``start`` (``start`` itself not counted)."""
        day = start
        while days > 0:
            day += timedelta(days=1)
            if self.is_working_day(day):
                days -= 1
        return day

    def merged(self, other: HolidayCalendar) -> HolidayCalendar:
        """This calendar with ``other``'s years replacing its own."""
        return HolidayCalendar({**self.years, **other.years})


@dataclass(frozen=True)
class CourtDays:
    """The court's holiday data and time zone, for windows counted in working days and for
    dates rolled forward to a working day on the court's calendar."""

    calendar: HolidayCalendar
    zone: tzinfo

    def rolled_forward(self, when: datetime) -> datetime:
        """``when``, or the same time of day on the next working day when its day (in the
        court's zone) is not one."""
        local = when.astimezone(self.zone)
        day = self.calendar.on_or_after(local.date())
        return datetime.combine(day, local.timetz()).astimezone(UTC)


CALENDAR_DAYS_ONLY = CourtDays(HolidayCalendar(), UTC)


def parse_calendar(text: str, where: str) -> HolidayCalendar:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CalendarError(f"{where}: not valid TOML: {exc}") from exc
    years: dict[int, YearData] = {}
    for key, entry in data.get("years", {}).items():
        if not key.isdigit() or not isinstance(entry, dict):
            raise CalendarError(f"{where}: years.{key}: expected [years.YYYY] tables")
        year = int(key)
        days = {name: entry.get(name, []) for name in ("holidays", "workdays")}
        for name, values in days.items():
            bad = [v for v in values if not isinstance(v, date) or v.year != year]
            if bad:
                raise CalendarError(f"{where}: years.{key}.{name}: not dates of {year}: {bad}")
        years[year] = YearData(frozenset(days["holidays"]), frozenset(days["workdays"]))
    return HolidayCalendar(years)


def load_calendar(court_file: Path | None = None) -> HolidayCalendar:
    """The court's own file when it has one, otherwise the shipped data."""
    path = court_file if court_file is not None and court_file.exists() else SHIPPED
    return parse_calendar(path.read_text(encoding="utf-8"), str(path))


def _dates(values: Iterable[date]) -> str:
    return ", ".join(d.isoformat() for d in sorted(values))


def render_calendar(calendar: HolidayCalendar) -> str:
    lines = [
        "# Mainland-China public holidays and make-up working days, one table a year.",
        "# Court-editable: add next year's schedule when the State Council publishes it.",
        "",
    ]
    for year in sorted(calendar.years):
        data = calendar.years[year]
        lines += [
            f"[years.{year}]",
            f"holidays = [{_dates(data.holidays)}]",
            f"workdays = [{_dates(data.workdays)}]",
            "",
        ]
    return "\n".join(lines)


def from_chinese_calendar_package(first_year: int = 2020) -> HolidayCalendar:
    """The data the ``chinese-calendar`` package ships (it ends with 2026)."""
    import chinese_calendar

    years: dict[int, YearData] = {}
    all_years = {d.year for d in chinese_calendar.holidays} | {
        d.year for d in chinese_calendar.workdays
    }
    for year in sorted(y for y in all_years if y >= first_year):
        years[year] = YearData(
            frozenset(d for d in chinese_calendar.holidays if d.year == year),
            frozenset(d for d in chinese_calendar.workdays if d.year == year),
        )
    return HolidayCalendar(years)
