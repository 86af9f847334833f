"""One clerk action applied to many dispatches at once: the queue's bulk actions (issue 14).

A clerk selects rows of the queue, picks reassign, escalate or cancel and writes one note. Each
dispatch then goes through :func:`clerk_requests.submit` on its own — its own transaction, its own
event with the note and the actor, the same rules as the dispatch page and the API — so a
dispatch the action does not suit is refused and the others go ahead. Nothing here decides what
an action may do: the state check is :func:`clerk_actions.allowed_actions`, asked before each
dispatch so that the refusal can name the state, and whatever else the action refuses comes back
as its :class:`clerk_actions.ActionRefused` reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from delivery.context import Context
from delivery.domain import Dispatch
from delivery.services import clerk_actions, clerk_requests
from delivery.storage import queue_facts
from delivery.storage.engine import READ_ONLY
from templates.texts import Text

BULK_ACTIONS = ("reassign_owner", "escalate", "cancel", "request_address_confirmation")
# A queue page shows at most 200 rows; more than that is not a selection made by hand.
MAX_SELECTED = 200
NOT_FOUND = "not_found"  # not a dispatch of the account's courts
NOT_ALLOWED = "not_allowed"  # the action does not suit the dispatch's state
REFUSED = "refused"  # the action refused it; ``reason`` says why


@dataclass(frozen=True)
class Refusal:
    dispatch_id: str
    why: str  # NOT_FOUND, NOT_ALLOWED or REFUSED
    dispatch: Dispatch | None = None
    reason: str | Text = ""  # the action's own words, for REFUSED (shown in the reader's language)


@dataclass
class BulkResult:
    done: list[Dispatch] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)


def check(
    action: object, note: object, selected: Sequence[str], details: dict[str, Any]
) -> list[clerk_requests.FieldError]:
    """What is wrong with the request as a whole (nothing is done when anything is)."""
    errors = [e for e in clerk_requests.check(action, note) if e.field != "action"]
    if action not in BULK_ACTIONS:
        errors.insert(0, clerk_requests.FieldError("action", "unknown action"))
    if action == "reassign_owner" and not details.get("owner_id"):
        errors.append(clerk_requests.FieldError("owner_id", "choose the clerk to reassign to"))
    if not selected:
        errors.append(clerk_requests.FieldError("dispatch", "select at least one dispatch"))
    elif len(selected) > MAX_SELECTED:
        errors.append(
            clerk_requests.FieldError("dispatch", f"select at most {MAX_SELECTED} dispatches")
        )
    return errors


async def apply(
    ctx: Context,
    who: clerk_requests.Requester,
    courts: Sequence[str],
    selected: Sequence[str],
    action: str,
    note: str,
    details: dict[str, Any],
) -> BulkResult:
    """Apply ``action`` to each selected dispatch, in the order selected (each once); what was
    done and what was refused, and why. ``clerk_requests.InvalidRequest`` when the request
    itself is wrong (see :func:`check`), before any dispatch is touched."""
    errors = check(action, note, selected, details)
    if errors:
        raise clerk_requests.InvalidRequest(errors)
    ids = list(dict.fromkeys(selected))
    async with ctx.engine.connect() as conn:
        conn = await conn.execution_options(**READ_ONLY)
        found = {d.id: d for d in await queue_facts.dispatches_in_courts(conn, ids, courts)}
    result = BulkResult()
    for dispatch_id in ids:
        dispatch = found.get(dispatch_id)
        if dispatch is None:
            result.refused.append(Refusal(dispatch_id, NOT_FOUND))
        elif action not in clerk_actions.allowed_actions(dispatch):
            result.refused.append(Refusal(dispatch_id, NOT_ALLOWED, dispatch))
        else:
            try:
                await clerk_requests.submit(ctx, dispatch_id, who, action, note, details)
            except clerk_actions.ActionRefused as exc:
                result.refused.append(Refusal(dispatch_id, REFUSED, dispatch, exc.reason))
            else:
                result.done.append(dispatch)
    return result
