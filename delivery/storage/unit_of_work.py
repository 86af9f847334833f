"""One dispatch, one transaction: a state change and the events that prove it commit together.

:func:`dispatch_transaction` locks the dispatch row (``FOR UPDATE`` on PostgreSQL; SQLite writes
are serialised by ``BEGIN IMMEDIATE``), so that concurrent receipts for one dispatch append to its
event chain one after the other and can never fork it. Everything the code inside does is buffered
on the :class:`DispatchTransaction` and written when the block ends without an error — with the
``service_outcomes`` row of each outcome event, the reports' projection of it
(delivery/storage/outcomes.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from delivery.clock import Clock
from delivery.domain import (
    OPEN_ATTEMPT_STATES,
    OUTCOME_EVENTS,
    Attempt,
    AttemptState,
    Contact,
    ContactSource,
    Dispatch,
    DispatchState,
    DocumentRef,
    Event,
)
from delivery.identity import mask_address
from delivery.ids import new_id
from delivery.infra.document_store import StoredFile
from delivery.storage import outbox
from delivery.storage.dispatches import load_contacts, load_documents
from delivery.storage.followups import FollowUps
from delivery.storage.notice_codes import code_of_attempt, code_row, insert_codes
from delivery.storage.outcomes import (
    OWNER_EVENTS,
    REPLY_EVENT,
    AttemptFacts,
    mark_standing,
    outcome_row,
    service_reach,
    with_report_facts,
)
from delivery.storage.rows import (
    attempt_changes,
    attempt_row,
    contact_row,
    dispatch_changes,
    event_from_row,
)
from delivery.storage.schema import contacts, dispatch_documents, media_files
from delivery.storage.schema.dispatch import open_channels
from delivery.storage.statements import (
    INSERT_ATTEMPTS,
    INSERT_DISPATCH,
    INSERT_EVENTS,
    INSERT_OUTCOMES,
    REFRESH_OPEN_CHANNELS,
    SET_STANDING_OWNER,
    UNSTAND_OUTCOME,
    UPDATE_ATTEMPT,
    UPDATE_DISPATCH,
)
from delivery.storage.transaction_rows import (
    chained_event,
    load_attempts,
    load_events,
    locked_dispatch,
)
from delivery.vocabulary import EVENT_TYPES, EventType, WebhookEventType

DISPATCH_WEBHOOKS = {
    DispatchState.NOTICE_PENDING: WebhookEventType.DISPATCH_NOTICE_AWAITING_APPROVAL,
    DispatchState.SERVED: WebhookEventType.DISPATCH_SERVED,
    DispatchState.FAILED: WebhookEventType.DISPATCH_FAILED,
    DispatchState.CANCELLED: WebhookEventType.DISPATCH_CANCELLED,
}


@dataclass(frozen=True)
class WebhookShapes:
    """How the webhooks a transaction queues show its dispatch and attempts: the API's JSON
    shapes (delivery/representations.py), passed in by the caller so that storage imports
    nothing above it."""

    dispatch: Callable[[Dispatch], dict[str, Any]]
    attempt: Callable[[Attempt], dict[str, Any]]


class DispatchNotFound(Exception):
    """No dispatch with that id (or none the caller may see)."""


@dataclass(frozen=True)
class Preloaded:
    """What a transaction of a batch read of its dispatch up front, with the others', in one
    statement per table (delivery/storage/dispatch_batches.py), instead of on demand."""

    attempts: list[Attempt]
    events: list[Event]
    contacts: list[Contact]
    documents: list[DocumentRef]
    notice_codes: dict[str, str]


class DispatchTransaction:
    """The buffered changes to one locked dispatch."""

    def __init__(
        self,
        conn: AsyncConnection,
        dispatch: Dispatch,
        *,
        seq: int,
        head: str,
        clock: Clock,
        shapes: WebhookShapes,
        new_row: dict[str, Any] | None = None,
        preloaded: Preloaded | None = None,
    ) -> None:
        """``new_row``: the columns of a dispatch not stored yet; flush then inserts it, with
        the rows added by :meth:`add_new_dispatch_rows`, instead of updating it.
        ``preloaded``: its attempts, chain, contacts, documents and codes, read already."""
        self.conn = conn
        self.dispatch = dispatch
        self.clock = clock
        self.shapes = shapes
        self.now = clock.now()
        self._seq = seq
        self._head = head
        self._new_row = new_row
        self._dependents: list[tuple[sa.Table, list[dict[str, Any]]]] = []
        self._new_contacts: list[dict[str, Any]] = []
        self._stored_state = dispatch_changes(dispatch)
        self._events: list[dict[str, Any]] = []
        self._new_attempts: list[Attempt] = []
        # Whether an attempt was opened or closed: the dispatch's open_channels is then read
        # again from its attempts (REFRESH_OPEN_CHANNELS, docs/decisions/0057).
        self._openings_changed = False
        self._changed_attempts: dict[str, Attempt] = {}
        self._notice_codes: list[dict[str, Any]] = []
        self._webhooks: list[tuple[str, dict[str, Any]]] = []
        self._attempts: list[Attempt] | None = [] if new_row is not None else None
        self._contacts_loaded = new_row is not None
        self._stored_events: list[Event] | None = [] if new_row is not None else None
        self._on_flush: list[sa.Executable] = []
        self._documents: list[DocumentRef] | None = [] if new_row is not None else None
        self._codes: dict[str, str] = {}
        if preloaded is not None:
            self._attempts = list(preloaded.attempts)
            self._stored_events = list(preloaded.events)
            self.dispatch.contacts = list(preloaded.contacts)
            self._contacts_loaded = True
            self._documents = list(preloaded.documents)
            self._codes = dict(preloaded.notice_codes)
        self.followups = FollowUps(dispatch.id)

    @property
    def creates(self) -> bool:
        """Whether the transaction creates its dispatch (written by an insert)."""
        return self._new_row is not None

    @property
    def chain_head(self) -> str:
        """The hash of the last event of the chain, including those recorded in this
        transaction (64 zeros before the first)."""
        return self._head

    @property
    def chain_seq(self) -> int:
        """The seq of the last event of the chain, including those recorded in this
        transaction (0 before the first)."""
        return self._seq

    def add_contact(self, contact: Contact) -> None:
        """A contact learnt after creation (a clerk's action); written with the transaction."""
        self.dispatch.contacts.append(contact)
        # Positions only order a dispatch's contacts: a contact added later is stored at the
        # count of contacts including it (one past its index), after the intake's 0, 1, ….
        position = len(self.dispatch.contacts)
        self._new_contacts.append(contact_row(self.dispatch.id, contact, position))

    def change_contact_source(self, contact: Contact, source: ContactSource) -> Contact:
        """The contact as known from now on with ``source`` (a recipient-confirmed address the
        recipient replaced in writing is court-found); written with the transaction. The caller
        records the evidence."""
        changed = replace(contact, source=source)
        self.dispatch.contacts = [
            changed if c.id == contact.id else c for c in self.dispatch.contacts
        ]
        self._on_flush.append(
            contacts.update().where(contacts.c.id == contact.id).values(source=source.value)
        )
        return changed

    def add_new_dispatch_rows(self, document_ids: Sequence[str]) -> None:
        """A new dispatch's contacts (positions 0, 1, … as listed) and the documents it serves
        (in the request's order), written right after it."""
        d = self.dispatch
        contact_rows = [contact_row(d.id, c, i) for i, c in enumerate(d.contacts)]
        document_rows = [
            {"dispatch_id": d.id, "document_id": doc, "position": i}
            for i, doc in enumerate(document_ids)
        ]
        for table, rows in ((contacts, contact_rows), (dispatch_documents, document_rows)):
            if rows:
                self._dependents.append((table, rows))

    async def load_contacts(self) -> None:
        """Fill ``dispatch.contacts`` (only deciding needs them, so they are read on demand)."""
        if not self._contacts_loaded:
            self.dispatch.contacts = await load_contacts(self.conn, self.dispatch.id)
            self._contacts_loaded = True

    async def attempts(self) -> list[Attempt]:
        """The stored attempts followed by those added in this transaction (not yet written)."""
        if self._attempts is None:
            stored = await load_attempts(self.conn, self.dispatch.id)
            self._attempts = stored + self._new_attempts
        return self._attempts

    async def attempt(self, attempt_id: str) -> Attempt | None:
        return next((a for a in await self.attempts() if a.id == attempt_id), None)

    async def events(self) -> list[Event]:
        """The stored chain followed by the events buffered in this transaction."""
        if self._stored_events is None:
            self._stored_events = await load_events(self.conn, self.dispatch.id)
        return self._stored_events + [event_from_row(e) for e in self._events]

    async def documents(self) -> list[DocumentRef]:
        """The documents served, read once per transaction."""
        if self._documents is None:
            self._documents = await load_documents(self.conn, self.dispatch.id)
        return self._documents

    async def notice_code(self, attempt_id: str) -> str | None:
        """The stored notice code of one of the dispatch's attempts (None: it has none yet)."""
        if attempt_id not in self._codes:
            code = await code_of_attempt(self.conn, attempt_id)
            if code is None:
                return None
            self._codes[attempt_id] = code
        return self._codes[attempt_id]

    def record(
        self,
        type: str,
        *,
        source: str,
        data: dict[str, Any] | None = None,
        attempt_id: str | None = None,
        occurred_at: datetime | None = None,
        actor: str | None = None,
    ) -> str:
        """Append an event to the dispatch's chain; returns its id."""
        if type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {type!r} (not in delivery.vocabulary.EventType)")
        self._seq += 1
        row = chained_event(
            self._head,
            dispatch_id=self.dispatch.id,
            seq=self._seq,
            type=type,
            occurred_at=occurred_at or self.now,
            recorded_at=self.now,
            source=source,
            actor=actor,
            attempt_id=attempt_id,
            data=data or {},
        )
        self._events.append(row)
        self._head = row["hash"]
        return str(row["id"])

    def change_dispatch(
        self,
        new: DispatchState,
        event_type: str,
        *,
        source: str,
        reason: str | None = None,
        data: dict[str, Any] | None = None,
        actor: str | None = None,
    ) -> None:
        """Move the dispatch to ``new`` and record why, in this transaction."""
        self.dispatch.transition(new, reason)
        payload = {"state": new.value, **({"reason": reason} if reason else {}), **(data or {})}
        self.record(event_type, source=source, data=payload, actor=actor)
        if new == DispatchState.SERVED:
            self.followups.certificates.append(self._seq)
        if new in DISPATCH_WEBHOOKS:
            self.notify(DISPATCH_WEBHOOKS[new])

    def add_attempt(self, attempt: Attempt, *, source: str, address_digest: str) -> None:
        """A new attempt; its event binds the contact and (by keyed digest) the address used."""
        self._new_attempts.append(attempt)
        self._openings_changed = True
        if self._attempts is not None:
            self._attempts.append(attempt)
        self.record(
            EventType.ATTEMPT_CREATED,
            source=source,
            attempt_id=attempt.id,
            data={
                "channel": attempt.channel,
                "contact_id": attempt.contact_id,
                "address": mask_address(attempt.channel, attempt.address),
                "address_hmac": address_digest,
                "address_source": attempt.source.value,
                "step": attempt.step_index,
            },
        )
        self.followups.send_attempts.append(attempt.id)

    def add_notice_code(self, attempt_id: str) -> None:
        """Give a new attempt its notice code (printed on its message or letter, checked at
        ``/check``), drawn and written with the transaction (redrawn if already taken)."""
        self._notice_codes.append(code_row(self.dispatch.id, attempt_id, self.now))

    def change_attempt(
        self,
        attempt: Attempt,
        new: AttemptState,
        event_type: str,
        *,
        source: str,
        reason: str | None = None,
        data: dict[str, Any] | None = None,
        occurred_at: datetime | None = None,
        actor: str | None = None,
    ) -> None:
        """Move an attempt to ``new``, record the evidence and tell the case system."""
        was_open = attempt.state in OPEN_ATTEMPT_STATES
        attempt.transition(new, reason)
        self._openings_changed |= was_open != (new in OPEN_ATTEMPT_STATES)
        self.touch_attempt(attempt)
        payload = {"state": new.value, **({"reason": reason} if reason else {}), **(data or {})}
        self.record(
            event_type,
            source=source,
            data=payload,
            attempt_id=attempt.id,
            occurred_at=occurred_at,
            actor=actor,
        )
        if new != AttemptState.SENDING:
            # "sending" is the worker's in-flight claim, not news for the case system.
            self.notify(WebhookEventType.ATTEMPT_UPDATED, {"attempt": self.shapes.attempt(attempt)})

    def touch_attempt(self, attempt: Attempt) -> None:
        """Mark an attempt whose columns changed without a state change (tries, retry time)."""
        if attempt not in self._new_attempts:
            self._changed_attempts[attempt.id] = attempt

    def notify(self, webhook_type: str, extra: dict[str, Any] | None = None) -> None:
        self._webhooks.append((webhook_type, extra or {}))

    async def add_media(
        self, attempt_id: str | None, purpose: str, stored: StoredFile, media_type: str, by: str
    ) -> str:
        """A ``media_files`` row for a file already in the content-addressed store (a photo, a
        scan) that this transaction's event names; its id."""
        media_id = new_id()
        await self.conn.execute(
            media_files.insert().values(
                id=media_id,
                dispatch_id=self.dispatch.id,
                attempt_id=attempt_id,
                purpose=purpose,
                sha256=stored.sha256,
                size=stored.size,
                media_type=media_type,
                uploaded_by=by,
                created_at=self.now,
            )
        )
        return media_id

    def execute_on_flush(self, statement: sa.Executable) -> None:
        """A statement on another table that belongs with this transaction's changes (e.g. a
        certificate marked superseded when service is reversed), run when it is written."""
        self._on_flush.append(statement)

    async def flush(self) -> None:
        await write_transactions(self.conn, [self])

    async def _had_outcome(self) -> bool:
        """Whether the dispatch's stored chain holds an outcome: a standing row that this
        transaction's outcome replaces. (Its chain is read anyway for the outcome rows; most
        dispatches have none before their service, so the unmarking is mostly not sent.)"""
        if self._new_row is not None:
            return False
        stored = await self.events()
        return any(e.type in OUTCOME_EVENTS for e in stored[: len(stored) - len(self._events)])

    async def _outcome_rows(self) -> list[dict[str, Any]]:
        """The ``service_outcomes`` rows of this transaction's outcome events (the reports'
        projection of them, delivery/storage/outcomes.py), from the dispatch's attempts."""
        new = [e for e in self._events if e["type"] in OUTCOME_EVENTS]
        if not new:
            return []
        attempts = await self.attempts()
        facts = [AttemptFacts(a.id, a.step_index, a.channel) for a in attempts]
        d = self.dispatch
        confirmed_contacts = {c.id for c in d.contacts if c.confirmation_id is not None}
        confirmed = {a.id for a in attempts if a.contact_id in confirmed_contacts}
        replies = {e.id for e in await self.events() if e.type == REPLY_EVENT}
        return [
            with_report_facts(
                {
                    **outcome_row(e, d.court, d.created_at, facts),
                    **service_reach(e, confirmed, replies),
                }
            )
            for e in new
        ]


async def write_transactions(conn: AsyncConnection, txs: Sequence[DispatchTransaction]) -> None:
    """Write what the transactions buffered, of one or many dispatches: one statement per kind
    of row for all of them (an ``executemany`` where there are several rows), in the order the
    rows depend on each other — dispatches, contacts, attempts, codes, events."""
    await _write_dispatches(conn, txs)
    new_contacts = [row for tx in txs for row in tx._new_contacts]
    if new_contacts:
        await conn.execute(contacts.insert(), new_contacts)
    new_attempts = [
        {**attempt_row(a), "updated_at": tx.now} for tx in txs for a in tx._new_attempts
    ]
    if new_attempts:
        await conn.execute(INSERT_ATTEMPTS, new_attempts)
    codes = [row for tx in txs for row in tx._notice_codes]
    if codes:
        await insert_codes(conn, codes)
    changed_attempts = [
        {"row_id": a.id, **attempt_changes(a), "updated_at": tx.now}
        for tx in txs
        for a in tx._changed_attempts.values()
    ]
    if changed_attempts:
        await conn.execute(UPDATE_ATTEMPT, changed_attempts)
    # A new dispatch's attempts are all in this transaction: its row was written with them.
    reopened = [tx.dispatch.id for tx in txs if tx._openings_changed and tx._new_row is None]
    if reopened:
        await conn.execute(REFRESH_OPEN_CHANNELS, {"ids": reopened})
    new_events = [row for tx in txs for row in tx._events]
    if new_events:
        await conn.execute(INSERT_EVENTS, new_events)
        await _write_outcomes(conn, txs)
    for tx in txs:
        for statement in tx._on_flush:
            await conn.execute(statement)
    await _write_webhooks(conn, txs)


async def _write_outcomes(conn: AsyncConnection, txs: Sequence[DispatchTransaction]) -> None:
    """The reports' projection of the transactions' outcome events, each dispatch's latest
    standing in place of the one before it, and the standing row of a reassigned dispatch
    given its new owner (delivery/storage/outcomes.py, docs/decisions/0053)."""
    rows: list[dict[str, Any]] = []
    replaced: list[dict[str, Any]] = []
    reassigned: list[dict[str, Any]] = []
    for tx in txs:
        new = await tx._outcome_rows()
        if new:
            rows += new
            if await tx._had_outcome():
                replaced.append({"row_id": tx.dispatch.id})
        elif tx._new_row is None and any(e["type"] in OWNER_EVENTS for e in tx._events):
            reassigned.append({"row_id": tx.dispatch.id, "owner": tx.dispatch.owner_id})
    if replaced:
        await conn.execute(UNSTAND_OUTCOME, replaced)
    if rows:
        owners = {tx.dispatch.id: tx.dispatch.owner_id for tx in txs}
        await conn.execute(INSERT_OUTCOMES, mark_standing(rows, owners))
    if reassigned:
        await conn.execute(SET_STANDING_OWNER, reassigned)


async def _write_dispatches(conn: AsyncConnection, txs: Sequence[DispatchTransaction]) -> None:
    """Insert the new dispatches (with their contacts and documents), update the changed ones."""
    inserts: list[dict[str, Any]] = []
    dependents: dict[sa.Table, list[dict[str, Any]]] = {}
    updates: list[dict[str, Any]] = []
    for tx in txs:
        chain = {"event_seq": tx._seq, "chain_head": tx._head, "updated_at": tx.now}
        changes = dispatch_changes(tx.dispatch)
        if tx._new_row is not None:
            opened = open_channels((a.channel, a.state) for a in tx._new_attempts)
            inserts.append({**tx._new_row, **changes, **chain, "open_channels": opened})
            for table, rows in tx._dependents:
                dependents.setdefault(table, []).extend(rows)
        elif tx._events or changes != tx._stored_state:
            updates.append({"row_id": tx.dispatch.id, **changes, **chain})
    for same_columns in _by_columns(inserts):
        await conn.execute(INSERT_DISPATCH, same_columns)
    for table, rows in dependents.items():
        for same_columns in _by_columns(rows):
            await conn.execute(table.insert(), same_columns)
    if updates:
        await conn.execute(UPDATE_DISPATCH, updates)


def _by_columns(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """``rows`` grouped by the columns they set: an ``executemany`` sets the same ones in all."""
    groups: dict[frozenset[str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(frozenset(row), []).append(row)
    return list(groups.values())


async def _write_webhooks(conn: AsyncConnection, txs: Sequence[DispatchTransaction]) -> None:
    """The outbox messages of every transaction that has news, with one read of the endpoints."""
    telling = [tx for tx in txs if tx._webhooks]
    if not telling:
        return
    endpoints = await outbox.live_endpoints(conn)
    rows = outbox.OutboxRows()
    for tx in telling:
        summary = tx.shapes.dispatch(tx.dispatch)
        tx.followups.deliveries = rows.add(
            endpoints,
            dispatch_id=tx.dispatch.id,
            court=tx.dispatch.court,
            messages=[(t, {**summary, **extra}) for t, extra in tx._webhooks],
            now=tx.now,
        )
    await rows.write(conn)


@asynccontextmanager
async def dispatch_transaction(
    engine: AsyncEngine, clock: Clock, dispatch_id: str, shapes: WebhookShapes
) -> AsyncIterator[DispatchTransaction]:
    """Lock one dispatch, yield its transaction, write everything on a clean exit."""
    async with engine.begin() as conn:
        found = await locked_dispatch(conn, dispatch_id)
        if found is None:
            raise DispatchNotFound(dispatch_id)
        dispatch, seq, head = found
        tx = DispatchTransaction(conn, dispatch, seq=seq, head=head, clock=clock, shapes=shapes)
        yield tx
        await tx.flush()
