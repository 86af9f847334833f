"""The recipient link: signed, expiring, identity-checked, rate-limited, all recorded."""

from __future__ import annotations

from datetime import timedelta

import pytest
from api_client import Api
from conftest import eventually, settled
from helpers import link_path

from delivery.sandbox.pages import SmtpSink
from delivery.services.sweep import sweep

pytestmark = [pytest.mark.both_databases, pytest.mark.usefixtures("worker")]


@pytest.fixture
async def link(api: Api, smtp_sink: SmtpSink) -> tuple[str, str]:
    """(dispatch id, link path) of a court-found e-mail that has been sent."""
    created = await api.new_dispatch(source="court_found")
    await api.until_attempt(created["id"], "sent")
    await settled(api.ctx)
    return created["id"], link_path(smtp_sink.messages[0].text)


def _tamper(path: str) -> str:
    body, signature = path.removeprefix("/r/").split(".")
    flipped = ("A" if body[5] != "A" else "B").join((body[:5], body[6:]))
    return f"/r/{flipped}.{signature}"


async def _check(api: Api, path: str, last4: str) -> int:
    response = await api.client.post(f"{path}/verify", data={"last4": last4}, allow_redirects=False)
    return response.status


def _advance(api: Api, delta: timedelta) -> None:
    api.ctx.clock.advance(delta)  # type: ignore[attr-defined]


async def _fail_ten_times(api: Api, path: str) -> None:
    """Two rounds of five failures, 16 minutes apart: the window lock passes, the total stays."""
    for _round in range(2):
        for _ in range(5):
            await _check(api, path, "0000")
        _advance(api, timedelta(minutes=16))


async def test_tampered_link_gets_a_plain_403(api: Api, link: tuple[str, str]) -> None:
    dispatch_id, path = link
    before = await api.event_types(dispatch_id)
    for bad in (_tamper(path), path + "x", "/r/garbage", path.split(".")[0]):
        response = await api.client.get(bad)
        assert response.status == 403
        text = await response.text()
        assert "浙0106" not in text and "张三" not in text
    assert await api.event_types(dispatch_id) == before


async def test_expired_link_gets_a_plain_410(api: Api, link: tuple[str, str]) -> None:
    dispatch_id, path = link
    _advance(api, timedelta(days=30))
    before = await api.event_types(dispatch_id)
    response = await api.client.get(path)
    assert response.status == 410
    assert "张三" not in await response.text()
    assert await _check(api, path, "123X") == 410
    assert await api.event_types(dispatch_id) == before


async def test_six_wrong_checks_lock_the_link_for_15_minutes(
    api: Api, link: tuple[str, str]
) -> None:
    dispatch_id, path = link
    statuses = [await _check(api, path, "0000") for _ in range(6)]
    assert statuses == [401, 401, 401, 401, 429, 429]
    # Even the right answer is refused while locked, and nothing is served.
    assert await _check(api, path, "123X") == 429
    assert (await api.dispatch(dispatch_id))["state"] == "in_progress"
    types = await api.event_types(dispatch_id)
    assert types.count("identity_failed") == 5
    assert types.count("link_locked") == 1
    # Knocking on a locked link is recorded once a minute, not once a request.
    assert types.count("identity_rejected_locked") == 1
    assert "identity_verified" not in types
    _advance(api, timedelta(minutes=2))
    knocked = await api.client.post(f"{path}/verify", data={"last4": "0000"})
    assert knocked.status == 429
    # The lock ends 15 minutes after the fifth failure: 13 minutes from now, said in seconds.
    assert knocked.headers["Retry-After"] == str(13 * 60)
    assert (await api.event_types(dispatch_id)).count("identity_rejected_locked") == 2

    _advance(api, timedelta(minutes=13))
    assert await _check(api, path, "123X") == 303


async def test_ten_failures_lock_until_reissued(api: Api, link: tuple[str, str]) -> None:
    dispatch_id, path = link
    await _fail_ten_times(api, path)
    response = await api.client.post(f"{path}/verify", data={"last4": "123X"})
    assert response.status == 429
    assert "重新签发" in await response.text()
    assert "Retry-After" not in response.headers  # no time helps: the court must re-issue it
    types = await api.event_types(dispatch_id)
    assert types.count("identity_failed") == 10
    assert types.count("link_locked") == 2


async def test_documents_need_a_passed_check(api: Api, link: tuple[str, str]) -> None:
    dispatch_id, path = link
    document_id = (await api.dispatch(dispatch_id))["documents"][0]["id"]
    response = await api.client.get(f"{path}/documents/{document_id}", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == path


async def test_cancelled_dispatch_link_is_gone(api: Api, link: tuple[str, str]) -> None:
    dispatch_id, path = link
    cancel = f"/api/v1/dispatches/{dispatch_id}/cancel"
    response = await api.client.post(cancel, headers=api.auth)
    assert response.status == 200
    body = await response.json()
    assert body["state"] == "cancelled"
    assert body["attempts"][0]["state"] == "cancelled"
    assert (await api.client.get(path)).status == 410
    assert (await api.client.post(cancel, headers=api.auth)).status == 409


async def test_reissue_releases_a_locked_link_and_revokes_the_old_one(
    api: Api, link: tuple[str, str], smtp_sink: SmtpSink
) -> None:
    dispatch_id, old_path = link
    await _fail_ten_times(api, old_path)
    old_attempt = (await api.dispatch(dispatch_id))["attempts"][0]["id"]
    response = await api.client.post(
        f"/api/v1/dispatches/{dispatch_id}/attempts/{old_attempt}/reissue-link", headers=api.auth
    )
    assert response.status == 202, await response.text()
    new_attempt = (await response.json())["id"]

    async def second_message() -> bool:
        return len(smtp_sink.messages) == 2

    await eventually(second_message)
    new_path = link_path(smtp_sink.messages[1].text)
    assert new_path != old_path
    assert (await api.client.get(old_path)).status == 410
    assert await _check(api, new_path, "123X") == 303

    body = await api.until_state(dispatch_id, "served")
    completing = next(e for e in body["events"] if e["type"] == "dispatch_served")
    assert completing["data"]["attempt_id"] == new_attempt
    assert (await api.event_types(dispatch_id)).count("link_reissued") == 1


async def test_a_link_ends_when_the_dispatch_fails(api: Api, smtp_sink: SmtpSink) -> None:
    created = await api.new_dispatch(source="court_found", policy="cn-simplified")
    await api.until_attempt(created["id"], "sent")
    await settled(api.ctx)
    _advance(api, timedelta(days=3, hours=1))
    await sweep(api.ctx)
    await api.until_state(created["id"], "failed")
    path = link_path(smtp_sink.messages[0].text)
    assert (await api.client.get(path)).status == 410
    check = await api.client.post(f"{path}/verify", data={"last4": "123X"})
    assert check.status == 410
    assert "identity_verified" not in await api.event_types(created["id"])


async def test_reissue_gives_the_new_link_a_whole_window(api: Api, smtp_sink: SmtpSink) -> None:
    created = await api.new_dispatch(source="court_found")
    first = await api.until_attempt(created["id"], "sent")
    await settled(api.ctx)
    _advance(api, timedelta(days=2, hours=20))
    reissue = (
        f"/api/v1/dispatches/{created['id']}/attempts/{first['attempts'][0]['id']}/reissue-link"
    )
    assert (await api.client.post(reissue, headers=api.auth)).status == 202
    await settled(api.ctx)
    _advance(api, timedelta(hours=10))  # past the first window, well inside the new one
    await sweep(api.ctx)
    await settled(api.ctx)
    assert (await api.dispatch(created["id"]))["state"] == "in_progress"


async def test_service_date_is_the_courts_date_across_midnight_utc(
    api: Api, smtp_sink: SmtpSink
) -> None:
    """Read at 16:30 UTC on 23 November is 00:30 on 24 November in Asia/Shanghai."""
    created = await api.new_dispatch(source="court_found")
    await api.until_attempt(created["id"], "sent")
    await settled(api.ctx)
    _advance(api, timedelta(hours=14, minutes=30))
    path = link_path(smtp_sink.messages[0].text)
    assert (
        await api.client.post(f"{path}/verify", data={"last4": "123X"}, allow_redirects=False)
    ).status == 303
    served = await api.until_state(created["id"], "served")
    assert served["served_at"] == "2026-11-23T16:30:00.000000Z"
    assert served["service_date"] == "2026-11-24"
