"""A clerk action as it arrives from outside — the JSON API or the dispatch page's forms —
checked the same way before :func:`clerk_actions.perform` runs it.

Both entry points only translate: the API turns :class:`InvalidRequest` into a 422 problem and
:class:`ApproverRequired` into a 403; the page shows the form again with the reason. What is
checked (a known action, a note, who may approve a notice) is written once, here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from delivery.context import Context
from delivery.services import clerk_actions, notices
from delivery.staff import StaffUser

MAX_NOTE = 2000


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class InvalidRequest(Exception):
    """The action is unknown or the note is missing; nothing was done."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors


class ApproverRequired(Exception):
    """CPL-95: a supervisor (judge) approves public notice; not a clerk, not a case system."""


@dataclass(frozen=True)
class Requester:
    """Who asks: how events name them, their staff account (if any) and API key (if any)."""

    actor: str
    staff: StaffUser | None = None
    api_key_id: str | None = None


def check(action: object, note: object) -> list[FieldError]:
    """What is wrong with the action's name and note (every action needs a note: why)."""
    errors = []
    if action not in clerk_actions.ALL_ACTIONS:
        errors.append(FieldError("action", "unknown action"))
    if not isinstance(note, str) or not note.strip() or len(note) > MAX_NOTE:
        errors.append(FieldError("note", f"required: why (at most {MAX_NOTE} characters)"))
    return errors


async def submit(
    ctx: Context,
    dispatch_id: str,
    who: Requester,
    action: object,
    note: object,
    details: dict[str, Any],
) -> None:
    """Check the request, then perform it (``clerk_actions.ActionRefused`` when the dispatch's
    state or the details do not allow it). The caller has checked the dispatch is in scope."""
    errors = check(action, note)
    if errors:
        raise InvalidRequest(errors)
    if action == "approve_notice" and not notices.may_approve(who.staff):
        raise ApproverRequired()
    await clerk_actions.perform(
        ctx,
        dispatch_id,
        clerk_actions.ActionRequest(
            str(action), str(note).strip(), details, caller_key_id=who.api_key_id
        ),
        actor=who.actor,
    )
