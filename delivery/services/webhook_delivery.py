"""Delivering outbox messages to webhook endpoints, with the Standard Webhooks retry schedule.

A delivery is claimed with a short lease before it is posted, so a job that runs twice (arq may
re-run a job after a crash) does not post twice while the first run is still going.
"""

from __future__ import annotations

import logging
import random
import time
from datetime import timedelta

import aiohttp
import sqlalchemy as sa
from cryptography.fernet import InvalidToken

from delivery.context import Context
from delivery.services.webhook_secrets import signing_secret
from delivery.storage.outbox import DELIVERY_DELIVERED, DELIVERY_FAILED, DELIVERY_PENDING
from delivery.storage.schema import outbox_messages, webhook_deliveries, webhook_endpoints
from tracking.webhooks import WebhookClient, next_delay, signed_headers

log = logging.getLogger(__name__)
LEASE = timedelta(seconds=60)
TIMEOUT = aiohttp.ClientTimeout(total=15)


def webhook_client(ctx: Context) -> WebhookClient:
    """The client a worker posts webhooks with, under the operator's target rules."""
    return WebhookClient(ctx.settings.webhook_targets, TIMEOUT)


async def deliver_webhook(ctx: Context, client: WebhookClient, delivery_id: str) -> None:
    now = ctx.clock.now()
    d = webhook_deliveries
    async with ctx.engine.begin() as conn:
        claimed = await conn.execute(
            d.update()
            .where(
                d.c.id == delivery_id,
                d.c.state == DELIVERY_PENDING,
                d.c.next_attempt_at <= now,
                sa.or_(d.c.lease_until.is_(None), d.c.lease_until < now),
            )
            .values(lease_until=now + LEASE)
        )
        if claimed.rowcount != 1:
            return
        row = (
            await conn.execute(
                sa.select(
                    d.c.tries,
                    d.c.endpoint_id,
                    outbox_messages.c.id.label("message_id"),
                    outbox_messages.c.payload,
                    webhook_endpoints.c.url,
                    webhook_endpoints.c.secret,
                    webhook_endpoints.c.sealed_secret,
                    webhook_endpoints.c.enabled,
                    webhook_endpoints.c.deleted_at,
                )
                .join(outbox_messages, outbox_messages.c.id == d.c.message_id)
                .join(webhook_endpoints, webhook_endpoints.c.id == d.c.endpoint_id)
                .where(d.c.id == delivery_id)
            )
        ).one()
    if not row.enabled or row.deleted_at is not None:
        await _finish(ctx, delivery_id, state=DELIVERY_FAILED, error="endpoint disabled or deleted")
        return
    body = row.payload.encode()
    # The webhook-timestamp is transport freshness that receivers check against their own
    # clocks (replay protection), so it is wall time even when the service's clock is moved.
    try:
        secret = signing_secret(ctx.settings.secret_box, row)
    except InvalidToken:
        # The lease runs out and the sweep tries again once the key is back in the setting.
        log.error(
            "webhook secret cannot be decrypted with SONGDA_SECRETS_KEY (a key was removed "
            "before `songda secrets rotate`?)",
            extra={"delivery_id": delivery_id, "endpoint_id": row.endpoint_id},
        )
        return
    headers = signed_headers(secret, row.message_id, int(time.time()), body)
    result = await client.post(row.url, headers, body)
    tries = row.tries + 1
    log.info(
        "webhook delivery",
        extra={
            "delivery_id": delivery_id,
            "status": result.status,
            "error": result.error,
            "tries": tries,
        },
    )
    if result.delivered:
        await _finish(ctx, delivery_id, state=DELIVERY_DELIVERED, tries=tries, status=result.status)
        return
    if result.gone:
        async with ctx.engine.begin() as conn:
            await conn.execute(
                webhook_endpoints.update()
                .where(webhook_endpoints.c.id == row.endpoint_id)
                .values(enabled=False, disabled_reason="receiver answered 410 Gone")
            )
        await _finish(
            ctx, delivery_id, state=DELIVERY_FAILED, tries=tries, status=410, error=result.error
        )
        return
    delay = next_delay(tries, result.retry_after, random.uniform(0, 0.1))
    if delay is None:
        await _finish(
            ctx,
            delivery_id,
            state=DELIVERY_FAILED,
            tries=tries,
            status=result.status,
            error=result.error,
        )
        return
    await _finish(
        ctx,
        delivery_id,
        state=DELIVERY_PENDING,
        tries=tries,
        status=result.status,
        error=result.error,
        next_attempt_at=ctx.clock.now() + delay,
    )


async def _finish(
    ctx: Context,
    delivery_id: str,
    *,
    state: str,
    tries: int | None = None,
    status: int | None = None,
    error: str | None = None,
    next_attempt_at: object = None,
) -> None:
    values: dict[str, object] = {
        "state": state,
        "lease_until": None,
        "last_status": status,
        "last_error": error,
        "next_attempt_at": next_attempt_at,
    }
    if tries is not None:
        values["tries"] = tries
    if state == DELIVERY_DELIVERED:
        values["delivered_at"] = ctx.clock.now()
    async with ctx.engine.begin() as conn:
        await conn.execute(
            webhook_deliveries.update()
            .where(webhook_deliveries.c.id == delivery_id)
            .values(**values)
        )


async def retry_delivery(ctx: Context, delivery_id: str) -> bool:
    """Put a failed (or pending) delivery back to be tried now; False if it was delivered."""
    async with ctx.engine.begin() as conn:
        result = await conn.execute(
            webhook_deliveries.update()
            .where(
                webhook_deliveries.c.id == delivery_id,
                webhook_deliveries.c.state != DELIVERY_DELIVERED,
                # not while a worker is posting it right now
                sa.or_(
                    webhook_deliveries.c.lease_until.is_(None),
                    webhook_deliveries.c.lease_until < ctx.clock.now(),
                ),
            )
            .values(state=DELIVERY_PENDING, next_attempt_at=ctx.clock.now(), lease_until=None)
        )
        tries = await conn.scalar(
            sa.select(webhook_deliveries.c.tries).where(webhook_deliveries.c.id == delivery_id)
        )
    if result.rowcount != 1:
        return False
    await ctx.queue.deliver_webhook(delivery_id, int(tries or 0))
    return True
