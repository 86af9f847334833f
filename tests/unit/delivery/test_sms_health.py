"""How a provider's sends count for its health (docs/decisions/0045): provider-side failures and
unknown outcomes are errors, a refusal for the number is not; receipts late or overdue are slow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from delivery.channel_api import SendOutcome, SendResult
from delivery.config_sms import SmsHealth
from delivery.services.sms_health import Figures, figures, outcome_of, unhealthy
from delivery.storage.sms_sends import SendRow

NOW = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
HEALTH = SmsHealth(min_samples=4, max_error_percent=50, max_slow_percent=50)


def test_answers_count_for_the_provider_as_they_should() -> None:
    assert outcome_of(SendResult(SendOutcome.ACCEPTED, "ok")) == "accepted"
    assert outcome_of(SendResult(SendOutcome.PERMANENT, "bad number")) == "refused_number"
    assert outcome_of(SendResult(SendOutcome.UNAVAILABLE, "balance")) == "failed"
    assert outcome_of(SendResult(SendOutcome.TRANSIENT, "timeout", unknown=True)) == "unknown"
    limited = SendResult(SendOutcome.TRANSIENT, "flow control", number_at_fault=True)
    assert outcome_of(limited) == "refused_number"


def test_figures_over_a_window() -> None:
    minute = timedelta(minutes=1)
    rows = [
        SendRow(NOW - 20 * minute, "accepted", NOW - 19 * minute),  # fast receipt
        SendRow(NOW - 20 * minute, "accepted", NOW - 10 * minute),  # slow receipt
        SendRow(NOW - 20 * minute, "accepted", None),  # overdue
        SendRow(NOW - 1 * minute, "accepted", None),  # not due yet
        SendRow(NOW - 1 * minute, "refused_number", None),
        SendRow(NOW - 1 * minute, "unknown", None),
        # A code's or a confirmation request's receipt is awaited by no one: never slow.
        SendRow(NOW - 20 * minute, "accepted", None, receipt_awaited=False),
        SendRow(NOW - 20 * minute, "accepted", NOW - 10 * minute, receipt_awaited=False),
    ]
    assert figures(rows, NOW, HEALTH) == Figures(sends=8, errors=1, checked=3, slow=2)


def test_thresholds_need_enough_samples() -> None:
    assert unhealthy(Figures(3, 3, 0, 0), HEALTH) is None
    assert unhealthy(Figures(4, 2, 0, 0), HEALTH) == "errors: 2 of 4 sends"
    assert unhealthy(Figures(4, 1, 4, 1), HEALTH) is None
    reason = unhealthy(Figures(8, 0, 4, 2), HEALTH)
    assert reason is not None and reason.startswith("slow receipts: 2 of 4")
