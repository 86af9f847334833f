"""Which SMS providers are healthy: each provider's figures over a window, its standing, and the
switches between standings (docs/decisions/0045), as GOV.UK Notify moves traffic off a provider
that errs or reports slowly and back when it recovers.

A provider is ``demoted`` when, over the window, too many of its sends failed on its side
(refused for its own reasons, or no answer) or too many of its service messages (the ones whose
receipt is awaited) had no receipt in time; a demoted provider is tried only after every other
one. ``probe_after`` its demotion it is put back in its place on trial (``probing``) and becomes
``active`` again once enough sends show it healthy, or is demoted again. Every switch is a row
with its time, reason and figures, shown to the operator (``songda sms-providers``, /healthz, the
staff page).

The standings live in the database, shared by every worker process: a switch is one conditional
update, so two workers seeing the same figures record it once, and it survives a restart or a
lost Redis (docs/decisions/0045).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from delivery.channel_api import SendOutcome, SendResult
from delivery.clock import Clock
from delivery.config_sms import SmsHealth
from delivery.storage import sms_sends as store
from delivery.storage.engine import Engine
from delivery.storage.sms_sends import (
    ACCEPTED,
    FAILED,
    REFUSED_NUMBER,
    UNKNOWN,
    SendRow,
    Switch,
)
from delivery.vocabulary import SmsKind, SmsProviderState

log = logging.getLogger(__name__)
# A refusal for the number (REFUSED_NUMBER) says nothing of the provider.
PROVIDER_ERRORS = frozenset({FAILED, UNKNOWN})


@dataclass(frozen=True)
class Figures:
    sends: int
    errors: int
    checked: int  # accepted service messages whose receipt came, or is overdue
    slow: int  # of those, the receipts that came late or not at all

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


def outcome_of(result: SendResult) -> str:
    """How one answer counts for its provider."""
    if result.outcome == SendOutcome.ACCEPTED:
        return ACCEPTED
    if result.unknown:
        return UNKNOWN
    number = result.outcome == SendOutcome.PERMANENT or result.number_at_fault
    return REFUSED_NUMBER if number else FAILED


def figures(rows: Iterable[SendRow], now: datetime, health: SmsHealth) -> Figures:
    sends = errors = checked = slow = 0
    for row in rows:
        sends += 1
        errors += row.outcome in PROVIDER_ERRORS
        # Only a service message's receipt is awaited: a code's may never come.
        if row.outcome != ACCEPTED or not row.receipt_awaited:
            continue
        if row.receipt_at is not None:
            checked += 1
            slow += row.receipt_at - row.started_at > health.slow_receipt
        elif now - row.started_at > health.slow_receipt:
            checked += 1
            slow += 1
    return Figures(sends, errors, checked, slow)


def unhealthy(f: Figures, health: SmsHealth) -> str | None:
    """Why these figures demote a provider, or None."""
    if f.sends >= health.min_samples and f.errors * 100 >= health.max_error_percent * f.sends:
        return f"errors: {f.errors} of {f.sends} sends"
    if f.checked >= health.min_samples and f.slow * 100 >= health.max_slow_percent * f.checked:
        return f"slow receipts: {f.slow} of {f.checked} beyond {health.slow_receipt}"
    return None


@dataclass(frozen=True)
class Standings:
    """What the operator sees: each provider's (state, since), the latest switches first."""

    states: dict[str, tuple[str, datetime]]
    switches: list[Switch]


async def provider_standings(engine: Engine, limit: int = 20) -> Standings:
    return Standings(await store.standings(engine), await store.recent_switches(engine, limit))


class ProviderBoard:
    """The providers' standings, read and moved on the injected clock."""

    def __init__(self, engine: Engine, clock: Clock, health: SmsHealth) -> None:
        self.engine = engine
        self.clock = clock
        self.health = health

    async def order(self, providers: list[str]) -> list[str]:
        """``providers`` in their configured order, each reviewed first, demoted ones last."""
        known = await store.standings(self.engine)
        now = self.clock.now()
        states: dict[str, str] = {}
        for name in providers:
            if name not in known:
                await store.first_standing(self.engine, name, SmsProviderState.ACTIVE, now)
                known[name] = (SmsProviderState.ACTIVE, now)
            states[name] = await self._review(name, *known[name], now)
        return sorted(providers, key=lambda name: states[name] == SmsProviderState.DEMOTED)

    async def _review(self, provider: str, state: str, since: datetime, now: datetime) -> str:
        """The provider's standing now, switched (and the switch recorded) where due."""
        health = self.health
        if state == SmsProviderState.DEMOTED:
            if now - since < health.probe_after:
                return state
            return await self._switch(
                provider, state, since, SmsProviderState.PROBING, "probe", Figures(0, 0, 0, 0)
            )
        rows = await store.sends_since(self.engine, provider, max(now - health.window, since))
        found = figures(rows, now, health)
        reason = unhealthy(found, health)
        if reason is not None:
            return await self._switch(
                provider, state, since, SmsProviderState.DEMOTED, reason, found
            )
        if state == SmsProviderState.PROBING and found.sends >= health.min_samples:
            return await self._switch(
                provider, state, since, SmsProviderState.ACTIVE, "healthy again", found
            )
        return state

    async def _switch(
        self, provider: str, state: str, since: datetime, to: str, reason: str, found: Figures
    ) -> str:
        change = Switch(
            at=self.clock.now(),
            provider=provider,
            from_state=state,
            to_state=to,
            reason=reason,
            figures={**found.as_dict(), "window_seconds": int(self.health.window.total_seconds())},
        )
        if await store.switch(self.engine, change, since):
            log.warning(
                "sms provider switched",
                extra={
                    "provider": provider,
                    "from_state": state,
                    "to_state": to,
                    "reason": reason,
                    "figures": change.figures,
                },
            )
        return to

    async def asked(self, provider: str, attempt_id: str | None, number: str, kind: SmsKind) -> str:
        """A send about to be asked of ``provider``: recorded first, so that a worker dying
        while it waits leaves the attempt bound to this provider (and a reply from ``number``
        is matched to this message, whatever its kind)."""
        now = self.clock.now()
        return await store.start_send(self.engine, provider, attempt_id, now, number, kind)

    async def answered(self, send_id: str, result: SendResult, polled: bool) -> None:
        """The provider's answer; an accepted message of a ``polled`` provider is asked about
        ``poll_after`` unless its receipt comes first."""
        outcome = outcome_of(result)
        poll_at = (
            self.clock.now() + self.health.poll_after if polled and outcome == ACCEPTED else None
        )
        await store.finish_send(self.engine, send_id, outcome, result.provider_ref, poll_at)

    async def bound_provider(self, attempt_id: str) -> str | None:
        return await store.unsettled_provider(self.engine, attempt_id)
