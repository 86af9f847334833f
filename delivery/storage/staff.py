"""Staff accounts and their sessions (delivery/services/staff_accounts.py), and the clerks a
dispatch can be given to (delivery/services/ownership.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from delivery.staff import Role, StaffUser
from delivery.storage.schema import dispatches, staff_sessions, staff_users

u = staff_users


def staff_from_row(row: RowMapping) -> StaffUser:
    return StaffUser(
        id=row["id"],
        username=row["username"],
        display_name=row["display_name"],
        roles=frozenset(Role(r) for r in row["roles"]),
        courts=tuple(row["courts"]),
    )


async def insert_user(engine: AsyncEngine, **values: Any) -> bool:
    """Store a new account; ``False`` (nothing stored) when its username is taken."""
    try:
        async with engine.begin() as conn:
            await conn.execute(u.insert().values(**values))
    except IntegrityError:
        return False
    return True


async def set_password_hash(engine: AsyncEngine, username: str, password_hash: str) -> bool:
    """False if there is no such account."""
    async with engine.begin() as conn:
        result = await conn.execute(
            u.update().where(u.c.username == username).values(password_hash=password_hash)
        )
    return bool(result.rowcount)


async def rehash_password(engine: AsyncEngine, user_id: str, old: str, new: str) -> None:
    """Store ``new`` for the account's hash, unless its hash was replaced since ``old``."""
    async with engine.begin() as conn:
        await conn.execute(
            u.update()
            .where(u.c.id == user_id)
            .where(u.c.password_hash == old)  # not replaced since
            .values(password_hash=new)
        )


async def all_users(engine: AsyncEngine) -> list[RowMapping]:
    """Every account's row, by username."""
    async with engine.connect() as conn:
        return list((await conn.execute(sa.select(u).order_by(u.c.username))).mappings().all())


async def user_row(engine: AsyncEngine, username: str) -> RowMapping | None:
    async with engine.connect() as conn:
        return (await conn.execute(sa.select(u).where(u.c.username == username))).mappings().first()


async def insert_session(engine: AsyncEngine, **values: Any) -> None:
    async with engine.begin() as conn:
        await conn.execute(staff_sessions.insert().values(**values))


async def live_session(engine: AsyncEngine, token_hash: str, now: datetime) -> RowMapping | None:
    """The account's row with the session's csrf token and expiry: a session not expired, not
    revoked, of an account not disabled."""
    s = staff_sessions
    async with engine.connect() as conn:
        return (
            (
                await conn.execute(
                    sa.select(u, s.c.csrf_token, s.c.expires_at)
                    .join(s, s.c.user_id == u.c.id)
                    .where(
                        s.c.token_hash == token_hash,
                        s.c.revoked_at.is_(None),
                        s.c.expires_at > now,
                        u.c.disabled_at.is_(None),
                    )
                )
            )
            .mappings()
            .first()
        )


async def revoke_session(engine: AsyncEngine, token_hash: str, now: datetime) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            staff_sessions.update()
            .where(staff_sessions.c.token_hash == token_hash)
            .where(staff_sessions.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )


# --- Clerks and the dispatches they own ---


async def active_users(conn: AsyncConnection) -> list[StaffUser]:
    """Every account not disabled, by username."""
    rows = await conn.execute(sa.select(u).where(u.c.disabled_at.is_(None)).order_by(u.c.username))
    return [staff_from_row(r._mapping) for r in rows]


async def latest_case_owner(
    conn: AsyncConnection, court: str, case_number: str, owner_ids: list[str]
) -> str | None:
    """Which of ``owner_ids`` owns the case's newest dispatch owned by one of them."""
    owner = await conn.scalar(
        sa.select(dispatches.c.owner_id)
        .where(
            dispatches.c.court == court,
            dispatches.c.case_number == case_number,
            dispatches.c.owner_id.in_(owner_ids),
        )
        .order_by(dispatches.c.created_at.desc())
        .limit(1)
    )
    return None if owner is None else str(owner)


async def last_given(conn: AsyncConnection, owner_ids: list[str]) -> dict[str, datetime]:
    """When each of ``owner_ids`` that owns a dispatch was last given one."""
    rows = await conn.execute(
        sa.select(dispatches.c.owner_id, sa.func.max(dispatches.c.created_at))
        .where(dispatches.c.owner_id.in_(owner_ids))
        .group_by(dispatches.c.owner_id)
    )
    return dict(rows.all())


async def display_name(conn: AsyncConnection, staff_id: str) -> str | None:
    name = await conn.scalar(sa.select(u.c.display_name).where(u.c.id == staff_id))
    return None if name is None else str(name)


async def display_names(conn: AsyncConnection, staff_ids: list[str]) -> list[Any]:
    """(id, display name) of the staff accounts ``staff_ids``."""
    query = sa.select(u.c.id, u.c.display_name)
    return list(await conn.execute(query.where(u.c.id.in_(staff_ids))))


async def roles_of(conn: AsyncConnection, staff_ids: list[str]) -> dict[str, frozenset[Role]]:
    """The roles of the staff accounts ``staff_ids`` (an account missing from the answer has
    none: it does not exist)."""
    rows = await conn.execute(sa.select(u.c.id, u.c.roles).where(u.c.id.in_(staff_ids)))
    return {row.id: frozenset(Role(r) for r in row.roles) for row in rows}
