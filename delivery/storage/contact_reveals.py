"""The ``contact_reveals`` rows: who showed which of a recipient's contacts in full, and when
(delivery/services/contact_reveals.py; docs/decisions/0035). Appended to, never changed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from delivery.storage.schema import contact_reveals, contacts, dispatches, staff_users


@dataclass(frozen=True)
class RevealTarget:
    """A contact of a dispatch in scope, with what deciding who may reveal it needs."""

    dispatch_id: str
    contact_id: str
    kind: str
    owner_id: str | None


@dataclass(frozen=True)
class ContactReveal:
    """One reveal, as the audit lists it: never the contact's value, only which one it was."""

    id: str
    dispatch_id: str
    case_number: str
    court: str
    contact_id: str
    contact_kind: str
    staff_id: str
    username: str
    display_name: str
    revealed_at: datetime


async def reveal_target(
    conn: AsyncConnection, dispatch_id: str, contact_id: str, courts: tuple[str, ...]
) -> RevealTarget | None:
    """The contact ``contact_id`` of the dispatch, if the dispatch is in one of ``courts`` and the
    contact is its own; ``None`` otherwise (one answer for both: nothing to reveal)."""
    row = (
        await conn.execute(
            sa.select(contacts.c.kind, dispatches.c.owner_id)
            .join(dispatches, dispatches.c.id == contacts.c.dispatch_id)
            .where(
                contacts.c.id == contact_id,
                contacts.c.dispatch_id == dispatch_id,
                dispatches.c.court.in_(courts),
            )
        )
    ).first()
    if row is None:
        return None
    return RevealTarget(dispatch_id, contact_id, row.kind, row.owner_id)


async def insert_reveal(
    engine: AsyncEngine,
    *,
    reveal_id: str,
    target: RevealTarget,
    staff_id: str,
    revealed_at: datetime,
) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            contact_reveals.insert().values(
                id=reveal_id,
                dispatch_id=target.dispatch_id,
                contact_id=target.contact_id,
                staff_id=staff_id,
                revealed_at=revealed_at,
            )
        )


def _select_reveals() -> sa.Select[tuple[object, ...]]:
    r = contact_reveals
    return (
        sa.select(
            r.c.id,
            r.c.dispatch_id,
            dispatches.c.case_number,
            dispatches.c.court,
            r.c.contact_id,
            contacts.c.kind.label("contact_kind"),
            r.c.staff_id,
            staff_users.c.username,
            staff_users.c.display_name,
            r.c.revealed_at,
        )
        .join(dispatches, dispatches.c.id == r.c.dispatch_id)
        .join(contacts, contacts.c.id == r.c.contact_id)
        .join(staff_users, staff_users.c.id == r.c.staff_id)
        .order_by(r.c.revealed_at, r.c.id)
    )


async def reveals_of_dispatch(conn: AsyncConnection, dispatch_id: str) -> list[ContactReveal]:
    """The dispatch's reveals, oldest first."""
    rows = await conn.execute(_select_reveals().where(contact_reveals.c.dispatch_id == dispatch_id))
    return [ContactReveal(**row) for row in rows.mappings()]


async def reveals_in_courts(
    conn: AsyncConnection, courts: tuple[str, ...], start: datetime, end: datetime
) -> list[ContactReveal]:
    """The reveals of the dispatches of ``courts`` from ``start`` (included) to ``end``
    (excluded), oldest first."""
    rows = await conn.execute(
        _select_reveals().where(
            dispatches.c.court.in_(courts),
            contact_reveals.c.revealed_at >= start,
            contact_reveals.c.revealed_at < end,
        )
    )
    return [ContactReveal(**row) for row in rows.mappings()]
