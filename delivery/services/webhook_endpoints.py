"""A caller's webhook endpoints and the deliveries made to them.

Every read and write is scoped to the API key that owns the endpoint, so one case system never
sees or changes another's. The HTTP layer validates requests and renders these records as JSON;
retrying a delivery is ``webhook_delivery.retry_delivery``.
"""

from __future__ import annotations

from delivery.context import Context
from delivery.ids import new_id
from delivery.services.api_keys import ApiKey
from delivery.storage import webhooks
from delivery.storage.webhooks import WebhookDelivery, WebhookEndpoint
from tracking.webhooks import new_secret

MAX_DELIVERIES = 200


async def create_endpoint(
    ctx: Context, key: ApiKey, url: str, event_types: list[str] | None
) -> tuple[WebhookEndpoint, str]:
    """The new endpoint and its signing secret, which only this answer shows."""
    secret = new_secret()
    endpoint_id = new_id()
    endpoint = await webhooks.insert_endpoint(
        ctx.engine,
        key.id,
        id=endpoint_id,
        url=url,
        sealed_secret=ctx.settings.secret_box.seal(secret),
        event_types=event_types,
        enabled=True,
        created_at=ctx.clock.now(),
    )
    return endpoint, secret


async def list_endpoints(ctx: Context, key: ApiKey) -> list[WebhookEndpoint]:
    return await webhooks.endpoints(ctx.engine, key.id)


async def delete_endpoint(ctx: Context, key: ApiKey, endpoint_id: str) -> bool:
    """Soft-delete and disable the caller's endpoint; False if it has no such endpoint."""
    return await webhooks.delete_endpoint(ctx.engine, key.id, endpoint_id, ctx.clock.now())


async def list_deliveries(ctx: Context, key: ApiKey, state: str | None) -> list[WebhookDelivery]:
    """The newest deliveries to the caller's endpoints, optionally only those in ``state``."""
    return await webhooks.deliveries(ctx.engine, key.id, state, MAX_DELIVERIES)


async def get_delivery(ctx: Context, key: ApiKey, delivery_id: str) -> WebhookDelivery | None:
    """The delivery if it went to one of the caller's endpoints; otherwise ``None``."""
    return await webhooks.delivery(ctx.engine, key.id, delivery_id)
