"""Reading notices for the pages: one published notice with its publications and the notice
period the rules apply to its recipient, and whether a published notice was withdrawn. The
rows themselves (the board's search, the supervisors' queue of drafts) are
``delivery.storage.notices``'s.

The lifecycle — drafting, editing, approval, publication — is ``channels.public_notice.notices``.
"""

from __future__ import annotations

from dataclasses import dataclass

from channels.public_notice.notices import PUBLISHED
from delivery.domain import AttemptState, DispatchState
from delivery.storage import notice_publications
from delivery.storage import notices as stored_notices
from delivery.storage.engine import Connection
from delivery.storage.notice_publications import PublicationRow
from delivery.storage.notices import NoticeRow
from escalation.notice_period import notice_period
from escalation.policy import NOTICE_CHANNEL, PolicyBook


@dataclass(frozen=True)
class PublishedNotice:
    """What the public page shows of one published notice."""

    notice: NoticeRow
    publications: list[PublicationRow]
    period_days: int  # CPL-95 / CPL-283, as the completion rules count it for the recipient
    served: bool  # the dispatch was served by this notice


async def published_notice(
    conn: Connection, policies: PolicyBook, notice_id: str
) -> PublishedNotice | None:
    """One published notice with its publications, or ``None`` (drafts do not exist publicly)."""
    notice = await stored_notices.notice_by_id(conn, notice_id)
    if notice is None or notice["state"] != PUBLISHED:
        return None
    dispatch = await stored_notices.notice_dispatch(conn, notice["dispatch_id"])
    policy = policies.get(dispatch.policy, dispatch.court)
    period = notice_period(policy, domicile_in_china=dispatch.domicile_in_china)
    return PublishedNotice(
        notice,
        await notice_publications.publications(conn, notice["id"]),
        period.days,
        dispatch.state == DispatchState.SERVED.value
        and dispatch.served_by_channel == NOTICE_CHANNEL,
    )


# A published notice whose attempt ended without serving (the dispatch was cancelled, escalated
# past the notice, or served another way) no longer runs: the board says it was withdrawn.
WITHDRAWN_ATTEMPT_STATES = frozenset({AttemptState.EXPIRED.value, AttemptState.CANCELLED.value})


def withdrawn(notice: NoticeRow) -> bool:
    return notice["attempt_state"] in WITHDRAWN_ATTEMPT_STATES
