"""Storage on both databases: migrations, the per-dispatch lock, the chain, the state machines."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from api_client import Api
from sqlalchemy import Connection

from delivery.context import Context
from delivery.domain import DispatchState, IllegalTransition
from delivery.services.transactions import dispatch_transaction
from delivery.storage import schema
from delivery.storage.migrate import current_revision
from delivery.storage.schema import dispatches, events
from delivery.storage.unit_of_work import DispatchNotFound
from tracking.chain import GENESIS, verify_chain

pytestmark = pytest.mark.both_databases


@pytest.fixture
async def dispatch_id(api: Api) -> str:
    return str((await api.new_dispatch())["id"])


async def test_migrations_are_at_head_and_match_the_schema(ctx: Context) -> None:
    assert await current_revision(ctx.engine) == "0022"

    def differences(sync_conn: Connection) -> list[object]:
        return list(compare_metadata(MigrationContext.configure(sync_conn), schema.metadata))

    async with ctx.engine.connect() as conn:
        assert await conn.run_sync(differences) == []


async def test_concurrent_appends_never_fork_the_chain(
    api: Api, ctx: Context, dispatch_id: str
) -> None:
    async def append(i: int) -> None:
        async with dispatch_transaction(ctx.engine, ctx.clock, dispatch_id) as tx:
            tx.record("consent_recorded", source="test", data={"i": i})

    initial = len(await api.events(dispatch_id))
    await asyncio.gather(*(append(i) for i in range(20)))
    chain = await api.events(dispatch_id)
    verdict = verify_chain(chain)
    assert verdict.valid, verdict
    assert [e.seq for e in chain] == list(range(1, initial + 21))
    assert sorted(e.data["i"] for e in chain[initial:]) == list(range(20))
    assert chain[0].prev_hash == GENESIS
    async with ctx.engine.connect() as conn:
        head = await conn.scalar(
            sa.select(dispatches.c.chain_head).where(dispatches.c.id == dispatch_id)
        )
    assert head == chain[-1].hash


async def test_a_failed_transaction_writes_neither_state_nor_event(
    api: Api, ctx: Context, dispatch_id: str
) -> None:
    before = await api.events(dispatch_id)
    with pytest.raises(IllegalTransition):
        async with dispatch_transaction(ctx.engine, ctx.clock, dispatch_id) as tx:
            tx.record("consent_recorded", source="test")
            tx.change_dispatch(DispatchState.QUEUED, "requeued", source="test")  # not allowed
    assert await api.events(dispatch_id) == before
    async with ctx.engine.connect() as conn:
        state = await conn.scalar(
            sa.select(dispatches.c.state).where(dispatches.c.id == dispatch_id)
        )
    assert state == "in_progress"


async def test_a_direct_edit_of_an_event_row_is_detected(
    api: Api, ctx: Context, dispatch_id: str
) -> None:
    async with ctx.engine.begin() as conn:
        await conn.execute(
            events.update()
            .where(events.c.dispatch_id == dispatch_id, events.c.seq == 1)
            .values(data='{"reference": "forged"}')
        )
    verdict = verify_chain(await api.events(dispatch_id))
    assert not verdict.valid
    assert verdict.problem == "hash does not match content"


async def test_unknown_dispatch(ctx: Context) -> None:
    with pytest.raises(DispatchNotFound):
        async with dispatch_transaction(ctx.engine, ctx.clock, "01ARZ3NDEKTSV4RRFFQ69G5FAV"):
            pass
