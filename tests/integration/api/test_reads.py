"""Reading the API: the dispatch list with filters and cursors, health, and the OpenAPI document."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from api_client import Api, dispatch_body

from delivery.api.case_system.openapi.document import SPEC


async def test_list_filters_and_cursor_pagination(api: Api) -> None:
    client, auth = api.client, api.auth
    document_id = await api.document()
    ids = []
    for i in range(5):
        body = dispatch_body([document_id], reference=f"ref-{i}")
        if i == 4:
            body["case_number"] = "(2026)浙0106民初9999号"
        ids.append((await api.create(body))["id"])

    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = await (await client.get("/api/v1/dispatches", params=params, headers=auth)).json()
        seen.extend(item["id"] for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))

    by_case = await (
        await client.get(
            "/api/v1/dispatches", params={"case_number": "(2026)浙0106民初9999号"}, headers=auth
        )
    ).json()
    assert [item["id"] for item in by_case["items"]] == [ids[4]]
    queued = await (
        await client.get("/api/v1/dispatches", params={"state": "served"}, headers=auth)
    ).json()
    assert queued["items"] == []
    window = await (
        await client.get(
            "/api/v1/dispatches",
            params={"created_from": "2026-11-23T00:00:00Z", "created_to": "2026-11-23T01:00:00Z"},
            headers=auth,
        )
    ).json()
    assert window["items"] == []


async def test_list_rejects_bad_parameters(
    client: TestClient[Any, Any], auth: dict[str, str]
) -> None:
    for params in (
        {"state": "lost"},
        {"limit": "0"},
        {"cursor": "###"},
        {"created_from": "yesterday"},
        {"colour": "red"},
    ):
        response = await client.get("/api/v1/dispatches", params=params, headers=auth)
        assert response.status == 422, params
        assert response.content_type == "application/problem+json"


async def test_healthz_reports_database_and_queue(client: TestClient[Any, Any]) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok", "database": "ok", "queue": "ok"}


async def test_openapi_describes_exactly_the_routes(client: TestClient[Any, Any]) -> None:
    response = await client.get("/api/v1/openapi.json")
    assert response.status == 200
    assert await response.json() == SPEC
    routes = {
        (route.method.lower(), route.resource.canonical)
        for route in client.app.router.routes()
        if route.resource is not None
        and (route.resource.canonical.startswith("/api/") or route.resource.canonical == "/healthz")
        and route.method != "HEAD"
    }
    documented = {(method, path) for path, ops in SPEC["paths"].items() for method in ops}
    assert routes == documented


async def test_webhook_endpoints_can_be_listed_and_deleted(
    client: TestClient[Any, Any], auth: dict[str, str]
) -> None:
    created = await client.post(
        "/api/v1/webhook-endpoints",
        json={"url": "https://case.example/hook", "event_types": ["dispatch.served"]},
        headers=auth,
    )
    assert created.status == 201
    endpoint = await created.json()
    assert endpoint["secret"].startswith("whsec_")
    listing = await (await client.get("/api/v1/webhook-endpoints", headers=auth)).json()
    assert [e["id"] for e in listing["items"]] == [endpoint["id"]]
    assert "secret" not in listing["items"][0]
    deleted = await client.delete(f"/api/v1/webhook-endpoints/{endpoint['id']}", headers=auth)
    assert deleted.status == 204
    listing = await (await client.get("/api/v1/webhook-endpoints", headers=auth)).json()
    assert listing["items"] == []
    bad = await client.post(
        "/api/v1/webhook-endpoints", json={"url": "ftp://x", "event_types": ["nope"]}, headers=auth
    )
    assert bad.status == 422
    assert {e["field"] for e in (await bad.json())["errors"]} == {"url", "event_types"}
