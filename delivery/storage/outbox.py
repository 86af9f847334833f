"""The transactional outbox: webhook messages are written in the same transaction as the change.

A message is stored only when at least one endpoint subscribes to it; each subscribing endpoint
gets its own delivery row, which the worker sends and retries independently.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from delivery.clock import rfc3339
from delivery.ids import new_id
from delivery.storage.schema import outbox_messages, webhook_deliveries
from delivery.storage.statements import SELECT_LIVE_ENDPOINTS
from delivery.vocabulary import WebhookDeliveryState

DELIVERY_PENDING = WebhookDeliveryState.PENDING
DELIVERY_DELIVERED = WebhookDeliveryState.DELIVERED
DELIVERY_FAILED = WebhookDeliveryState.FAILED


@dataclass(frozen=True)
class LiveEndpoint:
    id: str
    event_types: Any  # its filter: a list of webhook event types, or empty for all
    courts: tuple[str, ...]  # those its key sees


async def live_endpoints(conn: AsyncConnection) -> list[LiveEndpoint]:
    """Every live endpoint, read in the writing transaction: one registered before it commits
    gets every message after (a batch of dispatches reads them once)."""
    rows = await conn.execute(SELECT_LIVE_ENDPOINTS)
    return [LiveEndpoint(r.id, r.event_types, tuple(r.courts)) for r in rows]


@dataclass
class OutboxRows:
    """The rows of the messages a batch of transactions writes, and of their deliveries."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    deliveries: list[dict[str, Any]] = field(default_factory=list)

    def add(
        self,
        live: list[LiveEndpoint],
        *,
        dispatch_id: str,
        court: str,
        messages: list[tuple[str, dict[str, Any]]],
        now: datetime,
    ) -> list[str]:
        """Add (type, data) messages of one dispatch and their deliveries to the endpoints that
        subscribe to them; the new delivery ids."""
        endpoints = [(e.id, e.event_types) for e in live if court in e.courts]
        if not endpoints:
            return []
        added: list[str] = []
        for event_type, data in messages:
            message_id = new_id()
            payload = {"type": event_type, "timestamp": rfc3339(now), "data": data}
            self.messages.append(
                {
                    "id": message_id,
                    "dispatch_id": dispatch_id,
                    "type": event_type,
                    "payload": json.dumps(payload, ensure_ascii=False, separators=(",", ":")),
                    "created_at": now,
                }
            )
            for endpoint_id, event_types in endpoints:
                if event_types and event_type not in event_types:
                    continue
                added.append(new_id())
                self.deliveries.append(
                    {
                        "id": added[-1],
                        "message_id": message_id,
                        "dispatch_id": dispatch_id,
                        "endpoint_id": endpoint_id,
                        "state": DELIVERY_PENDING,
                        "tries": 0,
                        "next_attempt_at": now,
                        "created_at": now,
                    }
                )
        return added

    async def write(self, conn: AsyncConnection) -> None:
        if self.messages:
            await conn.execute(outbox_messages.insert(), self.messages)
        if self.deliveries:
            await conn.execute(webhook_deliveries.insert(), self.deliveries)
