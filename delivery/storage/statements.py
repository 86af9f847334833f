"""Statements built once and reused with bound parameters.

SQLAlchemy spends several times longer building a statement and computing its cache key than
executing it (measured: about 60 µs against 12 µs on SQLite), so the statements every dispatch
runs several times are built here, at import.
"""

from __future__ import annotations

import sqlalchemy as sa

from delivery.domain import OPEN_ATTEMPT_STATES
from delivery.storage.schema import (
    api_keys,
    attempts,
    contacts,
    dispatch_documents,
    dispatches,
    documents,
    events,
    notice_codes,
    service_outcomes,
    webhook_endpoints,
)
from delivery.storage.schema.dispatch import OPEN_CHANNEL_BITS
from delivery.storage.schema.event import STANDING

_DISPATCH: sa.BindParameter[str] = sa.bindparam("dispatch_id")
# Named apart from the id column, so that update parameters can still set any column.
_ROW: sa.BindParameter[str] = sa.bindparam("row_id")

SELECT_DISPATCH_FOR_UPDATE = (
    sa.select(dispatches).where(dispatches.c.id == _DISPATCH).with_for_update()
)
SELECT_ATTEMPTS = (
    sa.select(attempts).where(attempts.c.dispatch_id == _DISPATCH).order_by(attempts.c.id)
)
SELECT_EVENTS = sa.select(events).where(events.c.dispatch_id == _DISPATCH).order_by(events.c.seq)
SELECT_CONTACTS = (
    sa.select(contacts).where(contacts.c.dispatch_id == _DISPATCH).order_by(contacts.c.position)
)
SELECT_DOCUMENTS = (
    sa.select(documents)
    .join(dispatch_documents, dispatch_documents.c.document_id == documents.c.id)
    .where(dispatch_documents.c.dispatch_id == _DISPATCH)
    .order_by(dispatch_documents.c.position)
)
SELECT_LIVE_ENDPOINTS = (
    sa.select(webhook_endpoints.c.id, webhook_endpoints.c.event_types, api_keys.c.courts)
    .join(api_keys, api_keys.c.id == webhook_endpoints.c.api_key_id)
    .where(
        webhook_endpoints.c.enabled.is_(True),
        webhook_endpoints.c.deleted_at.is_(None),
        api_keys.c.revoked_at.is_(None),
    )
)
# The documents new dispatches serve, of the keys that uploaded them (a batch's, at once).
SELECT_OWN_DOCUMENTS = sa.select(
    documents.c.id, documents.c.api_key_id, documents.c.sha256, documents.c.title, documents.c.kind
).where(
    documents.c.id.in_(sa.bindparam("document_ids", expanding=True)),
    documents.c.api_key_id.in_(sa.bindparam("api_key_ids", expanding=True)),
)
UPDATE_DISPATCH = dispatches.update().where(dispatches.c.id == _ROW)
UPDATE_ATTEMPT = attempts.update().where(attempts.c.id == _ROW)
INSERT_DISPATCH = dispatches.insert()
# The ``open_channels`` of the dispatches ``ids``, from their attempts as the transaction has
# just written them: each channel's bit once if any of its attempts is open (docs/decisions/0057).
_CHANNEL_BIT = sa.case(OPEN_CHANNEL_BITS, value=attempts.c.channel, else_=0)
_OPEN_CHANNELS = (
    sa.select(sa.func.coalesce(sa.func.sum(sa.distinct(_CHANNEL_BIT)), 0))
    .where(
        attempts.c.dispatch_id == dispatches.c.id,
        attempts.c.state.in_([s.value for s in OPEN_ATTEMPT_STATES]),
    )
    .scalar_subquery()
)
REFRESH_OPEN_CHANNELS = (
    dispatches.update()
    .where(dispatches.c.id.in_(sa.bindparam("ids", expanding=True)))
    .values(open_channels=_OPEN_CHANNELS)
)
INSERT_ATTEMPTS = attempts.insert()
INSERT_EVENTS = events.insert()

# The reports' projection (delivery/storage/outcomes.py): a dispatch's standing outcome row,
# which a newer outcome replaces and whose owner a reassignment changes (docs/decisions/0053).
# The condition is the partial index's own text: SQLite uses a partial index only for a WHERE
# that names its condition as written (``standing = 1`` would read the whole table).
_STANDING_ROW = sa.and_(service_outcomes.c.dispatch_id == _ROW, sa.text(STANDING))
UNSTAND_OUTCOME = (
    service_outcomes.update().where(_STANDING_ROW).values(standing=False, owner_id=None)
)
SET_STANDING_OWNER = (
    service_outcomes.update().where(_STANDING_ROW).values(owner_id=sa.bindparam("owner"))
)
INSERT_OUTCOMES = service_outcomes.insert()

# A group commit's batch (delivery/storage/dispatch_batches.py): its dispatches locked in id
# order, and what their transactions read, one statement per table.
_IDS: sa.BindParameter[list[str]] = sa.bindparam("ids", expanding=True)
LOCK_DISPATCHES = (
    sa.select(dispatches)
    .where(dispatches.c.id.in_(_IDS))
    .order_by(dispatches.c.id)
    .with_for_update()
)
BATCH_ATTEMPTS = sa.select(attempts).where(attempts.c.dispatch_id.in_(_IDS)).order_by(attempts.c.id)
BATCH_EVENTS = (
    sa.select(events)
    .where(events.c.dispatch_id.in_(_IDS))
    .order_by(events.c.dispatch_id, events.c.seq)
)
BATCH_CONTACTS = (
    sa.select(contacts)
    .where(contacts.c.dispatch_id.in_(_IDS))
    .order_by(contacts.c.dispatch_id, contacts.c.position)
)
BATCH_DOCUMENTS = (
    sa.select(documents, dispatch_documents.c.dispatch_id.label("served_in"))
    .join(dispatch_documents, dispatch_documents.c.document_id == documents.c.id)
    .where(dispatch_documents.c.dispatch_id.in_(_IDS))
    .order_by(dispatch_documents.c.dispatch_id, dispatch_documents.c.position)
)
BATCH_CODES = sa.select(
    notice_codes.c.dispatch_id, notice_codes.c.attempt_id, notice_codes.c.code
).where(notice_codes.c.dispatch_id.in_(_IDS))
