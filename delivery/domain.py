"""Domain types shared by every room: dispatches, attempts, contacts, events and their states.

Nothing here knows about HTTP, SQL or a provider. The state machines reject illegal transitions
so that a bug elsewhere cannot, for example, turn a cancelled dispatch back into a served one. The
states and the other names matched on are delivery/vocabulary.py's (imported here for the rooms).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from delivery.vocabulary import ELECTRONIC_CHANNELS as ELECTRONIC_CHANNELS
from delivery.vocabulary import AttemptState as AttemptState
from delivery.vocabulary import ContactKind as ContactKind
from delivery.vocabulary import ContactSource as ContactSource
from delivery.vocabulary import DispatchState as DispatchState
from delivery.vocabulary import DocumentKind, EventType


class IllegalTransition(Exception):
    """A state change that the state machine does not allow."""


LOCALES = ("zh-CN", "en")
# The events that give a dispatch an outcome, or take it back (service reversed, a failure
# resumed): the reports count the latest of them, read from their projection
# (delivery/storage/outcomes.py).
SERVED_EVENT, FAILED_EVENT, CANCELLED_EVENT = (
    EventType.DISPATCH_SERVED,
    EventType.DISPATCH_FAILED,
    EventType.DISPATCH_CANCELLED,
)
REVERSAL_EVENTS = (EventType.DISPATCH_UNSERVED, EventType.DISPATCH_RESUMED)
OUTCOME_EVENTS = (SERVED_EVENT, FAILED_EVENT, CANCELLED_EVENT, *REVERSAL_EVENTS)

DOCUMENT_KINDS = frozenset(DocumentKind)

_D = DispatchState
DISPATCH_TRANSITIONS: dict[DispatchState, frozenset[DispatchState]] = {
    _D.QUEUED: frozenset({_D.IN_PROGRESS, _D.FAILED, _D.CANCELLED}),
    _D.IN_PROGRESS: frozenset({_D.NOTICE_PENDING, _D.SERVED, _D.FAILED, _D.CANCELLED}),
    # A clerk escalating past the notice, or a policy change, sends the ladder on.
    _D.NOTICE_PENDING: frozenset({_D.IN_PROGRESS, _D.SERVED, _D.FAILED, _D.CANCELLED}),
    # Service is reversed only by a recorded rebuttal or a bounce proving non-arrival.
    _D.SERVED: frozenset({_D.IN_PROGRESS}),
    # Final, except a case in simplified procedure that converts to ordinary procedure: its
    # dispatch failed only because public notice was out of reach (CPL-INT-140).
    _D.FAILED: frozenset({_D.IN_PROGRESS}),
    _D.CANCELLED: frozenset(),
}
RESUMABLE_FAILURES = frozenset({"requires_ordinary_procedure"})

_A = AttemptState
_ATTEMPT_ENDINGS = frozenset({_A.FAILED, _A.EXPIRED, _A.CANCELLED})
ATTEMPT_TRANSITIONS: dict[AttemptState, frozenset[AttemptState]] = {
    # The court's own channels (a field task, a published notice) go out without a provider.
    _A.PENDING: frozenset({_A.SENDING, _A.SENT}) | _ATTEMPT_ENDINGS,
    # A transient provider error puts the attempt back to pending with a retry time.
    _A.SENDING: frozenset({_A.PENDING, _A.SENT}) | _ATTEMPT_ENDINGS,
    _A.SENT: frozenset({_A.DELIVERED, _A.READ, _A.BOUNCED, _A.RETURNED, _A.REFUSED})
    | _ATTEMPT_ENDINGS,
    _A.DELIVERED: frozenset({_A.READ, _A.BOUNCED, _A.EXPIRED, _A.CANCELLED}),
    _A.READ: frozenset(),
    # A carrier's delivery report after its own failure report corrects it: the message did
    # arrive (docs/decisions/0023; channels.sms.outcomes decides when).
    _A.FAILED: frozenset({_A.DELIVERED}),
    _A.BOUNCED: frozenset(),
    _A.RETURNED: frozenset(),
    _A.REFUSED: frozenset(),
    _A.EXPIRED: frozenset(),
    _A.CANCELLED: frozenset(),
}

OPEN_DISPATCH_STATES = frozenset({_D.QUEUED, _D.IN_PROGRESS, _D.NOTICE_PENDING})
OPEN_ATTEMPT_STATES = frozenset({_A.PENDING, _A.SENDING, _A.SENT, _A.DELIVERED})


def check_dispatch_transition(current: DispatchState, new: DispatchState) -> None:
    if new not in DISPATCH_TRANSITIONS[current]:
        raise IllegalTransition(f"dispatch cannot go from {current} to {new}")


def check_attempt_transition(current: AttemptState, new: AttemptState) -> None:
    if new not in ATTEMPT_TRANSITIONS[current]:
        raise IllegalTransition(f"attempt cannot go from {current} to {new}")


@dataclass(frozen=True)
class Contact:
    """One address of the recipient on one channel, with where the court got it from."""

    id: str
    kind: ContactKind
    value: str
    source: ContactSource
    postcode: str | None = None
    # The address confirmation form it came from (CPL-INT-136/137), when it did.
    confirmation_id: str | None = None


@dataclass(frozen=True)
class DocumentRef:
    id: str
    sha256: str
    size: int
    title: str
    kind: str
    media_type: str


@dataclass
class Attempt:
    """One try on one channel at one address."""

    id: str
    dispatch_id: str
    step_index: int
    channel: str
    contact_id: str | None
    address: str
    source: ContactSource
    state: AttemptState
    created_at: datetime
    tries: int = 0
    reason: str | None = None
    provider_ref: str | None = None
    next_action_at: datetime | None = None
    sent_at: datetime | None = None
    link_issued_at: datetime | None = None
    # The worker process sending it (``sending`` only): its claim lasts while that worker
    # heartbeats (delivery/jobs/liveness.py).
    claimed_by: str | None = None

    def transition(self, new: AttemptState, reason: str | None = None) -> None:
        check_attempt_transition(self.state, new)
        self.state = new
        self.reason = reason


@dataclass
class Dispatch:
    """One service task: a set of documents for one recipient in one case."""

    id: str
    court: str
    case_number: str
    reference: str
    policy: str
    state: DispatchState
    recipient_name: str
    recipient_role: str
    id_last4: str
    consent_given: bool
    consent_basis: str | None
    locale: str
    created_at: datetime
    contacts: list[Contact] = field(default_factory=list)
    hearing_at: datetime | None = None
    state_reason: str | None = None
    step_index: int | None = None
    step_started_at: datetime | None = None
    next_action_at: datetime | None = None
    served_at: datetime | None = None
    service_date: date | None = None
    served_by_channel: str | None = None
    legal_basis: str | None = None
    api_key_id: str | None = None
    domicile_in_china: bool = True
    document_kinds: frozenset[str] = frozenset()
    # Service must complete before this instant for the hearing to go ahead (CPL-139, CPL-128).
    service_deadline_at: datetime | None = None
    # What runs from service (CPL-85): set when the dispatch is served.
    periods: list[dict[str, Any]] | None = None
    # The clerk (staff account id) who owns every service of the case; None when the court has none.
    owner_id: str | None = None

    def transition(self, new: DispatchState, reason: str | None = None) -> None:
        check_dispatch_transition(self.state, new)
        if self.state == DispatchState.FAILED and self.state_reason not in RESUMABLE_FAILURES:
            raise IllegalTransition(f"a dispatch that failed ({self.state_reason}) stays failed")
        self.state = new
        self.state_reason = reason

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_DISPATCH_STATES

    def contacts_of(self, kind: ContactKind) -> list[Contact]:
        return [c for c in self.contacts if c.kind == kind]


@dataclass(frozen=True)
class Event:
    """An append-only evidence record, chained by hash to the previous event of its dispatch."""

    id: str
    dispatch_id: str
    seq: int
    type: str
    occurred_at: datetime
    recorded_at: datetime
    source: str
    actor: str | None
    attempt_id: str | None
    data: dict[str, Any]
    prev_hash: str
    hash: str
