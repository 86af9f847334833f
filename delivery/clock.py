"""Injected time.

Logic never reads the wall clock directly: every service receives a :class:`Clock`, so that a
30-day notice period or a 3-day window can be tested by moving a manual clock forward.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Protocol, runtime_checkable


class Clock(Protocol):
    """Something that tells the current instant as an aware UTC datetime."""

    def now(self) -> datetime: ...


@runtime_checkable
class AdjustableClock(Protocol):
    """A clock that can be moved forward: the tests' clock and the sandbox's."""

    def now(self) -> datetime: ...

    def advance(self, delta: timedelta) -> None: ...

    @property
    def offset(self) -> timedelta: ...


class SystemClock:
    """The real time, optionally shifted (the sandbox moves it forward to show deadlines)."""

    def __init__(self) -> None:
        self._offset = timedelta(0)

    @property
    def offset(self) -> timedelta:
        """How far this clock has been moved ahead of the real time."""
        return self._offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def advance(self, delta: timedelta) -> None:
        self._offset += delta


class ManualClock:
    """A clock that only moves when told to: the tests' clock."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = start.astimezone(UTC)
        self._start = self._now

    @property
    def offset(self) -> timedelta:
        """How far this clock has moved since it was made."""
        return self._now - self._start

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta

    def set(self, instant: datetime) -> None:
        self._now = instant.astimezone(UTC)


def rfc3339(instant: datetime) -> str:
    """UTC RFC 3339 with microseconds: the one text form of an instant in events and APIs."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


DAY_RE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
# Days whose midnight and next midnight exist in every zone: at the calendar's ends (0001-01-01
# in a zone east of UTC, 9999-12-31's next day) the conversion to UTC overflows.
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(9998, 12, 31)


def parse_day(raw: str) -> date | None:
    """A day as pages and the API take it (``YYYY-MM-DD``, nothing else), or None when it is
    not one or lies outside :data:`FIRST_DAY` … :data:`LAST_DAY`."""
    if not DAY_RE.fullmatch(raw):
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        return None
    return day if FIRST_DAY <= day <= LAST_DAY else None
