"""Public notice (公告送达, CPL-95 / CPL-283): the draft, and reading it.

- When the ladder reaches the public-notice step its one attempt is "sent" by
  :func:`open_notice` (a court channel): a ``notices`` row in state ``draft`` with the text
  composed from the documents' kinds (CPL-INT-139), and the attempt waits for a person.
- A clerk may edit the draft (:func:`edit_notice`).
- The approval and the publications that follow are ``channels.public_notice.publications``.

The notice period the text states is escalation's (``escalation.notice_period``), as are the
periods an answer or appeal runs (``escalation.periods``): the text says what the rules count.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from delivery.clock import rfc3339
from delivery.context import Context
from delivery.domain import Attempt, AttemptState
from delivery.identity import mask_address
from delivery.ids import new_id
from delivery.representations import notice_text_sha256
from delivery.staff import Role, StaffUser
from delivery.storage import notices as stored_notices
from delivery.storage.unit_of_work import DispatchTransaction
from delivery.vocabulary import EventType, NoticeState
from escalation.notice_period import notice_period
from escalation.periods import running_period
from escalation.policy import NOTICE_CHANNEL
from templates.notices import NoticeFacts, compose_notice

SOURCE = "clerk"
DRAFT = NoticeState.DRAFT
PUBLISHED = NoticeState.PUBLISHED
APPROVER = Role.SUPERVISOR
MAX_TITLE = 300
MAX_BODY = 20000


NoticeAction = Callable[[Context, DispatchTransaction, dict[str, Any], str, str], Awaitable[None]]


class NoticeRefused(Exception):
    """The notice action is not allowed now (``conflict``) or its details are wrong."""

    def __init__(self, reason: str, *, conflict: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.conflict = conflict


def may_approve(staff: StaffUser | None) -> bool:
    """Only a staff account with the supervisor role approves a public notice (CPL-95);
    API keys and clerks may not."""
    return staff is not None and staff.has(APPROVER)


# --- Opening the draft (the court channel) ---


async def open_notice(ctx: Context, tx: DispatchTransaction, attempt: Attempt) -> None:
    """The notice attempt's "send": a draft to review and approve; the attempt then waits."""
    attempt.next_action_at = None
    tx.touch_attempt(attempt)
    if await stored_notices.notice_of_attempt(tx.conn, attempt.id) is not None:
        return  # opened already (a job run twice)
    title, body = await compose_for(ctx, tx)
    notice_id = new_id()
    await stored_notices.insert_notice(
        tx.conn,
        id=notice_id,
        attempt_id=attempt.id,
        dispatch_id=tx.dispatch.id,
        court=tx.dispatch.court,
        case_number=tx.dispatch.case_number,
        recipient_name=tx.dispatch.recipient_name,
        locale=tx.dispatch.locale,
        title=title,
        body=body,
        state=DRAFT,
        created_at=tx.now,
        updated_at=tx.now,
    )
    attempt.provider_ref = notice_id
    tx.record(
        EventType.NOTICE_DRAFTED,
        source=NOTICE_CHANNEL,
        attempt_id=attempt.id,
        data={
            "notice_id": notice_id,
            "sha256": notice_text_sha256(title, body),
            "locale": tx.dispatch.locale,
        },
    )


async def compose_for(ctx: Context, tx: DispatchTransaction) -> tuple[str, str]:
    """The draft's (title, body) from the dispatch's documents, court, case and recipient."""
    dispatch = tx.dispatch
    policy = ctx.policies.get(dispatch.policy, dispatch.court)
    at_home = dispatch.domicile_in_china
    period = notice_period(policy, domicile_in_china=at_home)

    def running(kind: str) -> int:
        found = running_period(kind, domicile_in_china=at_home)
        assert found is not None  # every kind the notice names starts a period
        return found[1]

    hearing = None
    if dispatch.hearing_at is not None:
        local = dispatch.hearing_at.astimezone(ctx.settings.zone)
        hearing = (
            local.strftime("%Y-%m-%d %H:%M")
            if dispatch.locale == "en"
            else f"{local.year}年{local.month}月{local.day}日{local:%H:%M}"
        )
    facts = NoticeFacts(
        locale=dispatch.locale,
        court=dispatch.court,
        case_number=dispatch.case_number,
        recipient_name=dispatch.recipient_name,
        documents=[(d.kind, d.title) for d in await tx.documents()],
        article=period.article,
        period_days=period.days,
        answer_days=running("complaint"),
        appeal_days={"judgment": running("judgment"), "ruling": running("ruling")},
        hearing_time=hearing,
    )
    return compose_notice(facts)


# --- Reading ---


def methods_tried(dispatch_attempts: list[Attempt]) -> list[dict[str, Any]]:
    """The methods tried before the notice and how each ended, from the dispatch's attempts:
    the "history recorded in the file" CPL-95 asks for (addresses masked)."""
    return [
        {
            "attempt_id": a.id,
            "step": a.step_index,
            "channel": a.channel,
            "address": mask_address(a.channel, a.address),
            "source": a.source.value,
            "state": a.state.value,
            "reason": a.reason,
            "tried_at": rfc3339(a.sent_at or a.created_at),
        }
        for a in sorted(dispatch_attempts, key=lambda a: (a.created_at, a.id))
        if a.channel != NOTICE_CHANNEL
    ]


# --- The actions (called through clerk_actions, in the dispatch's transaction) ---


async def current_notice(tx: DispatchTransaction) -> tuple[Attempt, dict[str, Any]]:
    """The open notice attempt of the dispatch and its notice."""
    for attempt in reversed(await tx.attempts()):
        if attempt.channel == NOTICE_CHANNEL and attempt.state in (
            AttemptState.PENDING,
            AttemptState.SENT,
        ):
            row = await stored_notices.notice_of_attempt(tx.conn, attempt.id)
            if row is None:
                break
            return attempt, dict(row)
    raise NoticeRefused("the notice draft is not ready yet; try again in a moment")


def text_field(details: dict[str, Any], name: str, limit: int, *, required: bool) -> str | None:
    value = details.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise NoticeRefused(f"{name} must be a non-empty text (≤ {limit})", conflict=False)
    return value.strip()


async def edit_notice(
    ctx: Context, tx: DispatchTransaction, details: dict[str, Any], note: str, actor: str
) -> None:
    """``edit_notice`` {title?, body}: the clerk's review of the draft (only while a draft)."""
    attempt, notice = await current_notice(tx)
    if notice["state"] != DRAFT:
        raise NoticeRefused("the notice is published; it can no longer be edited")
    body = text_field(details, "body", MAX_BODY, required=True)
    title = text_field(details, "title", MAX_TITLE, required=False) or notice["title"]
    assert body is not None
    body = body.replace("\r\n", "\n") + "\n"
    await stored_notices.update_notice(
        tx.conn, notice["id"], title=title, body=body, updated_at=tx.now
    )
    tx.record(
        EventType.NOTICE_EDITED,
        source=SOURCE,
        actor=actor,
        attempt_id=attempt.id,
        data={
            "note": note,
            "notice_id": notice["id"],
            "old_sha256": notice_text_sha256(notice["title"], notice["body"]),
            "new_sha256": notice_text_sha256(title, body),
            "title": title,
        },
    )
