"""Attempt reads outside a dispatch's transaction (inside one, the transaction has them)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from delivery.storage.schema import attempts, dispatches
from delivery.vocabulary import Channel


async def attempt_channel(engine: AsyncEngine, dispatch_id: str, attempt_id: str) -> str | None:
    """The channel of the dispatch's attempt, ``None`` if it has no such attempt."""
    async with engine.connect() as conn:
        channel = await conn.scalar(
            sa.select(attempts.c.channel).where(
                attempts.c.id == attempt_id, attempts.c.dispatch_id == dispatch_id
            )
        )
    return None if channel is None else str(channel)


async def email_attempt(engine: AsyncEngine, message_id: str, courts: tuple[str, ...]) -> Any:
    """(dispatch id, id, address) of the e-mail attempt sent as ``message_id`` in ``courts``."""
    async with engine.connect() as conn:
        return (
            await conn.execute(
                sa.select(attempts.c.dispatch_id, attempts.c.id, attempts.c.address)
                .join(dispatches, dispatches.c.id == attempts.c.dispatch_id)
                .where(
                    attempts.c.provider_ref == message_id,
                    attempts.c.channel == Channel.EMAIL,
                    dispatches.c.court.in_(courts),
                )
            )
        ).first()


async def sms_attempt(engine: AsyncEngine, sid: str) -> Any:
    """(dispatch id, id) of the SMS attempt the provider knows as ``sid``."""
    async with engine.connect() as conn:
        return (
            await conn.execute(
                sa.select(attempts.c.dispatch_id, attempts.c.id).where(
                    attempts.c.provider_ref == sid, attempts.c.channel == Channel.SMS
                )
            )
        ).first()


async def dispatch_of(engine: AsyncEngine, attempt_id: str) -> str | None:
    """The id of the attempt's dispatch, ``None`` for an unknown attempt."""
    async with engine.connect() as conn:
        dispatch_id = await conn.scalar(
            sa.select(attempts.c.dispatch_id).where(attempts.c.id == attempt_id)
        )
    return None if dispatch_id is None else str(dispatch_id)


async def sms_attempt_to(engine: AsyncEngine, number: str) -> Any:
    """(dispatch id, id) of the SMS attempt last sent to ``number``: a reply answers the latest
    message the recipient got from the court's number (Twilio's inbound message names no SID)."""
    async with engine.connect() as conn:
        return (
            await conn.execute(
                sa.select(attempts.c.dispatch_id, attempts.c.id)
                .where(
                    attempts.c.address == number,
                    attempts.c.channel == Channel.SMS,
                    attempts.c.sent_at.is_not(None),
                )
                .order_by(attempts.c.sent_at.desc(), attempts.c.id.desc())
                .limit(1)
            )
        ).first()
