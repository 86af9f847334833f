"""The contract between ``delivery`` and the channels: what to send, and how it went.

A channel speaks to one outside world (an SMTP relay, an SMS provider, a carrier). It receives a
:class:`ServiceMessage`, renders it with ``templates`` and reports a :class:`SendResult`; it never
touches storage, so ``delivery`` records the outcome and its evidence in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class SendOutcome(StrEnum):
    ACCEPTED = "accepted"
    PERMANENT = "permanent"  # this message to this address will never go: the attempt fails
    TRANSIENT = "transient"  # try this message again later; counts as a try
    UNAVAILABLE = (
        "unavailable"  # the channel itself is broken (login, sender): not the address's fault
    )


@dataclass(frozen=True)
class ServiceMessage:
    attempt_id: str
    dispatch_id: str
    address: str
    locale: str
    court: str
    case_number: str
    recipient_name: str
    document_titles: tuple[str, ...]
    link_url: str
    link_expires_at: datetime
    time_zone: str
    composed_at: datetime


@dataclass(frozen=True)
class CodeMessage:
    """A one-time code for the identity check, sent on another channel than the link."""

    address: str
    locale: str
    court: str
    code: str
    valid_minutes: int


@dataclass(frozen=True)
class SendResult:
    outcome: SendOutcome
    detail: str
    provider_ref: str | None = None


class Channel(Protocol):
    name: str

    async def send(self, message: ServiceMessage) -> SendResult: ...

    async def send_code(self, message: CodeMessage) -> SendResult: ...

    async def close(self) -> None: ...
