"""Webhook endpoints and their deliveries (the outbox's fan-out, delivery/storage/outbox.py):
the rows behind delivery/services/webhook_endpoints.py, webhook_delivery.py and webhook_secrets.py.

Every read and write of a caller's endpoints is scoped to the API key that owns them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from delivery.storage.outbox import DELIVERY_DELIVERED, DELIVERY_PENDING
from delivery.storage.schema import outbox_messages, webhook_deliveries, webhook_endpoints

_e = webhook_endpoints
_d = webhook_deliveries


@dataclass(frozen=True)
class WebhookEndpoint:
    id: str
    url: str
    event_types: list[str] | None
    enabled: bool
    disabled_reason: str | None
    created_at: datetime


@dataclass(frozen=True)
class WebhookDelivery:
    id: str
    endpoint_id: str
    message_id: str
    type: str
    dispatch_id: str | None
    state: str
    tries: int
    next_attempt_at: datetime | None
    last_status: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


# What an endpoint shows; never the secret after it was created.
_ENDPOINT_COLUMNS = [_e.c[f.name] for f in fields(WebhookEndpoint)]


def _own_endpoints(key_id: str) -> sa.Select[Any]:
    return sa.select(*_ENDPOINT_COLUMNS).where(_e.c.api_key_id == key_id, _e.c.deleted_at.is_(None))


def _own_deliveries(key_id: str) -> sa.Select[Any]:
    return (
        sa.select(
            _d.c.id,
            _d.c.endpoint_id,
            _d.c.state,
            _d.c.tries,
            _d.c.next_attempt_at,
            _d.c.last_status,
            _d.c.last_error,
            _d.c.created_at,
            _d.c.delivered_at,
            outbox_messages.c.type,
            outbox_messages.c.dispatch_id,
            outbox_messages.c.id.label("message_id"),
        )
        .join(outbox_messages, outbox_messages.c.id == _d.c.message_id)
        .join(_e, _e.c.id == _d.c.endpoint_id)
        .where(_e.c.api_key_id == key_id)
    )


# --- A caller's endpoints and deliveries ---


async def insert_endpoint(engine: AsyncEngine, key_id: str, **values: Any) -> WebhookEndpoint:
    """Store a new endpoint of the key; the endpoint as it is shown."""
    async with engine.begin() as conn:
        await conn.execute(_e.insert().values(api_key_id=key_id, **values))
        row = (await conn.execute(_own_endpoints(key_id).where(_e.c.id == values["id"]))).one()
    return WebhookEndpoint(**row._mapping)


async def endpoints(engine: AsyncEngine, key_id: str) -> list[WebhookEndpoint]:
    async with engine.connect() as conn:
        rows = (await conn.execute(_own_endpoints(key_id).order_by(_e.c.id))).all()
    return [WebhookEndpoint(**r._mapping) for r in rows]


async def delete_endpoint(
    engine: AsyncEngine, key_id: str, endpoint_id: str, now: datetime
) -> bool:
    """Soft-delete and disable the key's endpoint; False if it has no such endpoint."""
    async with engine.begin() as conn:
        result = await conn.execute(
            _e.update()
            .where(_e.c.id == endpoint_id, _e.c.api_key_id == key_id, _e.c.deleted_at.is_(None))
            .values(deleted_at=now, enabled=False)
        )
    return result.rowcount == 1


async def deliveries(
    engine: AsyncEngine, key_id: str, state: str | None, limit: int
) -> list[WebhookDelivery]:
    """The newest deliveries to the key's endpoints, optionally only those in ``state``."""
    query = _own_deliveries(key_id)
    if state:
        query = query.where(_d.c.state == state)
    async with engine.connect() as conn:
        rows = (await conn.execute(query.order_by(_d.c.id.desc()).limit(limit))).all()
    return [WebhookDelivery(**r._mapping) for r in rows]


async def delivery(engine: AsyncEngine, key_id: str, delivery_id: str) -> WebhookDelivery | None:
    async with engine.connect() as conn:
        row = (await conn.execute(_own_deliveries(key_id).where(_d.c.id == delivery_id))).first()
    return None if row is None else WebhookDelivery(**row._mapping)


# --- Posting a delivery ---


async def claim_delivery(
    engine: AsyncEngine, delivery_id: str, now: datetime, lease_until: datetime
) -> Any:
    """Lease a pending delivery that is due and not leased; what posting it needs (tries,
    endpoint, message id and payload, url, secrets, whether the endpoint is live), or ``None``
    when it is not there to claim."""
    async with engine.begin() as conn:
        claimed = await conn.execute(
            _d.update()
            .where(
                _d.c.id == delivery_id,
                _d.c.state == DELIVERY_PENDING,
                _d.c.next_attempt_at <= now,
                sa.or_(_d.c.lease_until.is_(None), _d.c.lease_until < now),
            )
            .values(lease_until=lease_until)
        )
        if claimed.rowcount != 1:
            return None
        return (
            await conn.execute(
                sa.select(
                    _d.c.tries,
                    _d.c.endpoint_id,
                    outbox_messages.c.id.label("message_id"),
                    outbox_messages.c.payload,
                    _e.c.url,
                    _e.c.secret,
                    _e.c.sealed_secret,
                    _e.c.enabled,
                    _e.c.deleted_at,
                )
                .join(outbox_messages, outbox_messages.c.id == _d.c.message_id)
                .join(_e, _e.c.id == _d.c.endpoint_id)
                .where(_d.c.id == delivery_id)
            )
        ).one()


async def disable_endpoint(engine: AsyncEngine, endpoint_id: str, reason: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            _e.update().where(_e.c.id == endpoint_id).values(enabled=False, disabled_reason=reason)
        )


async def update_delivery(engine: AsyncEngine, delivery_id: str, **values: Any) -> None:
    async with engine.begin() as conn:
        await conn.execute(_d.update().where(_d.c.id == delivery_id).values(**values))


async def reopen_delivery(engine: AsyncEngine, delivery_id: str, now: datetime) -> int | None:
    """Put an undelivered delivery that no worker is posting back to be tried at ``now``; its
    tries, or ``None`` when it was delivered (or is being posted)."""
    async with engine.begin() as conn:
        result = await conn.execute(
            _d.update()
            .where(
                _d.c.id == delivery_id,
                _d.c.state != DELIVERY_DELIVERED,
                # not while a worker is posting it right now
                sa.or_(_d.c.lease_until.is_(None), _d.c.lease_until < now),
            )
            .values(state=DELIVERY_PENDING, next_attempt_at=now, lease_until=None)
        )
        tries = await conn.scalar(sa.select(_d.c.tries).where(_d.c.id == delivery_id))
    return int(tries or 0) if result.rowcount == 1 else None


# --- Signing secrets at rest ---


async def plaintext_secrets(conn: AsyncConnection) -> list[Any]:
    """(id, secret) of the endpoints whose secret is still stored in plaintext."""
    return list(
        (await conn.execute(sa.select(_e.c.id, _e.c.secret).where(_e.c.secret.is_not(None)))).all()
    )


async def seal_secret(conn: AsyncConnection, endpoint_id: str, plain: str, sealed: str) -> None:
    """Replace the plaintext secret by its sealed form (unless it changed meanwhile)."""
    await conn.execute(
        _e.update()
        .where(_e.c.id == endpoint_id, _e.c.secret == plain)
        .values(sealed_secret=sealed, secret=None)
    )


async def sealed_secrets(conn: AsyncConnection) -> list[Any]:
    """(id, sealed secret) of the endpoints with a sealed secret, by id."""
    return list(
        (
            await conn.execute(
                sa.select(_e.c.id, _e.c.sealed_secret)
                .where(_e.c.sealed_secret.is_not(None))
                .order_by(_e.c.id)
            )
        ).all()
    )


async def reseal_secret(conn: AsyncConnection, endpoint_id: str, sealed: str) -> None:
    await conn.execute(_e.update().where(_e.c.id == endpoint_id).values(sealed_secret=sealed))
