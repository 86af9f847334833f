"""What ``decide`` can ask ``delivery`` to do. Plain data: the decision never touches storage."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from escalation.rules import Completion


@dataclass(frozen=True)
class NewAttempt:
    channel: str
    contact_id: str


@dataclass(frozen=True)
class StartStep:
    index: int
    name: str
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


Action = StartStep | SkipStep | CompleteService | CloseAttempt | FlagAtRisk | Fail | WaitUntil
