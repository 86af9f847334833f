"""What ``decide`` can ask ``delivery`` to do. Plain data: the decision never touches storage."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from escalation.rules import Completion


@dataclass(frozen=True)
class NewAttempt:
    channel: str
    # None for a channel that serves no address of the recipient (public notice).
    contact_id: str | None


@dataclass(frozen=True)
class StartStep:
    index: int
    name: str
    attempts: tuple[NewAttempt, ...]


@dataclass(frozen=True)
class RepeatAttempts:
    """Try again within the step under way: another visit after a failed one (in person, up to
    the step's ``max_attempts``), or another piece after a lost one."""

    index: int
    attempts: tuple[NewAttempt, ...]


@dataclass(frozen=True)
class SkipStep:
    index: int
    name: str
    reason: str


@dataclass(frozen=True)
class CompleteService:
    completion: Completion


@dataclass(frozen=True)
class CloseAttempt:
    """End an open attempt: ``cancelled`` once service is complete, ``expired`` after its window."""

    attempt_id: str
    state: str
    reason: str


@dataclass(frozen=True)
class FlagAtRisk:
    """The ladder cannot complete before the hearing's service deadline: a clerk must act."""

    deadline: datetime
    step_ends: datetime


@dataclass(frozen=True)
class Fail:
    reason: str


@dataclass(frozen=True)
class WaitUntil:
    when: datetime


Action = (
    StartStep
    | RepeatAttempts
    | SkipStep
    | CompleteService
    | CloseAttempt
    | FlagAtRisk
    | Fail
    | WaitUntil
)
