"""Group commit: the transactions of many dispatches that arrive together, written as one.

A send worker runs dozens of jobs at once, and each used to open its own dispatch transaction:
a dozen round trips to lock the row, read the attempts, the chain, the contacts, the documents,
write the changes and commit — for every claim and every receipt. :class:`DispatchBatches`
collects the transactions that are waiting while one batch is being written and runs them
together: one statement locks all their dispatches (in id order, so two batches never wait on
each other in a circle), one statement per table reads what they read, the caller's work runs on
each dispatch's own :class:`DispatchTransaction`, and one statement per kind of row writes them
(``write_transactions``). New dispatches read what they need before they are built
(:class:`Prefetch`) with one statement per table for the whole batch (docs/decisions/0059).
Nothing is weakened: each dispatch's state change still commits with its events, and all of
the batch commits or none does.

A work that raises does not sink the others: the batch is rolled back and every work in it runs
again alone, in its own transaction, each with its own outcome. A dispatch appears at most
once per batch (a second work for it waits for the next), so each work sees the changes of the
works before it. When nothing else is waiting a work is written at once, alone: group commit
costs no latency, it only gathers what is already queued (docs/decisions/0050).

On PostgreSQL two batches are written at once, on two connections: while one waits for the
database, the next is gathered and sent, so a worker's writes no longer take turns behind one
batch's round trips. A dispatch is in at most one batch on its way (a work for it waits until
that batch has committed), so the two never hold the same row; each locks its own dispatches in
id order, as before. New dispatches go in one batch at a time, so each still sees the owners
given to those before it. SQLite has one writer at a time, so it keeps one batch on its way
(docs/decisions/0061).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from delivery.clock import Clock
from delivery.storage.rows import (
    attempt_from_row,
    contact_from_row,
    dispatch_from_row,
    document_from_row,
    event_from_row,
)
from delivery.storage.statements import (
    BATCH_ATTEMPTS,
    BATCH_CODES,
    BATCH_CONTACTS,
    BATCH_DOCUMENTS,
    BATCH_EVENTS,
    LOCK_DISPATCHES,
)
from delivery.storage.unit_of_work import (
    DispatchNotFound,
    DispatchTransaction,
    Preloaded,
    WebhookShapes,
    dispatch_transaction,
    write_transactions,
)

T = TypeVar("T")
# Enough to make a round trip per batch negligible, few enough that one batch holds its locks
# for milliseconds.
MAX_BATCH = 64
LOCK_TIMEOUT_MS = 2000
# Batches on their way at once, per database: a second one is gathered and sent while the first
# waits for PostgreSQL; SQLite writes one transaction at a time anyway.
WRITERS = {"postgresql": 2}

SET_LOCK_TIMEOUT = sa.text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT_MS}ms'")

Work = Callable[[DispatchTransaction], Awaitable[T]]
# A new dispatch's work: it builds the dispatch's transaction on the connection it is given,
# knowing the transactions before it in its batch (their rows are not written yet: e.g. the
# owners just given to the batch's other new dispatches).
Creation = Callable[
    [AsyncConnection, list[DispatchTransaction]], Awaitable[tuple[T, DispatchTransaction]]
]
# Reads what each of a batch's new dispatches needs before it is built, for all of them in one
# statement per table, into each one's ``need`` (docs/decisions/0059).
ReadAll = Callable[[AsyncConnection, Sequence[Any]], Awaitable[None]]


@dataclass(frozen=True)
class Prefetch:
    """What a new dispatch reads before its creation runs: its ``need``, filled by ``read``
    together with the needs of every new dispatch of its batch that names the same ``read``
    (alone, with its own only)."""

    read: ReadAll
    need: Any


def _future() -> asyncio.Future[Any]:
    return asyncio.get_running_loop().create_future()


@dataclass
class _Item(Generic[T]):
    dispatch_id: str
    clock: Clock
    shapes: WebhookShapes
    work: Work[T] | None = None
    creation: Creation[T] | None = None
    prefetch: Prefetch | None = None
    done: asyncio.Future[T] = field(default_factory=_future)
    # Its caller was cancelled (a job's timeout, a shutdown) before the work began: as a
    # cancelled transaction of its own would, it never runs.
    abandoned: bool = False

    async def run_on(
        self, conn: AsyncConnection, found: Any, earlier: list[DispatchTransaction]
    ) -> tuple[T, DispatchTransaction]:
        """The work on ``found`` (what :func:`_load` read of its dispatch), or the creation
        (which sees the ``earlier`` transactions of its batch, not written yet)."""
        if self.creation is not None:
            return await self.creation(conn, earlier)
        assert self.work is not None
        dispatch, seq, head, preloaded = found
        tx = DispatchTransaction(
            conn,
            dispatch,
            seq=seq,
            head=head,
            clock=self.clock,
            shapes=self.shapes,
            preloaded=preloaded,
        )
        return await self.work(tx), tx


class DispatchBatches:
    """One process's group commit on ``engine``: :meth:`run` queues a work, one batch is written
    at a time, and whatever queued meanwhile goes in the next."""

    def __init__(self, engine_of: Callable[[], AsyncEngine], max_batch: int = MAX_BATCH) -> None:
        """``engine_of``: the database to write to, asked at each batch (the context's engine,
        which a test may route through a proxy after the first use)."""
        self.engine_of = engine_of
        self.max_batch = max_batch
        self._queued: list[_Item[Any]] = []
        self._writers: set[asyncio.Task[None]] = set()
        # The dispatches of the batches on their way: a work for one of them waits.
        self._writing: set[str] = set()
        # A batch with new dispatches is on its way: the next new ones wait for its commit.
        self._creating = False

    async def run(self, dispatch_id: str, work: Work[T], clock: Clock, shapes: WebhookShapes) -> T:
        """``work`` on the dispatch's locked transaction, committed with its batch; its result
        once committed (the follow-ups are the caller's, on the transaction it got). Raises
        what the work raised, ``DispatchNotFound``, or the database's error."""
        return await self._queue(_Item(dispatch_id, clock, shapes, work=work))

    async def create(
        self,
        dispatch_id: str,
        creation: Creation[T],
        clock: Clock,
        shapes: WebhookShapes,
        prefetch: Prefetch | None = None,
    ) -> T:
        """A new dispatch (``dispatch_id``: the id ``creation`` gives it), written with the batch:
        ``creation`` builds its transaction on the batch's connection and returns (its result,
        that transaction). It may run twice, so it must build everything afresh each time.
        ``prefetch``: what it reads first, read for the batch's new dispatches together, on
        the same connection just before their creations run (again on each run)."""
        item = _Item(dispatch_id, clock, shapes, creation=creation, prefetch=prefetch)
        return await self._queue(item)

    async def _queue(self, item: _Item[T]) -> T:
        loop = asyncio.get_running_loop()
        if any(w.get_loop() is not loop for w in self._writers):
            # A context used again under a new event loop (a CLI command after another): what
            # the old loop's writers left is gone with them.
            for stale in self._queued:
                stale.abandoned = True
            self._queued, self._writers, self._writing = [], set(), set()
            self._creating = False
        self._queued.append(item)
        self._writers = {w for w in self._writers if not w.done()}
        if len(self._writers) < WRITERS.get(self.engine_of().dialect.name, 1):
            self._writers.add(asyncio.create_task(self._write_all()))
        try:
            return await asyncio.shield(item.done)
        except asyncio.CancelledError:
            item.abandoned = True
            raise

    async def _write_all(self) -> None:
        """Write batches while there are works that no batch on its way holds a dispatch of."""
        batch: list[_Item[Any]] = []
        try:
            while batch := self._take():
                try:
                    await self._write(batch)
                finally:
                    self._writing -= {i.dispatch_id for i in batch}
                    if any(i.creation is not None for i in batch):
                        self._creating = False
        except BaseException as stopped:
            # Cancelled with the process: no caller may wait for ever on a work never written.
            for item in [*batch, *self._queued]:
                _fail(item, RuntimeError("group commit stopped"))
            self._queued = []
            raise stopped

    def _take(self) -> list[_Item[Any]]:
        """The next batch: queued works, oldest first, one per dispatch, none of a dispatch
        another batch is writing (those wait, in their order). New dispatches go in one batch
        at a time: each is built knowing the owners given to every new dispatch before it
        (round robin, and a case kept with its clerk), which a batch still on its way would
        hide from it."""
        batch: list[_Item[Any]] = []
        later: list[_Item[Any]] = []
        creations_wait = self._creating
        for item in self._queued:
            if item.abandoned:
                continue
            held = item.dispatch_id in self._writing
            if (
                held
                or len(batch) >= self.max_batch
                or (item.creation is not None and creations_wait)
            ):
                later.append(item)
                continue
            batch.append(item)
            self._writing.add(item.dispatch_id)
            if item.creation is not None:
                self._creating = True
        self._queued = later
        return batch

    async def _write(self, batch: list[_Item[Any]]) -> None:
        if len(batch) == 1:
            await _alone(self.engine_of(), batch[0])
            return
        try:
            results = await self._together(batch)
        except _WorkFailed as failed:
            # A work refused (an unknown document, a clerk who is not one): it has its answer,
            # and the others go first into the next batch.
            _fail(failed.item, failed.error)
            self._queued[:0] = [i for i in batch if i is not failed.item]
            return
        except Exception:
            # Writing failed (a twin's unique reference, a lock that did not come, the
            # database): each work runs again alone and meets its own fate.
            engine = self.engine_of()
            await asyncio.gather(*(_alone(engine, i) for i in batch))
            return
        for item, result in zip(batch, results, strict=True):
            _settle(item, result)

    async def _together(self, batch: list[_Item[Any]]) -> list[Any]:
        ids = sorted(i.dispatch_id for i in batch if i.creation is None)
        async with self.engine_of().begin() as conn:
            if conn.dialect.name == "postgresql":
                # A batch waiting on a lock held elsewhere would hold up every work of the
                # process: it gives up and its works run alone, each waiting for its own.
                await conn.execute(SET_LOCK_TIMEOUT)
            loaded = await _load(conn, ids) if ids else {}
            await _prefetch(conn, [i.prefetch for i in batch if i.prefetch and not i.abandoned])
            results: list[Any] = []
            txs: list[DispatchTransaction] = []
            for item in batch:
                found = loaded.get(item.dispatch_id)
                if item.abandoned:
                    results.append(None)  # its caller is gone: it never runs
                    continue
                if found is None and item.creation is None:
                    results.append(DispatchNotFound(item.dispatch_id))
                    continue
                try:
                    result, tx = await item.run_on(conn, found, txs)
                except sa.exc.DBAPIError:
                    raise  # the database's, not the work's: every work runs again alone
                except Exception as error:
                    raise _WorkFailed(item, error) from error
                results.append(result)
                txs.append(tx)
            await write_transactions(conn, txs)
        return results


class _WorkFailed(Exception):
    """A work of the batch raised: the batch is rolled back, the work's caller gets the error."""

    def __init__(self, item: _Item[Any], error: Exception) -> None:
        super().__init__(str(error))
        self.item = item
        self.error = error


def _fail(item: _Item[Any], error: BaseException) -> None:
    # An abandoned work's future has nobody to read its error (asyncio would log it as never
    # retrieved): it is left unsettled.
    if not item.done.done() and not item.abandoned:
        item.done.set_exception(error)


def _settle(item: _Item[Any], result: Any) -> None:
    if isinstance(result, DispatchNotFound):
        _fail(item, result)
    elif not item.done.done():
        item.done.set_result(result)


async def _alone(engine: AsyncEngine, item: _Item[Any]) -> None:
    """The work in a transaction of its own, as ``dispatch_transaction`` runs one."""
    if item.abandoned:
        return
    try:
        if item.creation is not None:
            async with engine.begin() as conn:
                await _prefetch(conn, [item.prefetch] if item.prefetch else [])
                result, tx = await item.creation(conn, [])
                await tx.flush()
        else:
            assert item.work is not None
            async with dispatch_transaction(
                engine, item.clock, item.dispatch_id, item.shapes
            ) as tx:
                result = await item.work(tx)
    except Exception as error:  # handed to the job that queued the work
        _fail(item, error)
        return
    _settle(item, result)


async def _prefetch(conn: AsyncConnection, prefetches: Sequence[Prefetch]) -> None:
    """Each kind of read once, with the needs of every new dispatch that asks for it."""
    needs: dict[ReadAll, list[Any]] = defaultdict(list)
    for prefetch in prefetches:
        needs[prefetch.read].append(prefetch.need)
    for read, together in needs.items():
        await read(conn, together)


async def _load(
    conn: AsyncConnection, ids: Sequence[str]
) -> dict[str, tuple[Any, int, str, Preloaded]]:
    """Lock the dispatches and read, one statement per table, what their transactions use."""
    params = {"ids": list(ids)}
    locked = (await conn.execute(LOCK_DISPATCHES, params)).mappings().all()
    found = [r["id"] for r in locked]
    if not found:
        return {}
    params = {"ids": found}
    by: dict[str, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
    for r in (await conn.execute(BATCH_ATTEMPTS, params)).mappings():
        by[r["dispatch_id"]]["attempts"].append(attempt_from_row(r))
    for r in (await conn.execute(BATCH_EVENTS, params)).mappings():
        by[r["dispatch_id"]]["events"].append(event_from_row(r))
    for r in (await conn.execute(BATCH_CONTACTS, params)).mappings():
        by[r["dispatch_id"]]["contacts"].append(contact_from_row(r))
    for r in (await conn.execute(BATCH_DOCUMENTS, params)).mappings():
        by[r["served_in"]]["documents"].append(document_from_row(r))
    codes: dict[str, dict[str, str]] = defaultdict(dict)
    for r in (await conn.execute(BATCH_CODES, params)).mappings():
        codes[r["dispatch_id"]][r["attempt_id"]] = r["code"]
    return {
        r["id"]: (
            dispatch_from_row(r, []),
            r["event_seq"],
            r["chain_head"],
            Preloaded(
                attempts=by[r["id"]]["attempts"],
                events=by[r["id"]]["events"],
                contacts=by[r["id"]]["contacts"],
                documents=by[r["id"]]["documents"],
                notice_codes=codes[r["id"]],
            ),
        )
        for r in locked
    }
