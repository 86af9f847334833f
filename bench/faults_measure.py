"""What ``faults.py`` counts: the sink's messages per recipient and the database's tally.

A fault shows as dispatches lost or served twice, mail sent twice, ``served_at`` not the first
acceptance, and the time until what it interrupted is served."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field

import sqlalchemy as sa
from aiosmtpd.smtp import SMTP, Envelope, Session
from faults_scenarios import RECOVERY_TARGET, Run
from throughput_sink import CountingSink

from delivery.domain import AttemptState
from delivery.storage.engine import create_engine
from delivery.storage.schema import attempts, dispatches, events
from delivery.vocabulary import EventType


class FaultSink(CountingSink):
    """Counts like the throughput bench's sink, per recipient too; a wait for the fault."""

    def __init__(self, expected: int, fault_at: int) -> None:
        super().__init__(expected)
        self.fault_at = fault_at
        self.reached = asyncio.Event()
        self.per_recipient: Counter[str] = Counter()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.per_recipient.update(envelope.rcpt_tos)
        reply = await super().handle_DATA(server, session, envelope)
        if self.messages >= self.fault_at:
            self.reached.set()
        return reply


@dataclass
class Outcome:
    scenario: str
    n: int
    lost: int = 0
    double_served: int = 0
    duplicate_mail: int = 0  # a message sent again although its acceptance had been learnt
    resent_unknown: int = 0  # sent again after a kill mid-conversation: the outcome was unknown
    in_flight: int = 0  # dispatches whose attempt was in ``sending`` at the fault
    misdated: int = 0
    recovery: float | None = None
    drained: float | None = None
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return (
            not self.failures
            and self.lost == self.double_served == self.duplicate_mail == self.misdated == 0
            and self.recovery is not None
            and self.recovery <= RECOVERY_TARGET
        )


# --- measuring -----------------------------------------------------------------------------------


async def in_flight(url: str) -> set[str]:
    """The dispatches with an attempt being sent (``sending``) right now."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                sa.select(attempts.c.dispatch_id).where(
                    attempts.c.state == AttemptState.SENDING.value
                )
            )
            return {row[0] for row in rows}
    finally:
        await engine.dispose()


async def served_times(url: str) -> dict[str, float]:
    """Dispatch id → when its (first) ``dispatch_served`` event was recorded, as a Unix time."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                sa.select(events.c.dispatch_id, sa.func.min(events.c.recorded_at))
                .where(events.c.type == EventType.DISPATCH_SERVED)
                .group_by(events.c.dispatch_id)
            )
            return {d: recorded.timestamp() for d, recorded in rows}
    finally:
        await engine.dispose()


async def wait_for_all(run: Run, url: str, n: int, deadline: float) -> None:
    while time.time() < deadline:
        run.check_alive()
        if len(await served_times(url)) >= n:
            return
        await asyncio.sleep(0.5)


async def tally(url: str, outcome: Outcome, sink: FaultSink) -> None:
    """Lost, double-served and misdated dispatches, from the database; the sink's second
    messages split into re-sends of an outcome Songda never learnt (the worker died in the
    SMTP conversation: its claim was released, ``attempt_send_interrupted``, and one
    acceptance is recorded) and duplicates of an acceptance it had learnt."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            served = {
                d: (state, at)
                for d, state, at in await conn.execute(
                    sa.select(dispatches.c.id, dispatches.c.state, dispatches.c.served_at)
                )
            }
            served_events = await conn.execute(
                sa.select(events.c.dispatch_id, sa.func.count())
                .where(events.c.type == EventType.DISPATCH_SERVED)
                .group_by(events.c.dispatch_id)
            )
            interrupted = set(
                (
                    await conn.scalars(
                        sa.select(events.c.dispatch_id).where(
                            events.c.type == EventType.ATTEMPT_SEND_INTERRUPTED
                        )
                    )
                ).all()
            )
            sent_count = dict(
                (
                    await conn.execute(
                        sa.select(events.c.dispatch_id, sa.func.count())
                        .where(events.c.type == EventType.ATTEMPT_SENT)
                        .group_by(events.c.dispatch_id)
                    )
                ).all()
            )
            of_address = dict(
                (await conn.execute(sa.select(attempts.c.address, attempts.c.dispatch_id))).all()
            )
            first_sent = dict(
                (
                    await conn.execute(
                        sa.select(events.c.dispatch_id, sa.func.min(events.c.occurred_at))
                        .where(events.c.type == EventType.ATTEMPT_SENT)
                        .group_by(events.c.dispatch_id)
                    )
                ).all()
            )
    finally:
        await engine.dispose()
    outcome.lost = outcome.n - sum(1 for state, _at in served.values() if state == "served")
    outcome.double_served = sum(max(0, count - 1) for _d, count in served_events)
    for recipient, count in sink.per_recipient.items():
        dispatch_id = of_address.get(recipient)
        unknown = dispatch_id in interrupted and sent_count.get(dispatch_id) == 1
        if count > 1 and unknown:
            outcome.resent_unknown += count - 1
        elif count > 1:
            outcome.duplicate_mail += count - 1
    outcome.misdated = sum(
        1 for d, (state, at) in served.items() if state == "served" and at != first_sent.get(d)
    )
