"""The identity check in front of a recipient's documents, and its lock-out.

The last 4 characters of an identity number have only about 11,000 values, so failures are
rate-limited: five failures within 15 minutes lock the link for 15 minutes from the last of them,
and ten failures since
the link was issued lock it until it is re-issued. The count is read from the recorded events, so
it cannot drift from the evidence.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from delivery.identity import normalise_identity

WINDOW = timedelta(minutes=15)
WINDOW_LIMIT = 5
TOTAL_LIMIT = 10


@dataclass(frozen=True)
class LockState:
    locked: bool
    until: datetime | None  # None with locked=True: until the link is re-issued
    failures: int
    # Wrong answers the recipient may still give before the link locks (0 when locked): the
    # page says so, so that nobody is locked out by surprise.
    tries_left: int = 0


def lock_state(failure_times: Sequence[datetime], now: datetime) -> LockState:
    """Whether a link is locked, given the times of its failed checks since it was issued.

    Any five failures within 15 minutes lock it until 15 minutes after the fifth of them.
    """
    ordered = sorted(failure_times)
    if len(ordered) >= TOTAL_LIMIT:
        return LockState(True, None, len(ordered))
    lock_ends = [
        ordered[i] + WINDOW
        for i in range(WINDOW_LIMIT - 1, len(ordered))
        if ordered[i] - ordered[i - WINDOW_LIMIT + 1] < WINDOW
    ]
    until = max(lock_ends, default=None)
    if until is not None and now < until:
        return LockState(True, until, len(ordered))
    in_window = sum(1 for t in ordered if t > now - WINDOW)
    left = min(WINDOW_LIMIT - in_window, TOTAL_LIMIT - len(ordered))
    return LockState(False, None, len(ordered), tries_left=left)


def last4_matches(expected_last4: str, given: str) -> bool:
    given = normalise_identity(given)
    return len(given) == 4 and hmac.compare_digest(
        given.encode("utf-8"), expected_last4.upper().encode("utf-8")
    )
