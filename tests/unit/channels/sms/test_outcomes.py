"""OLR-31 read for SMS receipts in any order (docs/decisions/0023): a table of every case."""

from __future__ import annotations

import pytest

from channels.sms.outcomes import SmsReceipt, olr31_sms_receipt
from delivery.domain import AttemptState

S = AttemptState
R = SmsReceipt


@pytest.mark.parametrize(
    ("status", "state", "delivered_before", "contradicted_before", "dispatch_open", "effect"),
    [
        # In order.
        ("delivered", S.SENT, False, False, True, R.DELIVERED),
        ("undelivered", S.SENT, False, False, True, R.FAILED),
        ("failed", S.SENT, False, False, True, R.FAILED),
        # OLR-31: "undelivered" after "delivered" is evidence, never a step back; once.
        ("undelivered", S.DELIVERED, True, False, False, R.CONTRADICTED),
        ("failed", S.READ, True, False, True, R.CONTRADICTED),
        ("undelivered", S.CANCELLED, True, False, False, R.CONTRADICTED),
        ("undelivered", S.DELIVERED, True, True, False, R.NOTHING),
        # "delivered" after "undelivered" corrects the carrier, while the dispatch is open.
        ("delivered", S.FAILED, False, False, True, R.DELIVERED),
        ("delivered", S.FAILED, False, False, False, R.DELIVERED_LATE),
        # Songda ended the attempt (window elapsed, service by another attempt): kept as ended.
        ("delivered", S.EXPIRED, False, False, True, R.DELIVERED_LATE),
        ("delivered", S.CANCELLED, False, False, False, R.DELIVERED_LATE),
        ("undelivered", S.EXPIRED, False, False, True, R.NOTHING),
        # Repeats and progress reports after a later status.
        ("delivered", S.DELIVERED, True, False, True, R.NOTHING),
        ("delivered", S.EXPIRED, True, False, True, R.NOTHING),
        ("undelivered", S.FAILED, False, False, True, R.NOTHING),
        ("sent", S.DELIVERED, True, False, True, R.NOTHING),
        ("queued", S.SENT, False, False, True, R.NOTHING),
        ("sent", S.FAILED, False, False, True, R.NOTHING),
    ],
)
def test_olr31_sms_receipt(
    status: str,
    state: AttemptState,
    delivered_before: bool,
    contradicted_before: bool,
    dispatch_open: bool,
    effect: SmsReceipt,
) -> None:
    assert (
        olr31_sms_receipt(
            status,
            state,
            delivered_before=delivered_before,
            contradicted_before=contradicted_before,
            dispatch_open=dispatch_open,
        )
        == effect
    )
