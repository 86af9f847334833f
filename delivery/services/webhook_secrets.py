"""Webhook signing secrets at rest: sealed under SONGDA_SECRETS_KEY, rotated to its newest key.

A secret is sealed when its endpoint is created; endpoints from before migration 0010 hold a
plaintext one until :func:`seal_plaintext` runs (right after every migration, and as part of
``songda secrets rotate``), which the migration itself cannot do without the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from cryptography.fernet import InvalidToken
from sqlalchemy.ext.asyncio import AsyncEngine

from delivery.infra.secret_box import SecretBox
from delivery.storage.migrate import upgrade
from delivery.storage.schema import webhook_endpoints

_e = webhook_endpoints


@dataclass(frozen=True)
class Rotation:
    """What ``songda secrets rotate`` did: counts only, never a secret."""

    resealed: int
    already_current: int
    sealed_plaintext: int
    unreadable: list[str]


def signing_secret(box: SecretBox, row: Any) -> str:
    """The endpoint row's secret in the clear, for signing one delivery."""
    return str(row.secret) if row.sealed_secret is None else box.open(row.sealed_secret)


async def seal_plaintext(engine: AsyncEngine, box: SecretBox) -> int:
    """Seal every secret still stored in plaintext; how many were sealed."""
    async with engine.begin() as conn:
        rows = (
            await conn.execute(sa.select(_e.c.id, _e.c.secret).where(_e.c.secret.is_not(None)))
        ).all()
        for row in rows:
            await conn.execute(
                _e.update()
                .where(_e.c.id == row.id, _e.c.secret == row.secret)
                .values(sealed_secret=box.seal(row.secret), secret=None)
            )
    return len(rows)


async def migrate_and_seal(engine: AsyncEngine, box: SecretBox) -> None:
    """The database at the newest migration with no plaintext secret left in it."""
    await upgrade(engine)
    await seal_plaintext(engine, box)


async def rotate(engine: AsyncEngine, box: SecretBox) -> Rotation:
    """Re-seal every sealed secret under the newest key (idempotent: a secret already under it
    is left alone) and seal plaintext ones; endpoints whose secret no key opens are named."""
    sealed_plaintext = await seal_plaintext(engine, box)
    resealed, current, unreadable = 0, 0, []
    async with engine.begin() as conn:
        rows = (
            await conn.execute(
                sa.select(_e.c.id, _e.c.sealed_secret)
                .where(_e.c.sealed_secret.is_not(None))
                .order_by(_e.c.id)
            )
        ).all()
        for row in rows:
            if box.is_current(row.sealed_secret):
                current += 1
                continue
            try:
                token = box.reseal(row.sealed_secret)
            except InvalidToken:
                unreadable.append(row.id)
                continue
            await conn.execute(_e.update().where(_e.c.id == row.id).values(sealed_secret=token))
            resealed += 1
    return Rotation(resealed, current, sealed_plaintext, unreadable)
