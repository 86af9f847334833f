"""The figures of a report and how each is computed, as its published definitions state them
(:data:`DEFINITIONS`, shown by the API, the page and the OpenAPI document): a :class:`Tally` of
the outcomes counted in a group, turned into :class:`Figures`. delivery/services/reports.py
groups the outcomes; docs/decisions/0013-service-reports.md.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from delivery.domain import CANCELLED_EVENT as CANCELLED
from delivery.domain import ELECTRONIC_CHANNELS
from delivery.domain import FAILED_EVENT as FAILED
from delivery.storage.reports import OutcomeRow
from templates.i18n import N_

# What each figure means, as published (API, page, OpenAPI). English is the msgid; the page
# shows it in the reader's language through the message catalogue (templates/i18n.py).
DEFINITIONS = {
    "e_service_usage_rate": N_("served electronically (e-mail or SMS) / served"),
    "success_rate": N_("served / (served + failed); cancelled dispatches are left out"),
    "time_to_service": N_(
        "served_at (the legal instant of service) − the time the dispatch was created; "
        "median and 90th percentile, nearest-rank method (the value at rank ⌈p·n⌉ of "
        "the n sorted durations), in hours"
    ),
    "first_try_rate": N_(
        "served by an attempt of the first ladder step started for the dispatch / served"
    ),
    "served_after_confirmation": N_(
        "served dispatches whose serving address the recipient confirmed in a signed address "
        "confirmation form (CPL-INT-136/137), in the case or a case linked to it"
    ),
    "served_by_reply": N_(
        "served dispatches whose service the recipient's own reply to the e-mail or SMS "
        "completed (OLR-31)"
    ),
    "period": N_(
        "a dispatch counts when its standing outcome (the latest of served, failed, "
        "cancelled; a service reversed or a failure resumed puts it back in progress, "
        "not counted) falls between from and to inclusive, in the court's time zone: "
        "the date of service for a served dispatch, the day the failure or cancellation "
        "was recorded otherwise. Weeks (ISO, from Monday) and months are those of that "
        "date. By channel: a served dispatch counts for the channel that served it, a "
        "failed or cancelled one for the channel of its last attempt. By clerk: the "
        "dispatch's owner as its last ownership event names it"
    ),
}


@dataclass(frozen=True)
class Figures:
    served: int
    failed: int
    cancelled: int
    served_electronically: int
    served_first_try: int
    served_after_confirmation: int
    served_by_reply: int
    e_service_usage_rate: float | None
    success_rate: float | None
    first_try_rate: float | None
    median_hours: float | None
    p90_hours: float | None

    def as_json(self) -> dict[str, Any]:
        return {
            "served": self.served,
            "failed": self.failed,
            "cancelled": self.cancelled,
            "served_electronically": self.served_electronically,
            "served_first_try": self.served_first_try,
            "served_after_confirmation": self.served_after_confirmation,
            "served_by_reply": self.served_by_reply,
            "e_service_usage_rate": self.e_service_usage_rate,
            "success_rate": self.success_rate,
            "first_try_rate": self.first_try_rate,
            "time_to_service": {"median_hours": self.median_hours, "p90_hours": self.p90_hours},
        }


def _rate(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 4)


def nearest_rank(ordered: Sequence[float], percent: int) -> float | None:
    """The ``percent``-th percentile of sorted values by the nearest-rank method."""
    if not ordered:
        return None
    return ordered[max(1, math.ceil(percent * len(ordered) / 100)) - 1]


@dataclass
class Tally:
    served: int = 0
    failed: int = 0
    cancelled: int = 0
    electronic: int = 0
    first_try: int = 0
    confirmed: int = 0
    by_reply: int = 0
    hours: list[float] = field(default_factory=list)

    def add(self, row: OutcomeRow) -> None:
        if row.outcome == FAILED:
            self.failed += 1
        elif row.outcome == CANCELLED:
            self.cancelled += 1
        else:
            self.served += 1
            self.electronic += row.channel in ELECTRONIC_CHANNELS
            self.first_try += row.served_step is not None and row.served_step == row.first_step
            self.confirmed += row.confirmed_address
            self.by_reply += row.by_reply
            if row.served_at is not None and row.created_at is not None:
                self.hours.append((row.served_at - row.created_at).total_seconds() / 3600)

    @classmethod
    def merged(cls, tallies: Iterable[Tally]) -> Tally:
        """The tally of all the rows ``tallies`` counted (the totals of the groups)."""
        total = cls()
        for t in tallies:
            total.served += t.served
            total.failed += t.failed
            total.cancelled += t.cancelled
            total.electronic += t.electronic
            total.first_try += t.first_try
            total.confirmed += t.confirmed
            total.by_reply += t.by_reply
            total.hours += t.hours
        return total

    def figures(self) -> Figures:
        ordered = sorted(self.hours)
        return self.figures_with(nearest_rank(ordered, 50), nearest_rank(ordered, 90))

    def figures_with(self, median: float | None, p90: float | None) -> Figures:
        """The figures of the counts, with the median and 90th percentile time to service in
        hours given (computed by the database: delivery/storage/reports.py outcome_figures)."""
        return Figures(
            served=self.served,
            failed=self.failed,
            cancelled=self.cancelled,
            served_electronically=self.electronic,
            served_first_try=self.first_try,
            served_after_confirmation=self.confirmed,
            served_by_reply=self.by_reply,
            e_service_usage_rate=_rate(self.electronic, self.served),
            success_rate=_rate(self.served, self.served + self.failed),
            first_try_rate=_rate(self.first_try, self.served),
            median_hours=None if median is None else round(median, 2),
            p90_hours=None if p90 is None else round(p90, 2),
        )
