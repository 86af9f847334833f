"""What the recipient's page tells them about the service itself, read inside the link's
transaction (delivery/services/recipient.py).

A person following a link must learn, before the identity check, what passing it does in law
(OLR-31: reading after the check completes electronic service, CPL-90) and which periods will then
run; after it, the date of service, the periods' end dates and the hearing. Nothing here counts a
period or decides service: the periods named before service are
:func:`escalation.periods.running_period`'s, and the end dates are those
:func:`escalation.periods.periods_from_service` stored on the dispatch when it was served — the
page shows exactly what the case system and the certificate were told (docs/decisions/0037).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from delivery.domain import Attempt, ContactSource, Dispatch, DispatchState, DocumentRef
from delivery.storage.notice_codes import code_of_attempt
from delivery.storage.unit_of_work import DispatchTransaction
from escalation.periods import running_period
from tracking.notice_codes import display

HEARING = "hearing"  # escalation/periods.py's name for the summons' hearing date


@dataclass(frozen=True)
class UpcomingPeriod:
    """A period that will run from the date of service (named before service)."""

    name: str
    days: int
    basis: str
    document_title: str


@dataclass(frozen=True)
class RunningPeriod:
    """A period that runs from the date of service, with its last day (CPL-85)."""

    name: str
    days: int | None
    basis: str
    ends_on: date
    provisional: bool
    document_title: str


@dataclass(frozen=True)
class ServiceFacts:
    served: bool
    service_date: date | None
    legal_basis: str | None
    # The link went to an address the recipient gave or confirmed (OLR-31: such an address is
    # served when the message reaches it; a court-found one only when it is read).
    address_confirmed: bool
    upcoming: tuple[UpcomingPeriod, ...]
    periods: tuple[RunningPeriod, ...]
    hearing_at: datetime | None
    notice_code: str | None


def upcoming_periods(
    documents: Sequence[DocumentRef], *, domicile_in_china: bool
) -> tuple[UpcomingPeriod, ...]:
    """The answer and appeal periods service of ``documents`` starts (CPL-128/171/285/286)."""
    upcoming = []
    for document in documents:
        rule = running_period(document.kind, domicile_in_china=domicile_in_china)
        if rule is not None:
            name, days, basis = rule
            upcoming.append(UpcomingPeriod(name, days, basis, document.title))
    return tuple(upcoming)


def stored_periods(
    stored: Sequence[dict[str, Any]] | None, documents: Sequence[DocumentRef]
) -> tuple[RunningPeriod, ...]:
    """The periods recorded at service, titled by their documents; the hearing is shown on its
    own (with its time), so it is left out here."""
    titles = {d.id: d.title for d in documents}
    return tuple(
        RunningPeriod(
            name=p["name"],
            days=p["days"],
            basis=p["basis"],
            ends_on=date.fromisoformat(p["ends_on"]),
            provisional=bool(p["provisional"]),
            document_title=titles.get(p["document_id"], ""),
        )
        for p in stored or ()
        if p["name"] != HEARING
    )


def facts_from(
    dispatch: Dispatch,
    attempt: Attempt,
    documents: Sequence[DocumentRef],
    notice_code: str | None,
) -> ServiceFacts:
    served = dispatch.state == DispatchState.SERVED
    return ServiceFacts(
        served=served,
        service_date=dispatch.service_date if served else None,
        legal_basis=dispatch.legal_basis if served else None,
        address_confirmed=attempt.source == ContactSource.RECIPIENT_CONFIRMED,
        upcoming=upcoming_periods(documents, domicile_in_china=dispatch.domicile_in_china),
        periods=stored_periods(dispatch.periods, documents) if served else (),
        hearing_at=dispatch.hearing_at,
        notice_code=notice_code,
    )


async def service_facts(tx: DispatchTransaction, attempt: Attempt) -> ServiceFacts:
    """The facts of ``attempt``'s dispatch as they stand in ``tx``."""
    code = await code_of_attempt(tx.conn, attempt.id)
    return facts_from(
        tx.dispatch, attempt, await tx.documents(), display(code) if code is not None else None
    )
