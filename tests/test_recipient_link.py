"""The recipient link: signed, expiring, identity-checked, rate-limited, all recorded."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from conftest import eventually, settled
from helpers import (
    create_dispatch,
    dispatch_body,
    get_dispatch,
    link_path,
    stored_events,
    upload_ok,
)

from delivery.context import Context
from delivery.sandbox import SmtpSink

pytestmark = pytest.mark.both_databases


@pytest.fixture
async def link(
    ctx: Context,
    client: TestClient[Any, Any],
    auth: dict[str, str],
    worker: Any,
    smtp_sink: SmtpSink,
) -> tuple[str, str]:
    """(dispatch id, link path) of a court-found e-mail that has been sent."""
    document_id = await upload_ok(client, auth)
    created = await create_dispatch(
        client, auth, dispatch_body([document_id], source="court_found")
    )

    async def sent() -> bool:
        attempts = (await get_dispatch(client, auth, created["id"]))["attempts"]
        return bool(smtp_sink.messages) and attempts[0]["state"] == "sent"

    await eventually(sent)
    await settled(ctx)
    return created["id"], link_path(smtp_sink.messages[0].text)


async def _types(ctx: Context, dispatch_id: str) -> list[str]:
    return [e.type for e in await stored_events(ctx, dispatch_id)]


def _tamper(path: str) -> str:
    body, signature = path.removeprefix("/r/").split(".")
    flipped = ("A" if body[5] != "A" else "B").join((body[:5], body[6:]))
    return f"/r/{flipped}.{signature}"


async def test_tampered_link_gets_a_plain_403(
    ctx: Context, client: TestClient[Any, Any], link: tuple[str, str]
) -> None:
    dispatch_id, path = link
    before = await _types(ctx, dispatch_id)
    for bad in (_tamper(path), path + "x", "/r/garbage", path.split(".")[0]):
        response = await client.get(bad)
        assert response.status == 403
        text = await response.text()
        assert "浙0106" not in text and "张三" not in text
    assert await _types(ctx, dispatch_id) == before


async def test_expired_link_gets_a_plain_410(
    ctx: Context, client: TestClient[Any, Any], auth: dict[str, str], link: tuple[str, str]
) -> None:
    dispatch_id, path = link
    ctx.clock.advance(timedelta(days=30))  # type: ignore[attr-defined]
    before = await _types(ctx, dispatch_id)
    response = await client.get(path)
    assert response.status == 410
    assert "张三" not in await response.text()
    response = await client.post(f"{path}/verify", data={"last4": "123X"})
    assert response.status == 410
    assert await _types(ctx, dispatch_id) == before


async def test_six_wrong_checks_lock_the_link_for_15_minutes(
    ctx: Context, client: TestClient[Any, Any], auth: dict[str, str], link: tuple[str, str]
) -> None:
    dispatch_id, path = link
    statuses = []
    for _ in range(6):
        response = await client.post(
            f"{path}/verify", data={"last4": "0000"}, allow_redirects=False
        )
        statuses.append(response.status)
    assert statuses == [401, 401, 401, 401, 429, 429]
    # Even the right answer is refused while locked, and nothing is served.
    response = await client.post(f"{path}/verify", data={"last4": "123X"}, allow_redirects=False)
    assert response.status == 429
    assert (await get_dispatch(client, auth, dispatch_id))["state"] == "in_progress"
    types = await _types(ctx, dispatch_id)
    assert types.count("identity_failed") == 5
    assert types.count("link_locked") == 1
    assert types.count("identity_rejected_locked") == 2
    assert "identity_verified" not in types

    ctx.clock.advance(timedelta(minutes=15))  # type: ignore[attr-defined]
    response = await client.post(f"{path}/verify", data={"last4": "123X"}, allow_redirects=False)
    assert response.status == 303


async def test_ten_failures_lock_until_reissued(
    ctx: Context, client: TestClient[Any, Any], link: tuple[str, str]
) -> None:
    dispatch_id, path = link
    for _round in range(2):
        for _ in range(5):
            await client.post(f"{path}/verify", data={"last4": "0000"})
        ctx.clock.advance(timedelta(minutes=16))  # type: ignore[attr-defined]
    response = await client.post(f"{path}/verify", data={"last4": "123X"}, allow_redirects=False)
    assert response.status == 429
    assert "重新签发" in await response.text()
    types = await _types(ctx, dispatch_id)
    assert types.count("identity_failed") == 10
    assert types.count("link_locked") == 2


async def test_documents_need_a_passed_check(
    client: TestClient[Any, Any], auth: dict[str, str], link: tuple[str, str]
) -> None:
    dispatch_id, path = link
    document_id = (await get_dispatch(client, auth, dispatch_id))["documents"][0]["id"]
    response = await client.get(f"{path}/documents/{document_id}", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == path


async def test_cancelled_dispatch_link_is_gone(
    client: TestClient[Any, Any], auth: dict[str, str], link: tuple[str, str]
) -> None:
    dispatch_id, path = link
    response = await client.post(f"/api/v1/dispatches/{dispatch_id}/cancel", headers=auth)
    assert response.status == 200
    body = await response.json()
    assert body["state"] == "cancelled"
    assert body["attempts"][0]["state"] == "cancelled"
    assert (await client.get(path)).status == 410
    again = await client.post(f"/api/v1/dispatches/{dispatch_id}/cancel", headers=auth)
    assert again.status == 409


async def test_reissue_releases_a_locked_link_and_revokes_the_old_one(
    ctx: Context,
    client: TestClient[Any, Any],
    auth: dict[str, str],
    link: tuple[str, str],
    smtp_sink: SmtpSink,
) -> None:
    dispatch_id, old_path = link
    for _round in range(2):
        for _ in range(5):
            await client.post(f"{old_path}/verify", data={"last4": "0000"})
        ctx.clock.advance(timedelta(minutes=16))  # type: ignore[attr-defined]
    old_attempt = (await get_dispatch(client, auth, dispatch_id))["attempts"][0]["id"]
    response = await client.post(
        f"/api/v1/dispatches/{dispatch_id}/attempts/{old_attempt}/reissue-link", headers=auth
    )
    assert response.status == 202, await response.text()
    new_attempt = (await response.json())["id"]

    async def second_message() -> bool:
        return len(smtp_sink.messages) == 2

    await eventually(second_message)
    new_path = link_path(smtp_sink.messages[1].text)
    assert new_path != old_path
    assert (await client.get(old_path)).status == 410
    verify = await client.post(f"{new_path}/verify", data={"last4": "123X"}, allow_redirects=False)
    assert verify.status == 303

    async def served() -> Any:
        body = await get_dispatch(client, auth, dispatch_id)
        return body if body["state"] == "served" else None

    body = await eventually(served)
    completing = next(e for e in body["events"] if e["type"] == "dispatch_served")
    assert completing["data"]["attempt_id"] == new_attempt
    types = await _types(ctx, dispatch_id)
    assert types.count("link_reissued") == 1
