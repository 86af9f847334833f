"""What the recipient's page says runs from service is escalation/periods.py's, never recounted."""

from __future__ import annotations

from datetime import date

from delivery.domain import DocumentRef
from delivery.services.recipient_view import (
    RunningPeriod,
    UpcomingPeriod,
    stored_periods,
    upcoming_periods,
)
from escalation.calendar import load_calendar
from escalation.periods import periods_after_service


def _doc(doc_id: str, kind: str, title: str) -> DocumentRef:
    return DocumentRef(doc_id, "0" * 64, 1000, title, kind, "application/pdf")


DOCUMENTS = [
    _doc("D1", "complaint", "民事起诉状"),
    _doc("D2", "summons", "传票"),
    _doc("D3", "ruling", "民事裁定书"),
    _doc("D4", "evidence", "证据材料"),
]


def test_upcoming_periods_name_the_rules_in_china_and_abroad() -> None:
    assert upcoming_periods(DOCUMENTS, domicile_in_china=True) == (
        UpcomingPeriod("answer", 15, "CPL-128", "民事起诉状"),
        UpcomingPeriod("appeal", 10, "CPL-171", "民事裁定书"),
    )
    assert upcoming_periods(DOCUMENTS, domicile_in_china=False) == (
        UpcomingPeriod("answer", 30, "CPL-285", "民事起诉状"),
        UpcomingPeriod("appeal", 30, "CPL-286", "民事裁定书"),
    )


def test_stored_periods_are_shown_as_computed_at_service_without_the_hearing() -> None:
    computed = periods_after_service(
        date(2026, 9, 28),
        [(d.id, d.kind) for d in DOCUMENTS],
        domicile_in_china=True,
        hearing_on=date(2026, 11, 2),
        calendar=load_calendar(),
    )
    shown = stored_periods([p.as_json() for p in computed], DOCUMENTS)
    assert [p.name for p in computed] == ["answer", "hearing", "appeal"]
    assert shown == tuple(
        RunningPeriod(p.name, p.days, p.basis, p.ends_on, p.provisional, title)
        for p, title in ((computed[0], "民事起诉状"), (computed[2], "民事裁定书"))
    )
