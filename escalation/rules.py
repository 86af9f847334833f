"""Completion rules: which recorded event on which channel completes service, and when.

Each rule is a named function of (attempt, event) that returns a :class:`Completion` or ``None``.
The rule ids follow ``shared/domain.md``; a policy step lists the rule ids that apply to it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from delivery.domain import ELECTRONIC_CHANNELS, Attempt, AttemptState, ContactSource, Event


@dataclass(frozen=True)
class Completion:
    rule_id: str
    attempt_id: str
    channel: str
    served_at: datetime
    event_id: str
    reading: str


Rule = Callable[[Attempt, Event], Completion | None]


def olr31_confirmed_email_accepted(attempt: Attempt, event: Event) -> Completion | None:
    """OLR-31 read with CPL-INT-135: an e-mail to an address the recipient provided or confirmed
    is served when the court's outgoing mail server accepts it, dated by that acceptance — unless
    a bounce later proved it never arrived."""
    if (
        attempt.channel == "email"
        and attempt.source == ContactSource.RECIPIENT_CONFIRMED
        and attempt.state != AttemptState.BOUNCED
        and event.type == "attempt_sent"
    ):
        return Completion(
            "OLR-31",
            attempt.id,
            attempt.channel,
            event.occurred_at,
            event.id,
            "recipient-confirmed address; accepted by the court's mail server (CPL-INT-135)",
        )
    return None


def olr31_read_after_identity_check(attempt: Attempt, event: Event) -> Completion | None:
    """OLR-31: on any electronic address (and the only way for a court-found one) the recipient
    opening the link and passing the identity check is reading, dated then."""
    if attempt.channel in ELECTRONIC_CHANNELS and event.type == "identity_verified":
        return Completion(
            "OLR-31",
            attempt.id,
            attempt.channel,
            event.occurred_at,
            event.id,
            f"{attempt.source.value} address; read after the identity check",
        )
    return None


RULES: dict[str, tuple[Rule, ...]] = {
    "OLR-31": (olr31_confirmed_email_accepted, olr31_read_after_identity_check),
}


def earliest_completion(
    rule_ids: Iterable[str], attempts: Sequence[Attempt], events: Sequence[Event]
) -> Completion | None:
    """The earliest completion by the event's own time (OLR-31), whenever it was learnt."""
    rules = [rule for rule_id in rule_ids for rule in RULES[rule_id]]
    by_id = {a.id: a for a in attempts}
    found: list[Completion] = []
    for event in events:
        attempt = by_id.get(event.attempt_id or "")
        if attempt is None:
            continue
        found.extend(c for rule in rules if (c := rule(attempt, event)) is not None)
    return min(found, key=lambda c: (c.served_at, c.event_id), default=None)
