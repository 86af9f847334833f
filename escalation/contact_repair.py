"""ICP-16: a contact found by repair (失联修复) serves only if the recipient used it lately.

With no address that works, a court asks carriers and platforms for the numbers and accounts the
party used actively "in the last 3 months" (domain.md, ICP-16). The rule is a look-back from the
day the repaired contact is recorded, not a period that runs against a party, so CPL-85's
counting (the first day not counted, a period ending on a holiday moved on) does not apply and the
court calendar is not consulted: the last activity must fall on or after the same day of the
month three calendar months back (the month's last day where that month is shorter), and not after
today — both days in the court's zone (docs/decisions/0041).
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, tzinfo

from templates.texts import Text, wording

LOOK_BACK_MONTHS = 3


def earliest_activity(today: date) -> date:
    """The first day whose activity still counts: today three calendar months back."""
    month_index = today.year * 12 + today.month - 1 - LOOK_BACK_MONTHS
    year, month = divmod(month_index, 12)
    last_day = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(today.day, last_day))


def repair_refusal(active_on: date, *, now: datetime, zone: tzinfo) -> Text | None:
    """Why a repaired contact last used on ``active_on`` may not serve (None when it may):
    activity in the future, or older than three months (ICP-16)."""
    today = now.astimezone(zone).date()
    if active_on > today:
        return wording(
            "the date of activity %(active_on)s is in the future (today is %(today)s)",
            active_on=active_on.isoformat(),
            today=today.isoformat(),
        )
    earliest = earliest_activity(today)
    if active_on < earliest:
        return wording(
            "the contact was last used on %(active_on)s, more than 3 months ago: ICP-16 allows "
            "only a contact used actively since %(earliest)s",
            active_on=active_on.isoformat(),
            earliest=earliest.isoformat(),
        )
    return None
