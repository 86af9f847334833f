"""Read-only queries behind the API: a dispatch with its history, and filtered lists."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from delivery.domain import (
    Attempt,
    AttemptState,
    Dispatch,
    DispatchState,
    DocumentRef,
    Event,
)
from delivery.storage.address_confirmations import ConfirmationRef, confirmation_refs
from delivery.storage.dispatches import load_contacts, load_documents
from delivery.storage.engine import READ_ONLY
from delivery.storage.rows import attempt_from_row, dispatch_from_row, event_from_row
from delivery.storage.schema import attempts, certificates, dispatches, events, notices
from delivery.storage.schema.dispatch import open_on
from delivery.vocabulary import Channel


@dataclass(frozen=True)
class NoticeText:
    """A dispatch's public notice: while ``notice_pending`` the one as it stands, what a
    supervisor reviews before approving (the approval names the text's SHA-256); afterwards the
    last one, with when it was published and when service was deemed."""

    id: str
    state: str
    title: str
    body: str
    first_published_at: datetime | None = None
    last_published_at: datetime | None = None
    deemed_served_at: datetime | None = None


@dataclass(frozen=True)
class StandingCertificate:
    """The certificate of the dispatch's standing service: its id and the chain head it pins
    (the hash its verification page is addressed by)."""

    id: str
    chain_head: str


@dataclass(frozen=True)
class DispatchDetail:
    dispatch: Dispatch
    documents: list[DocumentRef]
    attempts: list[Attempt]
    events: list[Event]
    chain_head: str
    notice: NoticeText | None = None
    certificate: StandingCertificate | None = None
    # The address confirmation forms its contacts came from, by id (CPL-INT-136/137).
    confirmations: dict[str, ConfirmationRef] = field(default_factory=dict)


OPEN_NOTICE_ATTEMPT_STATES = (AttemptState.PENDING.value, AttemptState.SENT.value)


async def current_notice(
    conn: AsyncConnection, dispatch_id: str, *, open_only: bool = True
) -> NoticeText | None:
    """The notice of the dispatch's open public-notice attempt (the latest), if any; with
    ``open_only`` false, of its latest one whatever became of it (a served dispatch's)."""
    query = (
        sa.select(
            notices.c.id,
            notices.c.state,
            notices.c.title,
            notices.c.body,
            notices.c.first_published_at,
            notices.c.last_published_at,
            notices.c.deemed_served_at,
        )
        .join(attempts, attempts.c.id == notices.c.attempt_id)
        .where(notices.c.dispatch_id == dispatch_id)
        .order_by(attempts.c.id.desc())
        .limit(1)
    )
    if open_only:
        query = query.where(attempts.c.state.in_(OPEN_NOTICE_ATTEMPT_STATES))
    row = (await conn.execute(query)).first()
    return None if row is None else NoticeText(*row)


async def standing_certificate(
    conn: AsyncConnection, dispatch_id: str
) -> StandingCertificate | None:
    """The certificate not superseded by a reversed service, once it is issued."""
    row = (
        await conn.execute(
            sa.select(certificates.c.id, certificates.c.chain_head)
            .where(
                certificates.c.dispatch_id == dispatch_id, certificates.c.superseded_at.is_(None)
            )
            .order_by(certificates.c.chain_seq.desc())
            .limit(1)
        )
    ).first()
    return None if row is None else StandingCertificate(row.id, row.chain_head)


async def read_dispatch_detail(
    engine: AsyncEngine, dispatch_id: str, courts: tuple[str, ...]
) -> DispatchDetail | None:
    """:func:`dispatch_detail` on a read-only connection of its own."""
    async with engine.connect() as conn:
        conn = await conn.execution_options(**READ_ONLY)
        return await dispatch_detail(conn, dispatch_id, courts)


async def dispatch_detail(
    conn: AsyncConnection, dispatch_id: str, courts: tuple[str, ...]
) -> DispatchDetail | None:
    """The dispatch if it exists and belongs to one of ``courts``; otherwise ``None``."""
    row = (
        (
            await conn.execute(
                sa.select(dispatches).where(
                    dispatches.c.id == dispatch_id, dispatches.c.court.in_(courts)
                )
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    attempt_rows = await conn.execute(
        sa.select(attempts).where(attempts.c.dispatch_id == dispatch_id).order_by(attempts.c.id)
    )
    event_rows = await conn.execute(
        sa.select(events).where(events.c.dispatch_id == dispatch_id).order_by(events.c.seq)
    )
    dispatch = dispatch_from_row(row, await load_contacts(conn, dispatch_id))
    # While a notice runs, the one being reviewed or published; after it, the last one, kept
    # so that a served dispatch still says where and when it was published.
    pending = dispatch.state == DispatchState.NOTICE_PENDING
    notice = await current_notice(conn, dispatch_id, open_only=pending)
    return DispatchDetail(
        dispatch=dispatch,
        documents=await load_documents(conn, dispatch_id),
        attempts=[attempt_from_row(r) for r in attempt_rows.mappings()],
        events=[event_from_row(r) for r in event_rows.mappings()],
        chain_head=row["chain_head"],
        notice=notice,
        certificate=await standing_certificate(conn, dispatch_id),
        confirmations=await confirmation_refs(
            conn, [c.confirmation_id for c in dispatch.contacts if c.confirmation_id]
        ),
    )


@dataclass(frozen=True)
class DispatchFilter:
    """Which dispatches a list shows. Times are UTC instants; ``*_to`` bounds are exclusive."""

    courts: tuple[str, ...]
    state: str | None = None
    case_number: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    before_id: str | None = None
    limit: int = 50
    # The clerk workspace's queue adds these (the API does not offer them yet).
    owner_id: str | None = None
    recipient_prefix: str | None = None
    served_from: datetime | None = None
    served_to: datetime | None = None
    channel: str | None = None  # dispatches with an open attempt on this channel
    # The lowest and highest id among the dispatches of the date range (id_window): redundant,
    # it only lets a newest-first scan start at the range instead of at the newest dispatch.
    id_window: tuple[str, str] | None = None


LIKE_ESCAPE = "\\"


def escape_like(text: str) -> str:
    """``text`` for a LIKE pattern (with ``escape=LIKE_ESCAPE``): its wildcards taken literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _date_ranges(table: sa.FromClause, f: DispatchFilter) -> list[sa.ColumnElement[bool]]:
    """``f``'s creation and service date ranges over ``table`` (``dispatches`` or an alias of
    it): from the start, until before the end."""
    conditions: list[sa.ColumnElement[bool]] = []
    for column, start, end in (
        (table.c.created_at, f.created_from, f.created_to),
        (table.c.served_at, f.served_from, f.served_to),
    ):
        if start:
            conditions.append(column >= start)
        if end:
            conditions.append(column < end)
    return conditions


def dispatch_conditions(
    f: DispatchFilter, *, with_state: bool = True
) -> list[sa.ColumnElement[bool]]:
    """The WHERE clause of ``f`` (without the cursor); ``with_state=False`` for counts per state.

    Each condition can use an index of its own (docs/decisions/0014-queue-and-dispatch-page.md).
    """
    d = dispatches.c
    conditions: list[sa.ColumnElement[bool]] = [d.court.in_(f.courts)]
    if with_state and f.state:
        conditions.append(d.state == f.state)
    if f.case_number:
        conditions.append(d.case_number == f.case_number)
    if f.owner_id:
        conditions.append(d.owner_id == f.owner_id)
    if f.recipient_prefix:
        # A prefix (a surname, the start of an entity's name): see the decision record.
        pattern = escape_like(f.recipient_prefix) + "%"
        conditions.append(d.recipient_name.like(pattern, escape=LIKE_ESCAPE))
    conditions += _date_ranges(dispatches, f)
    if f.id_window:
        conditions.append(d.id.between(*f.id_window))
    if f.channel:
        # Kept on the dispatch row, with a partial index per channel (docs/decisions/0057).
        conditions.append(sa.literal_column(open_on(Channel(f.channel)), sa.Boolean))
    return conditions


# A window that holds no id (the date range holds no dispatch).
NO_IDS = ("1", "0")


async def id_window(conn: AsyncConnection, f: DispatchFilter) -> tuple[str, str]:
    """The lowest and highest id among ``f``'s courts' dispatches created (and served) in its
    date ranges.

    Ids sort by creation time, but only roughly by ``created_at`` (the id takes the system's
    time, ``created_at`` the injected clock's) and not by ``served_at``, so the planner cannot
    know that a month a year back is a band of ids: newest first, it read 800,000 rows to reach
    it at a million dispatches (0.4-0.6 s, docs/decisions/0054). The window is read from the
    date indexes alone (the ids included); ``OFFSET 0`` keeps PostgreSQL from turning min/max
    into a walk of the primary key, which would be the same misjudgement."""
    d = dispatches.alias("ranged")
    conditions = [d.c.court.in_(f.courts), *_date_ranges(d, f)]
    ids = sa.select(d.c.id).where(*conditions).offset(0).subquery()
    row = (await conn.execute(sa.select(sa.func.min(ids.c.id), sa.func.max(ids.c.id)))).one()
    return NO_IDS if row[0] is None else (str(row[0]), str(row[1]))


async def list_dispatches(
    conn: AsyncConnection, f: DispatchFilter, *, few: bool = False
) -> list[Dispatch]:
    """Newest first; ``before_id`` is the cursor (ids sort by creation time).

    ``few``: the caller knows the filter finds few dispatches (a state counted under its cap).
    They are then found first and sorted after: newest first, a state that is rare under the
    filter (``failed`` among last month's dispatches) walked every id back to the first
    dispatch, because PostgreSQL expects the state and the dates to be independent
    (docs/decisions/0058)."""
    d = dispatches.c
    conditions = dispatch_conditions(f)
    if f.before_id:
        conditions.append(d.id < f.before_id)
    if few:
        # OFFSET 0: planned on its own, by the filter's best index, not by the order wanted.
        conditions = [d.id.in_(sa.select(d.id).where(*conditions).offset(0))]
    query = sa.select(dispatches).where(*conditions)
    rows = await conn.execute(query.order_by(d.id.desc()).limit(f.limit))
    return [dispatch_from_row(r, []) for r in rows.mappings()]


@dataclass(frozen=True)
class StateCounts:
    """How many dispatches a filter finds in each state, each counted up to ``cap``: a state
    in ``over_cap`` has more than ``cap`` (its count reads ``cap``). An exact count over a
    broad filter reads every matching row on every page (120-720 ms at a million,
    docs/decisions/0054); a capped one stops at ``cap`` rows per state."""

    counts: dict[str, int]
    cap: int
    over_cap: frozenset[str] = frozenset()

    @property
    def total(self) -> int:
        """The states' counts added up: a lower bound when any is over the cap."""
        return sum(self.counts.values())


async def count_by_state(
    conn: AsyncConnection, f: DispatchFilter, states: Sequence[str], cap: int
) -> StateCounts:
    """How many dispatches ``f`` finds in each of ``states``, ignoring its own state filter,
    each counted up to ``cap`` (one statement: a subquery per state, each stopping after
    ``cap + 1`` rows)."""
    conditions = dispatch_conditions(f, with_state=False)

    def capped(state: str) -> sa.ScalarSelect[int]:
        rows = (
            sa.select(sa.literal(1).label("one"))
            .where(*conditions, dispatches.c.state == state)
            .limit(cap + 1)
            .subquery()
        )
        return sa.select(sa.func.count()).select_from(rows).scalar_subquery()

    row = (await conn.execute(sa.select(*(capped(s) for s in states)))).one()
    found = dict(zip(states, (int(n) for n in row), strict=True))
    return StateCounts(
        counts={s: min(n, cap) for s, n in found.items() if n},
        cap=cap,
        over_cap=frozenset(s for s, n in found.items() if n > cap),
    )


async def dispatch_in_courts(
    engine: AsyncEngine, dispatch_id: str, courts: tuple[str, ...]
) -> bool:
    """Whether the dispatch exists in one of ``courts``."""
    async with engine.connect() as conn:
        found = await conn.scalar(
            sa.select(dispatches.c.id).where(
                dispatches.c.id == dispatch_id, dispatches.c.court.in_(courts)
            )
        )
    return found is not None
