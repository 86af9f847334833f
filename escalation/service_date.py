"""The date of service: when the completing event serves, deemed dates rolled forward where the
policy says so, and the day that is on the court's calendar.

``decide`` completes service with these, and the public-notice pages show the deemed date a
published notice will serve on with the same function (:func:`notice_deemed_at`), so the board
and the dispatch never disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime, tzinfo

from delivery.domain import Attempt, Dispatch, Event
from escalation.calendar import CourtDays
from escalation.policy import NOTICE_CHANNEL, Policy
from escalation.rules import CaseFacts, Completion, earliest_completion

NOTICE_RULES = ("CPL-95", "CPL-283")


def case_facts(dispatch: Dispatch, policy: Policy, zone: tzinfo) -> CaseFacts:
    """What the completion rules know of the dispatch: its documents, the recipient's domicile,
    the policy's notice periods and the court's zone."""
    return CaseFacts(
        dispatch.document_kinds,
        dispatch.domicile_in_china,
        notice_period=policy.notice_period,
        notice_period_abroad=policy.notice_period_abroad,
        zone=zone,
    )


def deemed_service(completion: Completion, policy: Policy, court_days: CourtDays) -> Completion:
    """The completion with its date as it counts: a notice period ending on a holiday ends on
    the next working day when the policy says so (CPL-85 read onto the notice's own period;
    unsettled in practice, so off unless a policy asks). Other completions are dated as found."""
    if completion.channel != NOTICE_CHANNEL or not policy.notice_period_rolls_forward:
        return completion
    return replace(completion, served_at=court_days.rolled_forward(completion.served_at))


def notice_deemed_at(
    dispatch: Dispatch,
    notice: Attempt,
    events: Sequence[Event],
    policy: Policy,
    court_days: CourtDays,
) -> datetime | None:
    """When the public notice ``notice`` serves by its publications so far (CPL-95, CPL-283,
    the last publication counting, CPL-INT-138), by the same rules ``decide`` applies; ``None``
    before it is published."""
    facts = case_facts(dispatch, policy, court_days.zone)
    done = earliest_completion(NOTICE_RULES, [notice], events, facts)
    return None if done is None else deemed_service(done, policy, court_days).served_at


def service_date(served_at: datetime, zone: tzinfo) -> date:
    """The date of service: the day of the completing (or deemed) instant on the court's
    calendar — the day the periods run from (CPL-85)."""
    return served_at.astimezone(zone).date()
