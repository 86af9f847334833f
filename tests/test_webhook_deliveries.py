"""Webhook deliveries that fail: retried on schedule, then failed and visible, replayable, 410."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from conftest import eventually, settled
from helpers import create_dispatch, dispatch_body, upload_ok

from delivery.context import Context
from delivery.services.sweep import sweep
from tracking.webhooks import RETRY_SCHEDULE


class Answering:
    """A receiver that answers with whatever status ``status`` holds now."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.calls = 0

    async def handle(self, request: web.Request) -> web.Response:
        await request.read()
        self.calls += 1
        return web.Response(status=self.status)


async def _serve(receiver: Answering) -> TestServer:
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    server = TestServer(app)
    await server.start_server()
    return server


async def _deliveries(client: TestClient[Any, Any], auth: dict[str, str], state: str) -> Any:
    response = await client.get("/api/v1/webhook-deliveries", params={"state": state}, headers=auth)
    assert response.status == 200
    return (await response.json())["items"]


async def test_failing_receiver_is_retried_for_days_then_marked_failed_and_can_be_replayed(
    ctx: Context,
    client: TestClient[Any, Any],
    auth: dict[str, str],
    worker: Any,
) -> None:
    receiver = Answering(500)
    server = await _serve(receiver)
    try:
        await client.post(
            "/api/v1/webhook-endpoints",
            json={"url": str(server.make_url("/hook")), "event_types": ["dispatch.created"]},
            headers=auth,
        )
        document_id = await upload_ok(client, auth)
        await create_dispatch(client, auth, dispatch_body([document_id], consent=False))

        async def calls(n: int) -> bool:
            return receiver.calls >= n

        for n in range(1, len(RETRY_SCHEDULE) + 1):
            await eventually(lambda n=n: calls(n))
            await settled(ctx)
            ctx.clock.advance(timedelta(hours=30))  # type: ignore[attr-defined]
            await sweep(ctx)
        [failed] = await eventually(lambda: _deliveries(client, auth, "failed"))
        assert failed["tries"] == len(RETRY_SCHEDULE)
        assert failed["last_status"] == 500
        assert failed["type"] == "dispatch.created"

        receiver.status = 200
        replay = await client.post(f"/api/v1/webhook-deliveries/{failed['id']}/retry", headers=auth)
        assert replay.status == 202
        [delivered] = await eventually(lambda: _deliveries(client, auth, "delivered"))
        assert delivered["id"] == failed["id"]
        again = await client.post(f"/api/v1/webhook-deliveries/{failed['id']}/retry", headers=auth)
        assert again.status == 409
    finally:
        await server.close()


async def test_410_gone_disables_the_endpoint(
    ctx: Context,
    client: TestClient[Any, Any],
    auth: dict[str, str],
    worker: Any,
) -> None:
    receiver = Answering(410)
    server = await _serve(receiver)
    try:
        created = await client.post(
            "/api/v1/webhook-endpoints", json={"url": str(server.make_url("/hook"))}, headers=auth
        )
        endpoint_id = (await created.json())["id"]
        document_id = await upload_ok(client, auth)
        await create_dispatch(client, auth, dispatch_body([document_id], consent=False))

        async def disabled() -> Any:
            listing = await (await client.get("/api/v1/webhook-endpoints", headers=auth)).json()
            [endpoint] = listing["items"]
            return endpoint if not endpoint["enabled"] else None

        endpoint = await eventually(disabled)
        assert endpoint["id"] == endpoint_id
        assert "410" in endpoint["disabled_reason"]
    finally:
        await server.close()


async def test_without_consent_there_is_no_electronic_step(
    ctx: Context,
    client: TestClient[Any, Any],
    auth: dict[str, str],
    worker: Any,
) -> None:
    """OLR-29/30: no recorded consent, no e-service; the one-step policy then fails."""
    document_id = await upload_ok(client, auth)
    created = await create_dispatch(client, auth, dispatch_body([document_id], consent=False))

    async def failed() -> Any:
        body = await client.get(f"/api/v1/dispatches/{created['id']}", headers=auth)
        data = await body.json()
        return data if data["state"] == "failed" else None

    body = await eventually(failed)
    assert body["attempts"] == []
    skipped = [e for e in body["events"] if e["type"] == "step_skipped"]
    assert skipped[0]["data"]["reason"] == "no_e_service_consent"
    assert body["state_reason"] == "exhausted"
