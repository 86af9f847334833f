"""Group commit (delivery/storage/dispatch_batches.py): works queued together are written in one
transaction, each dispatch's chain stays whole, and one failing work costs the others nothing."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator

import pytest
import sqlalchemy as sa
from api_client import Api, dispatch_body
from sqlalchemy import event

from delivery.context import Context
from delivery.services.transactions import grouped_transaction
from delivery.storage.schema import dispatches, service_outcomes
from delivery.storage.statements import UNSTAND_OUTCOME
from delivery.storage.unit_of_work import DispatchNotFound, DispatchTransaction
from delivery.vocabulary import EventType
from tracking.chain import verify_chain

pytestmark = pytest.mark.both_databases
NOTE = EventType.CONSENT_RECORDED


@pytest.fixture
def commits(ctx: Context) -> Iterator[Counter[str]]:
    """How many transactions the context's engine committed and rolled back."""
    seen: Counter[str] = Counter()

    def committed(*_: object) -> None:
        seen["commit"] += 1

    def rolled_back(*_: object) -> None:
        seen["rollback"] += 1

    engine = ctx.engine.sync_engine
    event.listen(engine, "commit", committed)
    event.listen(engine, "rollback", rolled_back)
    yield seen
    event.remove(engine, "commit", committed)
    event.remove(engine, "rollback", rolled_back)


def note(i: int) -> Callable[[DispatchTransaction], Awaitable[int]]:
    async def work(tx: DispatchTransaction) -> int:
        tx.record(NOTE, source="test", data={"i": i})
        return tx.chain_seq

    return work


async def test_works_queued_together_commit_in_fewer_transactions(
    api: Api, ctx: Context, commits: Counter[str]
) -> None:
    ids = [str((await api.new_dispatch(reference=f"gc-{n}"))["id"]) for n in range(12)]
    before = {i: len(await api.events(i)) for i in ids}
    commits.clear()

    seqs = await asyncio.gather(*(grouped_transaction(ctx, d, note(n)) for n, d in enumerate(ids)))

    assert commits["commit"] < len(ids)  # the first alone, the rest in batches
    for n, dispatch_id in enumerate(ids):
        chain = await api.events(dispatch_id)
        assert verify_chain(chain).valid
        assert len(chain) == before[dispatch_id] + 1
        assert chain[-1].data == {"i": n}
        assert seqs[n] == chain[-1].seq
        async with ctx.engine.connect() as conn:
            head = await conn.scalar(
                sa.select(dispatches.c.chain_head).where(dispatches.c.id == dispatch_id)
            )
        assert head == chain[-1].hash


async def test_works_for_one_dispatch_follow_each_other(api: Api, ctx: Context) -> None:
    dispatch_id = str((await api.new_dispatch())["id"])
    before = len(await api.events(dispatch_id))

    await asyncio.gather(*(grouped_transaction(ctx, dispatch_id, note(n)) for n in range(8)))

    chain = await api.events(dispatch_id)
    assert verify_chain(chain).valid
    assert sorted(e.data["i"] for e in chain[before:]) == list(range(8))
    assert [e.seq for e in chain] == list(range(1, before + 9))


async def test_a_second_batch_goes_while_the_first_waits_never_with_its_dispatch(
    api: Api, ctx: Context
) -> None:
    """PostgreSQL: a batch is written while another is still open, but a work for a dispatch
    of the open batch waits for its commit and sees its change. SQLite: one at a time."""
    held, other = [str((await api.new_dispatch(reference=f"gc-{n}"))["id"]) for n in range(2)]
    opened, release = asyncio.Event(), asyncio.Event()

    async def slow(tx: DispatchTransaction) -> int:
        tx.record(NOTE, source="test", data={"i": "slow"})
        opened.set()
        await release.wait()
        return tx.chain_seq

    first = asyncio.create_task(grouped_transaction(ctx, held, slow))
    await opened.wait()
    same = asyncio.create_task(grouped_transaction(ctx, held, note(1)))
    elsewhere = asyncio.create_task(grouped_transaction(ctx, other, note(2)))
    if ctx.engine.dialect.name == "postgresql":
        await asyncio.wait_for(asyncio.shield(elsewhere), timeout=10)
    else:
        await asyncio.sleep(0.3)
        assert not elsewhere.done()
    assert not same.done()
    release.set()
    first_seq, same_seq, _ = await asyncio.gather(first, same, elsewhere)

    assert same_seq == first_seq + 1
    chain = await api.events(held)
    assert verify_chain(chain).valid
    assert [e.data.get("i") for e in chain[-2:]] == ["slow", 1]


async def test_a_failing_work_costs_the_rest_of_its_batch_nothing(api: Api, ctx: Context) -> None:
    ids = [str((await api.new_dispatch(reference=f"gc-{n}"))["id"]) for n in range(6)]
    before = {i: len(await api.events(i)) for i in ids}

    async def broken(tx: DispatchTransaction) -> int:
        tx.record(NOTE, source="test", data={"i": "never"})
        raise ValueError("this work fails")

    works = [note(n) for n in range(len(ids))]
    works[3] = broken
    found = await asyncio.gather(
        *(grouped_transaction(ctx, d, w) for d, w in zip(ids, works, strict=True)),
        grouped_transaction(ctx, "01ARZ3NDEKTSV4RRFFQ69G5FAV", note(99)),
        return_exceptions=True,
    )

    assert isinstance(found[3], ValueError)
    assert isinstance(found[-1], DispatchNotFound)
    for n, dispatch_id in enumerate(ids):
        chain = await api.events(dispatch_id)
        assert verify_chain(chain).valid
        if n == 3:
            assert len(chain) == before[dispatch_id]  # nothing of the failed work was written
        else:
            assert chain[-1].data == {"i": n}
            assert len(chain) == before[dispatch_id] + 1


async def test_dispatches_created_together_keep_their_idempotency(api: Api) -> None:
    document = await api.document()
    bodies = [dispatch_body([document], reference=f"together-{n}") for n in range(8)]
    twin = bodies[0]
    rival = dispatch_body([document], reference="together-0", email="li.si@example.com")

    async def post(body: dict[str, object]) -> tuple[int, dict[str, object]]:
        response = await api.client.post("/api/v1/dispatches", json=body, headers=api.auth)
        return response.status, await response.json()

    answers = await asyncio.gather(*(post(b) for b in [*bodies, twin, rival]))

    statuses = [status for status, _ in answers]
    assert statuses[1:8] == [201] * 7
    # The reference's first request and its twin: one created it, the other got that one back,
    # whichever was written first; the rival with another body is refused.
    assert sorted(statuses[i] for i in (0, 8)) == [200, 201]
    assert answers[0][1]["id"] == answers[8][1]["id"]
    assert statuses[9] == 409
    assert (await api.table_counts())["dispatches"] == 8
    for _, body in answers[:8]:
        assert verify_chain(await api.events(str(body["id"]))).valid


async def test_a_work_whose_caller_is_cancelled_before_it_begins_never_runs(
    api: Api, ctx: Context
) -> None:
    first, second = [str((await api.new_dispatch(reference=f"gc-{n}"))["id"]) for n in range(2)]
    before = len(await api.events(second))
    holding = asyncio.Event()
    release = asyncio.Event()

    async def slow(tx: DispatchTransaction) -> int:
        holding.set()
        await release.wait()
        return tx.chain_seq

    writing = asyncio.create_task(grouped_transaction(ctx, first, slow))
    await holding.wait()  # the writer is busy with the first work
    waiting = asyncio.create_task(grouped_transaction(ctx, second, note(1)))
    await asyncio.sleep(0)
    waiting.cancel()  # a job's timeout, a shutdown
    release.set()
    await writing
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await grouped_transaction(ctx, first, note(2))  # the writer has moved past it

    assert len(await api.events(second)) == before


def outcome(type_: str) -> Callable[[DispatchTransaction], Awaitable[int]]:
    async def work(tx: DispatchTransaction) -> int:
        tx.record(type_, source="test", data={"reason": "test"})
        return tx.chain_seq

    return work


async def test_outcomes_written_in_batches_leave_one_standing_row_per_dispatch(
    api: Api, ctx: Context
) -> None:
    """The reports' projection through group commit (docs/decisions/0053): a batch's new
    outcomes unmark each dispatch's earlier standing row and the latest stands, with the
    dispatch's owner; a failed batch's rerun leaves no trace of the failure."""
    ids = [str((await api.new_dispatch(reference=f"gc-out-{n}"))["id"]) for n in range(8)]

    async def broken(tx: DispatchTransaction) -> int:
        tx.record(EventType.DISPATCH_CANCELLED, source="test", data={"reason": "never"})
        raise ValueError("this work fails")

    firsts = await asyncio.gather(
        *(grouped_transaction(ctx, d, outcome(EventType.DISPATCH_FAILED)) for d in ids)
    )
    works = [outcome(EventType.DISPATCH_RESUMED) for _ in ids]
    works[5] = broken
    seconds = await asyncio.gather(
        *(grouped_transaction(ctx, d, w) for d, w in zip(ids, works, strict=True)),
        return_exceptions=True,
    )

    async with ctx.engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(
                    service_outcomes.c.dispatch_id,
                    service_outcomes.c.seq,
                    service_outcomes.c.standing,
                    service_outcomes.c.owner_id,
                ).where(service_outcomes.c.dispatch_id.in_(ids))
            )
        ).all()
        owners = dict((await conn.execute(sa.select(dispatches.c.id, dispatches.c.owner_id))).all())
    assert isinstance(seconds[5], ValueError)
    for n, dispatch_id in enumerate(ids):
        own = sorted((r for r in rows if r.dispatch_id == dispatch_id), key=lambda r: r.seq)
        latest = firsts[n] if n == 5 else seconds[n]
        assert [r.seq for r in own if r.standing] == [latest]
        assert [r.owner_id for r in own if r.standing] == [owners[dispatch_id]]
        assert all(r.owner_id is None for r in own if not r.standing)
        assert len(own) == (1 if n == 5 else 2)


async def test_the_standing_row_is_found_by_its_partial_index(ctx: Context) -> None:
    """The statements that unmark or reassign a standing row read one index entry, not the
    table: SQLite uses a partial index only when the WHERE names its condition as written."""
    if ctx.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL matches the condition however it is written")
    async with ctx.engine.connect() as conn:
        compiled = UNSTAND_OUTCOME.compile(dialect=conn.dialect)
        plan = await conn.exec_driver_sql(
            f"EXPLAIN QUERY PLAN {compiled}", (None, None, "01ARZ3NDEKTSV4RRFFQ69G5FAV")
        )
        details = " ".join(str(row[-1]) for row in plan.all())
    assert "ix_service_outcomes_standing" in details, details
