"""Webhook signing secrets at rest: sealed under SONGDA_SECRETS_KEY, rotated to its newest key.

A secret is sealed when its endpoint is created; endpoints from before migration 0010 hold a
plaintext one until :func:`seal_plaintext` runs (right after every migration, in
delivery/services/database_setup.py, and as part of ``songda secrets rotate``), which the
migration itself cannot do without the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptography.fernet import InvalidToken

from delivery.infra.secret_box import SecretBox
from delivery.storage import webhooks
from delivery.storage.engine import Engine


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


async def seal_plaintext(engine: Engine, box: SecretBox) -> int:
    """Seal every secret still stored in plaintext; how many were sealed."""
    async with engine.begin() as conn:
        rows = await webhooks.plaintext_secrets(conn)
        for row in rows:
            await webhooks.seal_secret(conn, row.id, row.secret, box.seal(row.secret))
    return len(rows)


async def rotate(engine: Engine, box: SecretBox) -> Rotation:
    """Re-seal every sealed secret under the newest key (idempotent: a secret already under it
    is left alone) and seal plaintext ones; endpoints whose secret no key opens are named."""
    sealed_plaintext = await seal_plaintext(engine, box)
    resealed, current, unreadable = 0, 0, []
    async with engine.begin() as conn:
        for row in await webhooks.sealed_secrets(conn):
            if box.is_current(row.sealed_secret):
                current += 1
                continue
            try:
                token = box.reseal(row.sealed_secret)
            except InvalidToken:
                unreadable.append(row.id)
                continue
            await webhooks.reseal_secret(conn, row.id, token)
            resealed += 1
    return Rotation(resealed, current, sealed_plaintext, unreadable)
