"""Webhook deliveries that fail: retried on schedule, then failed and visible, replayable, 410."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from api_client import Api
from conftest import eventually, settled
from webhook_receiver import Receiver, receiving

from delivery.services.sweep import sweep
from tracking.webhooks import RETRY_SCHEDULE

pytestmark = [pytest.mark.both_databases, pytest.mark.usefixtures("worker")]


async def _deliveries(api: Api, state: str) -> Any:
    response = await api.client.get(
        "/api/v1/webhook-deliveries", params={"state": state}, headers=api.auth
    )
    assert response.status == 200
    return (await response.json())["items"]


async def test_failing_receiver_is_retried_for_days_then_marked_failed_and_can_be_replayed(
    api: Api,
) -> None:
    async with receiving(Receiver(status=500)) as receiver:
        await api.register_webhook(receiver.url, ["dispatch.created"])
        await api.new_dispatch(consent=False)
        for tries in range(1, len(RETRY_SCHEDULE) + 1):
            await eventually(receiver.called(tries))
            await settled(api.ctx)
            api.ctx.clock.advance(timedelta(hours=30))  # type: ignore[attr-defined]
            await sweep(api.ctx)
        [failed] = await eventually(lambda: _deliveries(api, "failed"))
        assert failed["tries"] == len(RETRY_SCHEDULE)
        assert failed["last_status"] == 500
        assert failed["type"] == "dispatch.created"

        receiver.status = 200
        retry = f"/api/v1/webhook-deliveries/{failed['id']}/retry"
        assert (await api.client.post(retry, headers=api.auth)).status == 202
        [delivered] = await eventually(lambda: _deliveries(api, "delivered"))
        assert delivered["id"] == failed["id"]
        assert (await api.client.post(retry, headers=api.auth)).status == 409


async def test_410_gone_disables_the_endpoint(api: Api) -> None:
    async with receiving(Receiver(status=410)) as receiver:
        endpoint_id = (await api.register_webhook(receiver.url))["id"]
        await api.new_dispatch(consent=False)

        async def disabled() -> Any:
            response = await api.client.get("/api/v1/webhook-endpoints", headers=api.auth)
            [endpoint] = (await response.json())["items"]
            return endpoint if not endpoint["enabled"] else None

        endpoint = await eventually(disabled)
        assert endpoint["id"] == endpoint_id
        assert "410" in endpoint["disabled_reason"]


async def test_without_consent_there_is_no_electronic_step(api: Api) -> None:
    """OLR-29/30: no recorded consent, no e-service; with no postal address either, only public
    notice is left."""
    created = await api.new_dispatch(consent=False)
    body = await api.until_state(created["id"], "notice_pending")
    assert [a["channel"] for a in body["attempts"]] == ["public_notice"]
    skipped = [e for e in body["events"] if e["type"] == "step_skipped"]
    assert skipped[0]["data"]["reason"] == "no_e_service_consent"
