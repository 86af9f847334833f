"""One dispatch's walk up the ``cn-civil`` ladder, as events in time order, for the seed.

Each step opens its attempts, and either runs out of its window (the attempts expire and the
next step starts) or ends the walk the way the dispatch was planned to end: served by one
channel, failed, cancelled, or waiting for the notice's approval. Whatever lies after "now"
is cut, so a recent dispatch is still in progress."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from delivery.clock import rfc3339

STEPS = ("electronic", "postal", "in_person", "public_notice")
STEP_CHANNELS = (("email", "sms"), ("postal",), ("in_person",), ("public_notice",))
WINDOW_DAYS = (3, 10, 21)  # in person: three visits of 7 days
# The channel that served, its ladder step, its weight among served dispatches, the rule.
SERVED_BY = (
    ("email", 0, 45, "OLR-31"),
    ("sms", 0, 25, "OLR-31"),
    ("postal", 1, 20, "CPL-91"),
    ("in_person", 2, 7, "CPL-88"),
    ("public_notice", 3, 3, "CPL-95"),
)
READINGS = {
    "OLR-31": "recipient-confirmed address; accepted by the recipient's mail or SMS provider",
    "CPL-91": "court express mail signed for by the recipient (carrier tracking)",
    "CPL-88": "delivered in person by the field server, receipt signed",
    "CPL-95": "public notice period elapsed after the last publication",
}


def random_hash(rng: random.Random) -> str:
    return f"{rng.getrandbits(256):064x}"


# ULID text: 26 Crockford base32 digits of (milliseconds << 80 | 80 random bits), written
# here two digits (10 bits) per lookup — the ``ulid`` package's encoder took half the seed's time.
_DIGITS = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_PAIRS = [a + b for a in _DIGITS for b in _DIGITS]
_SHIFTS = range(120, -1, -10)
# An event's data as Songda writes it; one encoder (json.dumps makes one per call for these
# options).
_event_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def id_at(at: datetime, rng: random.Random) -> str:
    """A ULID of the moment: ids sort like the times they were made at, as Songda's do; its
    random part from ``rng``, so that a seed makes the same ids."""
    value = int(at.timestamp() * 1000) << 80 | rng.getrandbits(80)
    return "".join([_PAIRS[value >> shift & 1023] for shift in _SHIFTS])


class Timeline:
    """One dispatch's events in time order, cut at ``now``; tracks states as it goes."""

    def __init__(self, rng: random.Random, dispatch_id: str, now: datetime) -> None:
        self.rng = rng
        self.dispatch_id = dispatch_id
        self.now = now
        self.events: list[dict[str, Any]] = []
        self.state = "queued"
        self.attempt_states: dict[str, str] = {}
        self.cut = False
        self._head = "0" * 64

    def add(
        self,
        at: datetime,
        type: str,
        data: dict[str, Any],
        *,
        source: str = "escalation",
        actor: str | None = None,
        attempt_id: str | None = None,
        state: str | None = None,
        attempt_state: str | None = None,
    ) -> bool:
        """Record the event unless it lies after ``now`` (then nothing later is recorded)."""
        if self.cut or at > self.now:
            self.cut = True
            return False
        if state is not None:
            self.state = state
            data = {"state": state, **data}
        if attempt_id is not None and attempt_state is not None:
            self.attempt_states[attempt_id] = attempt_state
        digest = random_hash(self.rng)
        self.events.append(
            {
                "id": id_at(at, self.rng),
                "dispatch_id": self.dispatch_id,
                "seq": len(self.events) + 1,
                "attempt_id": attempt_id,
                "type": type,
                "occurred_at": at,
                "recorded_at": at,
                "source": source,
                "actor": actor,
                "data": _event_json(data),
                "prev_hash": self._head,
                "hash": digest,
            }
        )
        self._head = digest
        return True


Plan = tuple[str, int, str | None, str | None]  # end, its step, serving channel, rule


class Ladder(NamedTuple):
    """Where the walk got to: the attempts made, the step running, the service if served."""

    attempts: list[dict[str, Any]]
    step_index: int | None
    step_started_at: datetime | None
    served_attempt: str | None
    served_at: datetime | None
    served_periods: list[dict[str, Any]]


def walk(
    t: Timeline,
    plan: Plan,
    step_start: datetime,
    *,
    contact_ids: dict[str, tuple[str, str]],
    hearing: datetime | None,
    owner: str,
    documents: list[str],
    messages: list[tuple[str, datetime]],
) -> Ladder:
    """The steps from ``step_start`` to the planned end, recorded on ``t`` until "now";
    each webhook message it causes is appended to ``messages``."""
    rng = t.rng
    end, end_step, channel, rule = plan
    attempts: list[dict[str, Any]] = []
    served_attempt: str | None = None
    served_at: datetime | None = None
    served_periods: list[dict[str, Any]] = []
    step_index: int | None = None
    step_started_at: datetime | None = None
    for step in range(end_step + 1):
        started = t.add(
            step_start,
            "step_started",
            {"step": step, "name": STEPS[step], "attempts": len(STEP_CHANNELS[step])},
            state="in_progress" if step == 0 else None,
        )
        if not started:
            break
        step_index, step_started_at = step, step_start
        if step:
            messages.append(("dispatch.escalated", step_start))
        if step == 1 and hearing is not None and rng.random() < 0.5:
            t.add(
                step_start,
                "dispatch_at_risk",
                {
                    "service_deadline_at": rfc3339(hearing - timedelta(days=15)),
                    "step_ends_at": rfc3339(step_start + timedelta(days=10)),
                },
            )
            messages.append(("dispatch.at_risk", step_start))
        step_attempts = []
        for ch in STEP_CHANNELS[step]:
            kind = {"email": "email", "sms": "phone"}.get(ch, "postal")
            contact_id, address = contact_ids[kind]
            attempt_id = id_at(step_start, rng)
            sent_at = step_start + timedelta(seconds=rng.randint(2, 600))
            t.add(
                step_start,
                "attempt_created",
                {"channel": ch, "contact_id": contact_id},
                attempt_id=attempt_id,
                attempt_state="pending",
            )
            t.add(
                sent_at,
                "attempt_sent",
                {"state": "sent"},
                attempt_id=attempt_id,
                attempt_state="sent",
            )
            step_attempts.append((attempt_id, ch, contact_id, address, sent_at))
        attempts += [
            {
                "id": a,
                "channel": ch,
                "contact_id": c,
                "address": addr,
                "step": step,
                "created_at": step_start,
                "sent_at": s,
            }
            for a, ch, c, addr, s in step_attempts
        ]
        if step < end_step:  # the window ran out: the step's attempts expired
            step_end = step_start + timedelta(days=WINDOW_DAYS[step], seconds=rng.randint(0, 3600))
            for attempt_id, *_ in step_attempts:
                t.add(
                    step_end,
                    "attempt_expired",
                    {"state": "expired"},
                    attempt_id=attempt_id,
                    attempt_state="expired",
                )
            step_start = step_end
            continue
        if end == "served":
            attempt_id = next(a for a, ch, *_ in step_attempts if ch == channel)
            delay = {
                0: timedelta(minutes=rng.expovariate(1 / 90)),
                1: timedelta(days=rng.uniform(1.5, 9)),
                2: timedelta(days=rng.uniform(0.5, 20)),  # up to three visits
                3: timedelta(days=rng.uniform(31, 40)),
            }[step]
            if step == 3:
                t.add(
                    step_start + timedelta(minutes=5),
                    "notice_awaiting_approval",
                    {},
                    state="notice_pending",
                )
                t.add(
                    step_start + timedelta(days=rng.uniform(0.5, 3)),
                    "notice_approved",
                    {"approved_by": f"staff:{owner}"},
                    source="clerk",
                    state="in_progress",
                )
            at = max(step_start + delay, max(s for *_, s in step_attempts))
            at += timedelta(seconds=rng.randint(5, 60))
            read = step == 0 and rng.random() < 0.4
            t.add(
                at,
                "attempt_read" if read else "attempt_delivered",
                {},
                attempt_id=attempt_id,
                attempt_state="read" if read else "delivered",
            )
            service_date = (at + timedelta(hours=8)).date()  # Asia/Shanghai
            # The answer period the service starts (as progress.py records it).
            periods = [
                {
                    "name": "answer",
                    "document_id": documents[0],
                    "basis": "CPL-128",
                    "days": 15,
                    "ends_on": (service_date + timedelta(days=15)).isoformat(),
                    "provisional": False,
                }
            ]
            if t.add(
                at,
                "dispatch_served",
                {
                    "legal_basis": rule,
                    "reading": READINGS[rule],
                    "served_at": rfc3339(at),
                    "service_date": service_date.isoformat(),
                    "channel": channel,
                    "attempt_id": attempt_id,
                    "completing_event_id": t.events[-1]["id"],
                    "periods": periods,
                },
                state="served",
            ):
                served_attempt, served_at, served_periods = attempt_id, at, periods
                for other, *_ in step_attempts:  # the ladder closes the other attempts
                    if other != attempt_id:
                        t.add(
                            at,
                            "attempt_cancelled",
                            {"reason": "service_completed"},
                            attempt_id=other,
                            attempt_state="cancelled",
                        )
                t.add(at, "chain_checkpoint", {"head": t.events[-1]["hash"], "alg": "Ed25519"})
                messages.append(("dispatch.served", at))
        elif end == "failed":
            at = step_start + timedelta(days=WINDOW_DAYS[min(step, 2)])
            for attempt_id, *_ in step_attempts:
                t.add(
                    at,
                    "attempt_failed",
                    {"state": "failed"},
                    attempt_id=attempt_id,
                    attempt_state="failed",
                )
            if t.add(at, "dispatch_failed", {"reason": "ladder_exhausted"}, state="failed"):
                messages.append(("dispatch.failed", at))
        elif end == "cancelled":
            at = step_start + timedelta(hours=rng.uniform(1, 48))
            if t.add(
                at,
                "dispatch_cancelled",
                {"reason": "case withdrawn"},
                source="clerk",
                actor=f"staff:{owner}",
                state="cancelled",
            ):
                for attempt_id, *_ in step_attempts:
                    t.attempt_states[attempt_id] = "cancelled"
                messages.append(("dispatch.cancelled", at))
        elif t.add(
            step_start + timedelta(minutes=5),
            "notice_awaiting_approval",
            {},
            state="notice_pending",
        ):
            messages.append(("dispatch.notice_awaiting_approval", step_start))
        break
    return Ladder(attempts, step_index, step_started_at, served_attempt, served_at, served_periods)
