"""Showing a recipient's contact in full, and the audit of every time it was done.

The dispatch page masks contacts (``identity.mask_address``): most people who open it need to
recognise an address, not read it. The clerk who owns the dispatch — and a supervisor — sometimes
must read it (mail came back: is the address the recipient gave really wrong?). They reveal one
contact with one click; each reveal is a row of ``contact_reveals`` (who, when by the injected
clock, which dispatch and contact — never the value), listed on the dispatch page and exported as
CSV. It is an access to personal data, not a step of service, so it stays out of the evidence
chain (docs/decisions/0035).
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta

from delivery.context import Context
from delivery.ids import new_id
from delivery.staff import Role, StaffUser
from delivery.storage import contact_reveals as stored
from delivery.storage.contact_reveals import ContactReveal
from delivery.storage.engine import READ_ONLY

log = logging.getLogger(__name__)

__all__ = [
    "ContactReveal",
    "RevealRefused",
    "court_audit",
    "dispatch_audit",
    "may_reveal",
    "reveal",
]


class RevealRefused(Exception):
    """Nothing was revealed or recorded: no such contact of a dispatch in the account's courts
    (``found`` False: answered as 404), or the account may not reveal it (403)."""

    def __init__(self, reason: str, *, found: bool) -> None:
        super().__init__(reason)
        self.found = found


def may_reveal(user: StaffUser, owner_id: str | None) -> bool:
    """A supervisor, or the clerk who owns the dispatch. Another clerk of the court reads the
    masked page; a dispatch without an owner is revealed by a supervisor, or by a clerk once it
    is reassigned to them (that reassignment is itself recorded with its reason)."""
    if user.has(Role.SUPERVISOR):
        return True
    return user.has(Role.CLERK) and owner_id is not None and owner_id == user.id


async def reveal(ctx: Context, user: StaffUser, dispatch_id: str, contact_id: str) -> None:
    """Record that ``user`` reveals the contact now; the caller then shows it in full, once."""
    async with ctx.engine.connect() as conn:
        conn = await conn.execution_options(**READ_ONLY)
        target = await stored.reveal_target(conn, dispatch_id, contact_id, user.courts)
    if target is None:
        raise RevealRefused("no such contact of this dispatch", found=False)
    if not may_reveal(user, target.owner_id):
        raise RevealRefused(
            "only the clerk who owns the dispatch, or a supervisor, may reveal a contact",
            found=True,
        )
    await stored.insert_reveal(
        ctx.engine,
        reveal_id=new_id(),
        target=target,
        staff_id=user.id,
        revealed_at=ctx.clock.now(),
    )
    log.info(
        "contact revealed",
        extra={
            "dispatch_id": dispatch_id,
            "contact_id": contact_id,
            "contact_kind": target.kind,
            "staff_user_id": user.id,
        },
    )


async def dispatch_audit(ctx: Context, dispatch_id: str) -> list[ContactReveal]:
    """The dispatch's reveals, oldest first (the caller has checked the dispatch is in scope)."""
    async with ctx.engine.connect() as conn:
        conn = await conn.execution_options(**READ_ONLY)
        return await stored.reveals_of_dispatch(conn, dispatch_id)


async def court_audit(
    ctx: Context, courts: tuple[str, ...], first: date, last: date
) -> list[ContactReveal]:
    """Every reveal on the dispatches of ``courts`` from court day ``first`` to ``last``, both
    included (days in the court's time zone, as the staff read them), oldest first."""
    zone = ctx.settings.zone
    start = datetime.combine(first, time(), tzinfo=zone)
    end = datetime.combine(last + timedelta(days=1), time(), tzinfo=zone)
    async with ctx.engine.connect() as conn:
        conn = await conn.execution_options(**READ_ONLY)
        return await stored.reveals_in_courts(conn, courts, start, end)
