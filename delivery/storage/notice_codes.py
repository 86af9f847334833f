"""Storing notice codes (``notice_codes``): one random code per attempt, unique across all.

The codes are written with the transaction that creates their attempts, in one statement:
``INSERT … ON CONFLICT (code) DO NOTHING RETURNING attempt_id`` tells which rows went in, and
the rare row whose code was already taken gets a new code and is tried again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from delivery.storage.schema import notice_codes
from tracking.notice_codes import new_code

MAX_ROUNDS = 8  # 40-bit codes: a second round is already a one-in-a-billion event


def code_row(dispatch_id: str, attempt_id: str, now: datetime) -> dict[str, Any]:
    return {
        "code": new_code(),
        "dispatch_id": dispatch_id,
        "attempt_id": attempt_id,
        "created_at": now,
    }


def _insert(conn: AsyncConnection) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return (
        dialect.insert(notice_codes)
        .on_conflict_do_nothing(index_elements=[notice_codes.c.code])
        .returning(notice_codes.c.attempt_id)
    )


async def insert_codes(conn: AsyncConnection, rows: list[dict[str, Any]]) -> dict[str, str]:
    """Insert ``rows`` (from :func:`code_row`), drawing a new code for any that collides;
    the codes stored, by attempt id."""
    pending = rows
    codes: dict[str, str] = {}
    for _ in range(MAX_ROUNDS):
        result = await conn.execute(_insert(conn), pending)
        stored = {r.attempt_id for r in result}
        codes |= {r["attempt_id"]: r["code"] for r in pending if r["attempt_id"] in stored}
        pending = [{**r, "code": new_code()} for r in pending if r["attempt_id"] not in stored]
        if not pending:
            return codes
    raise RuntimeError("could not draw an unused notice code")  # pragma: no cover


async def code_of_attempt(conn: AsyncConnection, attempt_id: str) -> str | None:
    return await conn.scalar(
        sa.select(notice_codes.c.code).where(notice_codes.c.attempt_id == attempt_id)
    )
