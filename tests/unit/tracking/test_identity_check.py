"""The identity check's lock-out: 5 failures in 15 minutes lock for 15 minutes, 10 lock for good."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tracking.identity_check import LockState, last4_matches, lock_state

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def minutes_ago(*minutes: float) -> list[datetime]:
    return [NOW - timedelta(minutes=m) for m in minutes]


def test_no_failures_is_not_locked() -> None:
    assert lock_state([], NOW) == LockState(False, None, 0, tries_left=5)


def test_four_failures_within_15_minutes_is_not_locked() -> None:
    assert lock_state(minutes_ago(14, 10, 5, 1), NOW) == LockState(False, None, 4, tries_left=1)


def test_fifth_failure_within_15_minutes_locks_for_15_minutes_from_it() -> None:
    failures = minutes_ago(14, 10, 5, 3, 1)
    state = lock_state(failures, NOW)
    assert state == LockState(True, NOW - timedelta(minutes=1) + timedelta(minutes=15), 5)


def test_lock_outlasts_the_first_failures_leaving_the_window() -> None:
    """Failures at 0, 1, 2, 3 and 14 minutes: still locked at minute 20 (until minute 29)."""
    failures = minutes_ago(20, 19, 18, 17, 6)
    state = lock_state(failures, NOW)
    assert state == LockState(True, NOW - timedelta(minutes=6) + timedelta(minutes=15), 5)


def test_lock_runs_from_the_last_failure_of_the_cluster() -> None:
    failures = minutes_ago(14, 12, 9, 6, 3, 1)  # six within the window
    state = lock_state(failures, NOW)
    assert state.locked
    assert state.until == NOW - timedelta(minutes=1) + timedelta(minutes=15)
    assert state.failures == 6


def test_failure_order_does_not_matter() -> None:
    failures = minutes_ago(1, 14, 3, 10, 5)
    assert lock_state(failures, NOW) == lock_state(sorted(failures), NOW)
    assert lock_state(failures, NOW).locked


def test_lock_ends_at_its_until_time() -> None:
    failures = minutes_ago(14, 10, 5, 3, 1)
    until = lock_state(failures, NOW).until
    assert until is not None
    assert lock_state(failures, until - timedelta(microseconds=1)).locked
    assert lock_state(failures, until) == LockState(False, None, 5, tries_left=5)


@pytest.mark.parametrize(
    "spread",
    [(40, 30, 20, 10, 1), (16, 10, 5, 3, 1), (35, 25, 20, 18, 5, 2)],
    ids=["over-40-min", "five-spread-over-exactly-15-min", "no-five-within-15-min"],
)
def test_failures_spread_over_more_than_15_minutes_do_not_lock(spread: tuple[int, ...]) -> None:
    state = lock_state(minutes_ago(*spread), NOW)
    assert not state.locked
    assert state.failures == len(spread)


@pytest.mark.parametrize("count", [10, 11])
def test_ten_failures_since_issue_lock_until_reissued(count: int) -> None:
    failures = [NOW - timedelta(days=2, hours=i) for i in range(count)]
    assert lock_state(failures, NOW) == LockState(True, None, count)


def test_nine_failures_spread_out_do_not_lock() -> None:
    failures = [NOW - timedelta(hours=i + 1) for i in range(9)]
    assert lock_state(failures, NOW) == LockState(False, None, 9, tries_left=1)


@pytest.mark.parametrize(
    ("expected", "given"),
    [
        ("123X", "123X"),
        ("123X", "123x"),
        ("123x", "123X"),
        ("123X", " 12 3x "),
        ("0042", "0042"),
        ("123X", "1\t2 3\u3000X"),
    ],
)
def test_last4_matches(expected: str, given: str) -> None:
    assert last4_matches(expected, given)


@pytest.mark.parametrize("given", ["", "23X", "0123X", "124X", "123Y", "1234", "    "], ids=repr)
def test_last4_rejects(given: str) -> None:
    assert not last4_matches("123X", given)


@pytest.mark.parametrize("given", ["１２３Ｘ", "一二三四"])
def test_last4_non_ascii_input_is_a_mismatch_not_a_crash(given: str) -> None:
    """A recipient typing full-width or Chinese characters gets "no match", not an error."""
    assert last4_matches("123X", given) is False


@pytest.mark.parametrize(
    ("minutes", "left"),
    [((), 5), ((14, 2), 3), ((20, 19), 5), ((300, 200, 100, 90, 80, 70, 60), 3)],
    ids=["none", "two-in-window", "two-outside-window", "seven-since-issue"],
)
def test_tries_left_is_the_nearer_of_the_two_locks(minutes: tuple[int, ...], left: int) -> None:
    """What the page promises: that many more wrong answers now, and the link locks."""
    state = lock_state(minutes_ago(*minutes), NOW)
    assert state.tries_left == left
    failures = minutes_ago(*minutes) + [NOW + timedelta(seconds=i) for i in range(left)]
    assert lock_state(failures, NOW + timedelta(seconds=left)).locked
