"""What one carrier status report does to an SMS attempt, whatever order reports arrive in.

Twilio reports a message's statuses by callback, and they arrive late, twice or out of order;
a carrier may even say ``undelivered`` after ``delivered`` (a late or wrong delivery report), or
the reverse. The reading (docs/decisions/0023), from OLR-31 and CPL-INT-135:

- ``delivered`` is the carrier's positive statement that the message reached the handset: on a
  recipient-confirmed number it is the service (OLR-31), dated when it was reported.
- A later ``undelivered``/``failed`` for the same message does not undo that by itself. Unlike an
  e-mail bounce — the receiving system's own proof of non-arrival (CPL-INT-135) — it is the same
  carrier contradicting itself, so it is recorded as evidence and flagged for the clerk; only a
  recorded rebuttal (OLR-31) un-serves. The attempt never moves back from ``delivered``.
- ``delivered`` after ``undelivered``/``failed`` corrects the carrier's earlier word: the message
  did arrive, so it counts like any delivery report. Service still follows the completion rules
  (the earliest effective service counts, OLR-31): it serves an open dispatch, whatever step the
  ladder has reached, and never re-dates a service already standing (that one is earlier).
- Repeats and progress reports (``queued``/``sent``…) after a later status change nothing.

Pure: ``channels.sms.receipts`` records what this decides.
"""

from __future__ import annotations

from enum import StrEnum

from delivery.domain import AttemptState

DELIVERED = "delivered"
UNDELIVERED = "undelivered"
FAILED = frozenset({UNDELIVERED, "failed"})
# A report that the message is on its way, no final word (a provider's "still waiting").
IN_PROGRESS = "sent"


class SmsReceipt(StrEnum):
    """The effect of one report on its attempt."""

    DELIVERED = "delivered"  # attempt → delivered; ``sms_delivered`` recorded
    DELIVERED_LATE = "delivered_late"  # ``sms_delivered`` recorded, the attempt's end kept
    FAILED = "failed"  # attempt → failed
    CONTRADICTED = "contradicted"  # ``sms_receipt_contradicted`` recorded and flagged
    NOTHING = "nothing"  # a repeat, or news older than what is known


# The states the carrier's own reports put an SMS attempt in, and the ones Songda ended it in
# (window elapsed, service completed by another attempt, dispatch cancelled).
CARRIER_DELIVERED = frozenset({AttemptState.DELIVERED, AttemptState.READ})
ENDED_BY_SONGDA = frozenset({AttemptState.EXPIRED, AttemptState.CANCELLED})


def olr31_sms_receipt(
    status: str,
    state: AttemptState,
    *,
    delivered_before: bool,
    contradicted_before: bool,
    dispatch_open: bool,
) -> SmsReceipt:
    """OLR-31 read for SMS receipts in any order (docs/decisions/0023).

    ``state`` is the attempt's state when the report arrives; ``delivered_before`` says whether
    the carrier already reported this message delivered (an attempt Songda ended keeps its state,
    so the state alone cannot say); ``contradicted_before`` whether a failure report after it
    was already recorded — the first one is the evidence, repeats add nothing. A delivery
    reported after the carrier's failure report re-opens the attempt as ``delivered`` only while
    the dispatch is open: a closed dispatch keeps no open attempt, so there the report is
    recorded and the attempt keeps its end.
    """
    if status == DELIVERED:
        if delivered_before or state in CARRIER_DELIVERED:
            return SmsReceipt.NOTHING
        if state == AttemptState.SENT or (state == AttemptState.FAILED and dispatch_open):
            return SmsReceipt.DELIVERED
        if state == AttemptState.FAILED or state in ENDED_BY_SONGDA:
            return SmsReceipt.DELIVERED_LATE
        return SmsReceipt.NOTHING
    if status in FAILED:
        if delivered_before or state in CARRIER_DELIVERED:
            return SmsReceipt.NOTHING if contradicted_before else SmsReceipt.CONTRADICTED
        if state == AttemptState.SENT:
            return SmsReceipt.FAILED
    return SmsReceipt.NOTHING
