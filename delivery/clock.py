"""Injected time.

Logic never reads the wall clock directly: every service receives a :class:`Clock`, so that a
30-day notice period or a 3-day window can be tested by moving a manual clock forward.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
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
