"""The dispatch API with a staff session instead of an API key: the CSRF token, the courts and
roles the session allows, and the case system's endpoints that want a key."""

from __future__ import annotations

from api_client import Api
from conftest import COURT, OTHER_COURT
from helpers import log_in, staff_account

from delivery.staff import Role


async def test_staff_use_the_dispatch_api_with_the_session_cookie(api: Api) -> None:
    body = await api.new_dispatch_body(consent=False)
    body["recipient"]["postal_addresses"] = [
        {"lines": "杭州市西湖区文三路1号", "postcode": "310012", "source": "recipient_confirmed"}
    ]
    created = await api.create(body)
    user, password = await staff_account(api.ctx, Role.CLERK)
    staff = api.client
    token = await log_in(staff, user.username, password)
    path = f"/api/v1/dispatches/{created['id']}"

    read = await staff.get(path)  # the cookie alone, no Authorization header
    assert read.status == 200, await read.text()
    listed = await (await staff.get("/api/v1/dispatches")).json()
    assert [d["id"] for d in listed["items"]] == [created["id"]]

    action = {"action": "record_consent", "basis": "tacit", "note": "电话确认"}
    before = await api.events(created["id"])
    refused = await staff.post(f"{path}/actions", json=action)
    assert refused.status == 403
    assert (await refused.json())["type"].endswith("csrf-failed")
    wrong = await staff.post(f"{path}/actions", json=action, headers={"X-CSRF-Token": "nope"})
    assert wrong.status == 403
    assert await api.events(created["id"]) == before

    done = await staff.post(f"{path}/actions", json=action, headers={"X-CSRF-Token": token})
    assert done.status == 200, await done.text()
    recorded = [e for e in await api.events(created["id"]) if e not in before]
    assert recorded and {e.actor for e in recorded if e.actor} == {f"staff:{user.id}"}

    cancelled = await staff.post(f"{path}/cancel", headers={"X-CSRF-Token": token})
    assert cancelled.status == 200, await cancelled.text()
    assert (await cancelled.json())["state"] == "cancelled"
    assert (await api.events(created["id"]))[-1].actor == f"staff:{user.id}"


async def test_case_system_endpoints_want_an_api_key(api: Api) -> None:
    user, password = await staff_account(api.ctx, Role.CLERK, Role.ADMIN)
    token = await log_in(api.client, user.username, password)
    headers = {"X-CSRF-Token": token}
    for method, path in (
        ("POST", "/api/v1/dispatches"),
        ("POST", "/api/v1/documents"),
        ("POST", "/api/v1/bounces"),
        ("GET", "/api/v1/webhook-endpoints"),
        ("GET", "/api/v1/webhook-deliveries"),
    ):
        response = await api.client.request(method, path, json={}, headers=headers)
        assert response.status == 403, path
        assert (await response.json())["title"] == "API key required"
    # with both, the API key is the caller
    assert (await api.upload()).status == 201


async def test_staff_see_only_their_courts(api: Api) -> None:
    created = await api.new_dispatch()
    user, password = await staff_account(api.ctx, Role.SUPERVISOR, courts=(OTHER_COURT,))
    token = await log_in(api.client, user.username, password)
    path = f"/api/v1/dispatches/{created['id']}"
    assert (await api.client.get(path)).status == 404
    cancel = await api.client.post(f"{path}/cancel", headers={"X-CSRF-Token": token})
    assert cancel.status == 404
    listed = await (await api.client.get(f"/api/v1/dispatches?court={COURT}")).json()
    assert listed["items"] == []


async def test_field_servers_and_admins_cannot_use_the_dispatch_api(api: Api) -> None:
    created = await api.new_dispatch()
    for role in (Role.FIELD_SERVER, Role.ADMIN):
        user, password = await staff_account(api.ctx, role)
        api.client.session.cookie_jar.clear()
        await log_in(api.client, user.username, password)
        for path in ("/api/v1/dispatches", f"/api/v1/dispatches/{created['id']}"):
            response = await api.client.get(path)
            assert response.status == 403, path
            assert (await response.json())["type"].endswith("role-required")
