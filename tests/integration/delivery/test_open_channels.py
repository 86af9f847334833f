"""``dispatches.open_channels`` (docs/decisions/0057) agrees with the dispatch's attempts.

The queue's channel filter reads the column instead of the attempts, so every write of an
attempt must keep it: over the report test population (integration/delivery/support.py: sends on
every channel, receipts, failures and the ladder's fallbacks, cancellations, a reversal), each
dispatch's bits are exactly the channels of its open attempts; and migration 0020 backfills the
same bits for attempts written before it.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from api_client import Api

from delivery.clock import ManualClock
from delivery.context import Context
from delivery.domain import OPEN_ATTEMPT_STATES
from delivery.storage.migrate import upgrade
from delivery.storage.schema import attempts, dispatches
from delivery.storage.schema.dispatch import OPEN_CHANNEL_BITS
from delivery.vocabulary import Channel
from integration.delivery.support import column_names, downgrade_to, keyed_population


async def _stored(ctx: Context) -> dict[str, int]:
    async with ctx.engine.connect() as conn:
        rows = await conn.execute(sa.select(dispatches.c.id, dispatches.c.open_channels))
        return {dispatch_id: bits for dispatch_id, bits in rows.all()}


async def _from_attempts(ctx: Context) -> dict[str, int]:
    """Each dispatch's bits, worked out here from its attempts' channels and states."""
    async with ctx.engine.connect() as conn:
        ids = (await conn.execute(sa.select(dispatches.c.id))).scalars().all()
        rows = (
            await conn.execute(
                sa.select(attempts.c.dispatch_id, attempts.c.channel, attempts.c.state)
            )
        ).all()
    expected = dict.fromkeys(ids, 0)
    open_channels: dict[str, set[str]] = {}
    for dispatch_id, channel, state in rows:
        if state in {s.value for s in OPEN_ATTEMPT_STATES}:
            open_channels.setdefault(dispatch_id, set()).add(channel)
    for dispatch_id, channels in open_channels.items():
        expected[dispatch_id] = sum(OPEN_CHANNEL_BITS[Channel(c)] for c in channels)
    return expected


def test_every_channel_has_its_own_bit() -> None:
    bits = list(OPEN_CHANNEL_BITS.values())
    assert set(OPEN_CHANNEL_BITS) == set(Channel)
    assert all(bit > 0 and bit & (bit - 1) == 0 for bit in bits) and len(set(bits)) == len(bits)


@pytest.mark.both_databases
async def test_every_dispatch_keeps_the_channels_of_its_open_attempts(
    api: Api, ctx: Context, clock: ManualClock
) -> None:
    await keyed_population(api, ctx, clock)
    expected = await _from_attempts(ctx)
    # Not vacuous: dispatches with open attempts on several channels, and with none left open.
    assert len({bits for bits in expected.values() if bits}) >= 2
    assert 0 in expected.values()
    assert await _stored(ctx) == expected


async def test_migration_0020_fills_what_the_unit_of_work_writes(
    api: Api, ctx: Context, clock: ManualClock
) -> None:
    """(PostgreSQL: on SQLite the downgrade cannot rebuild ``dispatches`` under the foreign keys
    of a populated database; the test above checks what the unit of work writes there.)"""
    await keyed_population(api, ctx, clock)
    written = await _stored(ctx)
    assert any(written.values())
    await downgrade_to(ctx.engine, "0019")
    try:
        assert "open_channels" not in await column_names(ctx.engine, "dispatches")
    finally:
        await upgrade(ctx.engine)
    assert await _stored(ctx) == written
