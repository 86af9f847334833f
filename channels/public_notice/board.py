"""Reading notices for the pages: one published notice with its publications and the notice
period the rules apply to its recipient, whether a published notice was withdrawn, and for staff
the drafts awaiting approval and one notice with its dispatch for review. The rows themselves
are ``delivery.storage.notices``'s.

The lifecycle — drafting, editing, approval, publication — is ``channels.public_notice.notices``.
"""

from __future__ import annotations

from dataclasses import dataclass

from channels.public_notice.notices import PUBLISHED
from delivery.context import Context
from delivery.domain import AttemptState, DispatchState
from delivery.staff import StaffUser
from delivery.storage import notice_publications, queries
from delivery.storage import notices as stored_notices
from delivery.storage.engine import READ_ONLY, Connection
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


async def drafts(ctx: Context, courts: tuple[str, ...]) -> list[NoticeRow]:
    """Notices awaiting approval in ``courts``, oldest first (the supervisors' queue)."""
    async with ctx.engine.connect() as conn:
        conn = await conn.execution_options(**READ_ONLY)
        return await stored_notices.drafts(conn, courts)


async def visible_notice(ctx: Context, notice_id: str, user: StaffUser) -> NoticeRow | None:
    """The notice, or ``None`` when there is none or it is of a court the account does not see."""
    async with ctx.engine.connect() as conn:
        notice = await stored_notices.notice_by_id(conn, notice_id)
    return notice if notice is not None and user.sees(notice["court"]) else None


@dataclass(frozen=True)
class NoticeForReview:
    """What the staff notice page shows: the notice, its dispatch, its publications."""

    notice: NoticeRow
    detail: queries.DispatchDetail
    publications: list[PublicationRow]


async def notice_for_review(
    ctx: Context, notice_id: str, user: StaffUser
) -> NoticeForReview | None:
    """The notice with its dispatch and publications, read together, or ``None`` when there is
    none or it is of a court the account does not see."""
    async with ctx.engine.connect() as conn:
        conn = await conn.execution_options(**READ_ONLY)
        notice = await stored_notices.notice_by_id(conn, notice_id)
        if notice is None or not user.sees(notice["court"]):
            return None
        detail = await queries.dispatch_detail(conn, notice["dispatch_id"], user.courts)
        publications = await notice_publications.publications(conn, notice["id"])
    assert detail is not None  # the notice's dispatch is of a court the account sees
    return NoticeForReview(notice, detail, publications)
