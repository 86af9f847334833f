"""A caller's webhook endpoints and the deliveries made to them.

Every read and write is scoped to the API key that owns the endpoint, so one case system never
sees or changes another's. The HTTP layer validates requests and renders these records as JSON;
retrying a delivery is ``webhook_delivery.retry_delivery``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from delivery.context import Context
from delivery.ids import new_id
from delivery.services.api_keys import ApiKey
from delivery.storage.schema import outbox_messages, webhook_deliveries, webhook_endpoints
from tracking.webhooks import new_secret

MAX_DELIVERIES = 200


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


_e = webhook_endpoints
_d = webhook_deliveries
# What an endpoint shows; never the secret after it was created.
_ENDPOINT_COLUMNS = [_e.c[f.name] for f in fields(WebhookEndpoint)]


def _own_endpoints(key: ApiKey) -> sa.Select[Any]:
    return sa.select(*_ENDPOINT_COLUMNS).where(_e.c.api_key_id == key.id, _e.c.deleted_at.is_(None))


def _own_deliveries(key: ApiKey) -> sa.Select[Any]:
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
        .where(_e.c.api_key_id == key.id)
    )


async def create_endpoint(
    ctx: Context, key: ApiKey, url: str, event_types: list[str] | None
) -> tuple[WebhookEndpoint, str]:
    """The new endpoint and its signing secret, which only this answer shows."""
    secret = new_secret()
    endpoint_id = new_id()
    async with ctx.engine.begin() as conn:
        await conn.execute(
            _e.insert().values(
                id=endpoint_id,
                api_key_id=key.id,
                url=url,
                sealed_secret=ctx.settings.secret_box.seal(secret),
                event_types=event_types,
                enabled=True,
                created_at=ctx.clock.now(),
            )
        )
        row = (await conn.execute(_own_endpoints(key).where(_e.c.id == endpoint_id))).one()
    return WebhookEndpoint(**row._mapping), secret


async def list_endpoints(ctx: Context, key: ApiKey) -> list[WebhookEndpoint]:
    async with ctx.engine.connect() as conn:
        rows = (await conn.execute(_own_endpoints(key).order_by(_e.c.id))).all()
    return [WebhookEndpoint(**r._mapping) for r in rows]


async def delete_endpoint(ctx: Context, key: ApiKey, endpoint_id: str) -> bool:
    """Soft-delete and disable the caller's endpoint; False if it has no such endpoint."""
    async with ctx.engine.begin() as conn:
        result = await conn.execute(
            _e.update()
            .where(_e.c.id == endpoint_id, _e.c.api_key_id == key.id, _e.c.deleted_at.is_(None))
            .values(deleted_at=ctx.clock.now(), enabled=False)
        )
    return result.rowcount == 1


async def list_deliveries(ctx: Context, key: ApiKey, state: str | None) -> list[WebhookDelivery]:
    """The newest deliveries to the caller's endpoints, optionally only those in ``state``."""
    query = _own_deliveries(key)
    if state:
        query = query.where(_d.c.state == state)
    async with ctx.engine.connect() as conn:
        rows = (await conn.execute(query.order_by(_d.c.id.desc()).limit(MAX_DELIVERIES))).all()
    return [WebhookDelivery(**r._mapping) for r in rows]


async def get_delivery(ctx: Context, key: ApiKey, delivery_id: str) -> WebhookDelivery | None:
    """The delivery if it went to one of the caller's endpoints; otherwise ``None``."""
    async with ctx.engine.connect() as conn:
        row = (await conn.execute(_own_deliveries(key).where(_d.c.id == delivery_id))).first()
    return None if row is None else WebhookDelivery(**row._mapping)
