"""CPL-95 / CPL-283: how long after its last publication a public notice serves.

One function picks the period, so the completion rules (``escalation.rules``), the notice's
text (``channels.public_notice.notices``) and the public board (``channels.public_notice``
pages) cannot disagree about it: 30 days for a party domiciled in China (CPL-95), 60 for a
party without domicile in China (CPL-283) — the values a policy may change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

NOTICE_PERIOD = timedelta(days=30)  # CPL-95
NOTICE_PERIOD_ABROAD = timedelta(days=60)  # CPL-283


class NoticePeriods(Protocol):
    """What holds a court's two notice periods: a policy, or the facts a rule is given."""

    @property
    def notice_period(self) -> timedelta: ...

    @property
    def notice_period_abroad(self) -> timedelta: ...


@dataclass(frozen=True)
class NoticePeriod:
    rule_id: str  # CPL-95 or CPL-283
    article: int  # the CPL article the notice's text cites
    period: timedelta

    @property
    def days(self) -> int:
        return self.period.days


def notice_period(periods: NoticePeriods, *, domicile_in_china: bool) -> NoticePeriod:
    """The notice period that applies to the recipient, with the rule that sets it."""
    if domicile_in_china:
        return NoticePeriod("CPL-95", 95, periods.notice_period)
    return NoticePeriod("CPL-283", 283, periods.notice_period_abroad)
