"""Who owns a dispatch: one clerk owns every service of a case (issue 6, point 0).

Courts with a service group give each case to one clerk, who then follows all of its services,
appeal service included (domain.md, "The practice courts follow"). A new dispatch's owner is, in
this order: the clerk the case system names (``clerk``, a staff username); the clerk who already
owns a dispatch of the same case number in the court; else the court's clerk least recently given
a dispatch (round-robin; never-assigned first). A court without clerks leaves it unowned. The
choice is recorded as ``owner_assigned`` in the creating transaction, and a reassignment (clerk
action ``reassign_owner``) as ``owner_reassigned``.

Two dispatches created at the same instant may both go to the same least-recently-assigned clerk:
round-robin here spreads work, it does not promise strict alternation.
"""

from __future__ import annotations

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
    users = await staff.active_users(conn)
    return [u for u in users if u.has(Role.CLERK) and any(u.sees(c) for c in courts)]


async def choose_owner(
    conn: Connection, court: str, case_number: str, named: str | None
) -> OwnerChoice:
    clerks = await court_clerks(conn, court)
    if named is not None:
        chosen = next((c for c in clerks if c.username == named), None)
        if chosen is None:
            raise UnknownClerk(named)
        return OwnerChoice(chosen.id, NAMED)
    ids = [c.id for c in clerks]
    if not ids:
        return OwnerChoice(None, NONE)
    case_owner = await staff.latest_case_owner(conn, court, case_number, ids)
    if case_owner is not None:
        return OwnerChoice(case_owner, CASE)
    last = await staff.last_given(conn, ids)
    never = [i for i in ids if i not in last]
    return OwnerChoice(never[0] if never else min(ids, key=lambda i: last[i]), ROUND_ROBIN)


async def clerk_of_court(conn: Connection, court: str, staff_id: str) -> StaffUser | None:
    """The active clerk ``staff_id`` of ``court``, or None (a reassignment's target)."""
    return next((c for c in await court_clerks(conn, court) if c.id == staff_id), None)
