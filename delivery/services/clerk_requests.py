"""A clerk action as it arrives from outside — the JSON API or the dispatch page's forms —
checked the same way before :func:`clerk_actions.perform` runs it.

Both entry points only translate: the API turns :class:`InvalidRequest` into a 422 problem and
:class:`ApproverRequired` into a 403; the page shows the form again with the reason. What is
checked (a known action, a note, who may approve a notice) is written once, here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from channels.public_notice import notices
from delivery.context import Context
from delivery.infra.document_store import EvidenceFile
from delivery.services import clerk_actions, signed_proof
from delivery.staff import StaffUser

MAX_NOTE = 2000
# The actions that take a file with them (multipart): the scan of the signed proof (CPL-87),
# the carrier's or platform's reply naming a repaired contact (ICP-16).
FILE_ACTIONS = ("record_outcome", "repair_contact")


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
    """Who asks: how events name them and their staff account (if any)."""

    actor: str
    staff: StaffUser | None = None


def check(action: object, note: object, *, with_file: bool = False) -> list[FieldError]:
    """What is wrong with the action's name and note (every action needs a note: why), and
    whether the action takes the file that came with it."""
    errors = []
    if action not in clerk_actions.ALL_ACTIONS:
        errors.append(FieldError("action", "unknown action"))
    if not isinstance(note, str) or not note.strip() or len(note) > MAX_NOTE:
        errors.append(FieldError("note", f"required: why (at most {MAX_NOTE} characters)"))
    if with_file and action not in FILE_ACTIONS:
        errors.append(
            FieldError(
                signed_proof.SCAN_FIELD, "only record_outcome and repair_contact take a file"
            )
        )
    return errors


async def submit(
    ctx: Context,
    dispatch_id: str,
    who: Requester,
    action: object,
    note: object,
    details: dict[str, Any],
    evidence: EvidenceFile | None = None,
) -> None:
    """Check the request, then perform it (``clerk_actions.ActionRefused`` when the dispatch's
    state or the details do not allow it). The caller has checked the dispatch is in scope;
    ``evidence`` is the file that came with the action, already stored and checked
    (:func:`signed_proof.store_scan`)."""
    errors = check(action, note, with_file=evidence is not None)
    if errors:
        raise InvalidRequest(errors)
    if action == "approve_notice" and not notices.may_approve(who.staff):
        raise ApproverRequired()
    await clerk_actions.perform(
        ctx,
        dispatch_id,
        clerk_actions.ActionRequest(str(action), str(note).strip(), details, evidence=evidence),
        actor=who.actor,
    )
