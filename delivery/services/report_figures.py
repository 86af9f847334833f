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

DEFINITIONS = {
    "en": {
        "e_service_usage_rate": "served electronically (e-mail or SMS) / served",
        "success_rate": "served / (served + failed); cancelled dispatches are left out",
        "time_to_service": (
            "served_at (the legal instant of service) − the time the dispatch was created; "
            "median and 90th percentile, nearest-rank method (the value at rank ⌈p·n⌉ of the "
            "n sorted durations), in hours"
        ),
        "first_try_rate": (
            "served by an attempt of the first ladder step started for the dispatch / served"
        ),
        "period": (
            "a dispatch counts when its standing outcome (the latest of served, failed, "
            "cancelled; a service reversed or a failure resumed puts it back in progress, not "
            "counted) falls between from and to inclusive, in the court's time zone: the date of "
            "service for a served dispatch, the day the failure or cancellation was recorded "
            "otherwise. Weeks (ISO, from Monday) and months are those of that date. By channel: "
            "a served dispatch counts for the channel that served it, a failed or cancelled one "
            "for the channel of its last attempt. By clerk: the dispatch's owner as its last "
            "ownership event names it"
        ),
    },
    "zh-CN": {
        "e_service_usage_rate": (
            "电子送达使用率 = 以电子方式（电子邮件、短信）送达的件数 / 送达件数"
        ),
        "success_rate": "送达成功率 = 送达件数 /（送达件数 + 送达失败件数），撤回的不计",
        "time_to_service": (
            "送达用时 = 送达时间（法定送达时刻）− 送达任务创建时间；取中位数和第 90 百分位数，"
            "按最近秩法（n 个用时排序后第 ⌈p·n⌉ 个），单位小时"
        ),
        "first_try_rate": "首次送达率 = 由该任务启动的第一个送达步骤中的尝试送达的件数 / 送达件数",
        "period": (
            "送达任务的现行结果（送达、失败、撤回中最后记录的一个；送达被撤销或失败后恢复的，"
            "视为仍在进行，不计）落在起止日期之间（含首尾，按法院所在时区）即计入：已送达的按"
            "送达日期，其他按记录失败或撤回的日期。按周（ISO 周，自周一起）、按月均按该日期。"
            "按渠道：已送达的计入送达渠道，失败或撤回的计入其最后一次尝试的渠道。"
            "按书记员：以最后一次承办人事件所记的承办书记员为准"
        ),
    },
}


@dataclass(frozen=True)
class Figures:
    served: int
    failed: int
    cancelled: int
    served_electronically: int
    served_first_try: int
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
            total.hours += t.hours
        return total

    def figures(self) -> Figures:
        ordered = sorted(self.hours)
        median, p90 = nearest_rank(ordered, 50), nearest_rank(ordered, 90)
        return Figures(
            served=self.served,
            failed=self.failed,
            cancelled=self.cancelled,
            served_electronically=self.electronic,
            served_first_try=self.first_try,
            e_service_usage_rate=_rate(self.electronic, self.served),
            success_rate=_rate(self.served, self.served + self.failed),
            first_try_rate=_rate(self.first_try, self.served),
            median_hours=None if median is None else round(median, 2),
            p90_hours=None if p90 is None else round(p90, 2),
        )
