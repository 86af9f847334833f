"""Who owns a dispatch: one clerk owns every service of a case (issue 6, point 0).

Courts with a service group give each case to one clerk, who then follows all of its services,
appeal service included (domain.md, "The practice courts follow"). A new dispatch's owner is, in
this order: the clerk the case system names (``clerk``, a staff username); the clerk who already
owns a dispatch of the same case number in the court; else the court's clerk least recently given
a dispatch (round-robin; never-assigned first). A court without clerks leaves it unowned. The
choice is recorded as ``owner_assigned`` in the creating transaction, and a reassignment (clerk
action ``reassign_owner``) as ``owner_reassigned``.

Dispatches created together in one group commit see the owners given to those before them
(:class:`Given`). Two dispatches created at the same instant in two processes may both go to the
same least-recently-assigned clerk: round-robin here spreads work, it does not promise strict
alternation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from delivery.staff import Role, StaffUser
from delivery.storage import staff
from delivery.storage.engine import Connection

NAMED = "named"
CASE = "case"
ROUND_ROBIN = "round_robin"
NONE = "none"


class UnknownClerk(Exception):
    """The named clerk is not an active clerk of the dispatch's court."""


@dataclass(frozen=True)
class OwnerChoice:
    owner_id: str | None
    reason: str  # named | case | round_robin | none


async def court_clerks(conn: Connection, *courts: str) -> list[StaffUser]:
    """The active clerk accounts of any of ``courts``, by username, in one query (staff tables
    are small: roles and courts are JSON lists, filtered here the same way on both databases)."""
    return clerks_among(await staff.active_users(conn), *courts)


def clerks_among(users: Sequence[StaffUser], *courts: str) -> list[StaffUser]:
    """The clerk accounts among ``users`` that see any of ``courts``, in their order."""
    return [u for u in users if u.has(Role.CLERK) and any(u.sees(c) for c in courts)]


@dataclass(frozen=True)
class Given:
    """An owner just given to a new dispatch that is not written yet (an earlier dispatch of
    the same group commit, delivery/storage/dispatch_batches.py)."""

    court: str
    case_number: str
    owner_id: str


async def choose_owner(
    conn: Connection,
    users: Sequence[StaffUser],
    court: str,
    case_number: str,
    named: str | None,
    given: Sequence[Given] = (),
) -> OwnerChoice:
    """The new dispatch's owner among the active staff ``users`` (read once for a batch of
    new dispatches); ``given``: the owners given, in order, to the new dispatches written in
    the same transaction before it, which the database cannot show yet — a case keeps its
    clerk and round-robin goes on within one batch as between batches."""
    clerks = clerks_among(users, court)
    if named is not None:
        chosen = next((c for c in clerks if c.username == named), None)
        if chosen is None:
            raise UnknownClerk(named)
        return OwnerChoice(chosen.id, NAMED)
    ids = [c.id for c in clerks]
    if not ids:
        return OwnerChoice(None, NONE)
    in_batch = [g for g in given if g.court == court and g.owner_id in ids]
    same_case = [g.owner_id for g in in_batch if g.case_number == case_number]
    case_owner = (
        same_case[-1] if same_case else await staff.latest_case_owner(conn, court, case_number, ids)
    )
    if case_owner is not None:
        return OwnerChoice(case_owner, CASE)
    last = await staff.last_given(conn, ids)
    # Given in this batch: after every one the database knows, in the batch's order.
    recency = {i: (0, last[i].timestamp()) for i in last}
    recency |= {g.owner_id: (1, float(n)) for n, g in enumerate(in_batch)}
    never = [i for i in ids if i not in recency]
    return OwnerChoice(never[0] if never else min(ids, key=lambda i: recency[i]), ROUND_ROBIN)


async def clerk_of_court(conn: Connection, court: str, staff_id: str) -> StaffUser | None:
    """The active clerk ``staff_id`` of ``court``, or None (a reassignment's target)."""
    return next((c for c in await court_clerks(conn, court) if c.id == staff_id), None)
