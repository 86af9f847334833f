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
from cryptography.fernet import InvalidToken

from delivery.context import Context
from delivery.services.webhook_secrets import signing_secret
from delivery.storage import webhooks
from delivery.storage.outbox import DELIVERY_DELIVERED, DELIVERY_FAILED, DELIVERY_PENDING
from tracking.webhooks import WebhookClient, next_delay, signed_headers

log = logging.getLogger(__name__)
LEASE = timedelta(seconds=60)
TIMEOUT = aiohttp.ClientTimeout(total=15)


def webhook_client(ctx: Context) -> WebhookClient:
    """The client a worker posts webhooks with, under the operator's target rules."""
    return WebhookClient(ctx.settings.webhook_targets, TIMEOUT)


async def deliver_webhook(ctx: Context, client: WebhookClient, delivery_id: str) -> None:
    now = ctx.clock.now()
    row = await webhooks.claim_delivery(ctx.engine, delivery_id, now, now + LEASE)
    if row is None:
        return
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
        await webhooks.disable_endpoint(ctx.engine, row.endpoint_id, "receiver answered 410 Gone")
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
    await webhooks.update_delivery(ctx.engine, delivery_id, **values)


async def retry_delivery(ctx: Context, delivery_id: str) -> bool:
    """Put a failed (or pending) delivery back to be tried now; False if it was delivered."""
    tries = await webhooks.reopen_delivery(ctx.engine, delivery_id, ctx.clock.now())
    if tries is None:
        return False
    await ctx.queue.deliver_webhook(delivery_id, tries)
    return True
