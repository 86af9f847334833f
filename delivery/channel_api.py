"""The contract between ``delivery`` and the channels: what to send, and how it went.

A channel speaks to one outside world (an SMTP relay, an SMS provider, a carrier). It receives a
:class:`ServiceMessage`, renders it with ``templates`` and reports a :class:`SendResult`; it never
touches storage, so ``delivery`` records the outcome and its evidence in one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable


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
    # Postal only (filled by ``sending.send`` for postal attempts): the address's postcode.
    postcode: str | None = None
    # The notice code printed on the message (``XXXX-XXXX``) and the court's own page where the
    # recipient checks it (``{public_base_url}/check``); None only for messages built elsewhere.
    notice_code: str | None = None
    check_url: str | None = None


@dataclass(frozen=True)
class CodeMessage:
    """A one-time code for the identity check, sent on another channel than the link."""

    address: str
    locale: str
    court: str
    code: str
    valid_minutes: int


@dataclass(frozen=True)
class ConfirmationRequestMessage:
    """A request to confirm one's addresses online (送达地址确认书, CPL-INT-136): the signed link
    to the form. It serves nothing, so it carries no document and no notice code."""

    address: str
    locale: str
    court: str
    case_number: str
    recipient_name: str
    link_url: str
    link_expires_at: datetime
    time_zone: str


@dataclass(frozen=True)
class SendResult:
    outcome: SendOutcome
    detail: str
    provider_ref: str | None = None
    # When the provider accepted (ACCEPTED only): taken from the injected clock the moment the
    # answer came back, it dates the sending and service, however late it is recorded.
    accepted_at: datetime | None = None
    # SMS: the provider that gave this answer, the definite refusals of the providers tried
    # before it for the same try, and — for a failure — whether the provider may have accepted
    # the message after all (a timeout, a broken answer): then no other provider may send it
    # (docs/decisions/0045).
    provider: str | None = None
    refusals: tuple[str, ...] = ()
    unknown: bool = False
    # A refusal for the number's own reasons, though worth a later try (flow control for one
    # number): like a permanent one, it says nothing of the provider's health.
    number_at_fault: bool = False


class Channel(Protocol):
    name: str

    async def send(self, message: ServiceMessage) -> SendResult: ...

    async def send_code(self, message: CodeMessage) -> SendResult: ...

    async def send_confirmation_request(
        self, message: ConfirmationRequestMessage
    ) -> SendResult: ...

    async def close(self) -> None: ...


# --- Tracking: what a carrier says happened to a mail piece (postal channel) ---


@dataclass(frozen=True)
class TrackingEvent:
    """One carrier event, as read from its webhook or its tracking API.

    ``event_id`` is the carrier's own id: the webhook and polling paths both key on it, so the
    same event seen twice is recorded once. ``signer_id`` is the full ID number the carrier
    wrote down; ``delivery`` keeps only a keyed digest and the last 4 characters. ``raw`` is the
    carrier's payload without ``signer_id``.
    """

    event_id: str
    tracking_number: str
    status: (
        str  # accepted | in_transit | delivery_attempted | delivered | refused | returned | lost
    )
    occurred_at: datetime
    signed_by: str | None = None
    signer_id: str | None = field(default=None, repr=False)
    relation: str | None = None
    reason: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


class WebhookRejected(Exception):
    """An inbound provider callback that must not be recorded (``status``: the HTTP answer)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class TrackingError(Exception):
    """The carrier's tracking API could not answer (network, 5xx, auth): try again later."""


@runtime_checkable
class TrackingChannel(Protocol):
    """A channel whose provider reports later, by signed webhook and by polling (the post)."""

    carrier_name: str

    def read_webhook(
        self, headers: Mapping[str, str], body: bytes, now: datetime
    ) -> TrackingEvent: ...

    async def fetch_tracking(self, tracking_number: str) -> list[TrackingEvent]: ...
