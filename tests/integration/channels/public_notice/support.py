"""Public notice brought step by step (drafted, filled in, approved, published), for the notice
tests and for those that need a notice (certificates, the access table, the browser)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from api_client import Api, dispatch_body
from conftest import COURT, settled
from helpers import log_in, staff_account

from delivery.representations import notice_text_sha256
from delivery.staff import Role
from delivery.storage.schema import notices

PHONE = "+8613800138000"
NOTE = "经审查，符合公告送达条件"
FILLED = "{}：原告请求判令被告偿还借款人民币10万元。"
ZONE = ZoneInfo("Asia/Shanghai")
ID_NUMBER = "33010619900101123X"
EMAIL = "zhang.san@example.com"
ADDRESS = "浙江省杭州市西湖区文三路100号"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x01" * 200
TEXT_SHA256_RE = re.compile(r'name="text_sha256" value="([0-9a-f]{64})"')


async def documents_of(api: Api, kinds: list[tuple[str, str]]) -> list[str]:
    ids = []
    for kind, title in kinds:
        response = await api.upload(title=title, kind=kind)
        assert response.status == 201, await response.text()
        ids.append((await response.json())["id"])
    return ids


async def notice_dispatch(
    api: Api,
    *,
    kinds: list[tuple[str, str]] | None = None,
    policy: str = "cn-civil",
    reference: str = "notice-1",
    case_number: str = "(2026)浙0106民初1234号",
    name: str = "张三",
    **extra: Any,
) -> dict[str, Any]:
    """A recipient without e-service consent and without a postal address: the ladder skips
    e-mail, post and in person and goes straight to public notice."""
    ids = await documents_of(api, kinds or [("complaint", "民事起诉状")])
    body = dispatch_body(ids, reference=reference, consent=False, policy=policy)
    body["case_number"] = case_number
    body["recipient"]["name"] = name
    body["recipient"]["phones"] = [{"number": PHONE, "source": "court_found"}]
    for key, value in extra.items():
        target = body["recipient"] if key == "domicile_in_china" else body
        target[key] = value
    return await api.create(body)


async def drafted(api: Api, dispatch_id: str) -> dict[str, Any]:
    """Wait for the notice draft; the notice row."""
    await api.until(dispatch_id, lambda d: any(e["type"] == "notice_drafted" for e in d["events"]))
    await settled(api.ctx)
    return await notice_row(api, dispatch_id)


async def notice_row(api: Api, dispatch_id: str) -> dict[str, Any]:
    async with api.ctx.engine.connect() as conn:
        row = (
            (await conn.execute(sa.select(notices).where(notices.c.dispatch_id == dispatch_id)))
            .mappings()
            .one()
        )
    return dict(row)


async def act(
    api: Api, dispatch_id: str, action: str, headers: dict[str, str] | None = None, **details: Any
) -> Any:
    return await api.client.post(
        f"/api/v1/dispatches/{dispatch_id}/actions",
        json={"action": action, "note": NOTE, **details},
        headers=api.auth if headers is None else headers,
    )


async def filled_in(api: Api, dispatch_id: str) -> dict[str, Any]:
    """The clerk fills in the blanks (API key: the case system's clerk)."""
    notice = await notice_row(api, dispatch_id)
    body = notice["body"].split("\n")[0] + "\n" + FILLED.format("《民事起诉状》") + "\n" + COURT
    response = await act(api, dispatch_id, "edit_notice", body=body)
    assert response.status == 200, await response.text()
    return await notice_row(api, dispatch_id)


async def supervisor(api: Api) -> dict[str, str]:
    """Log a supervisor in on the test client; headers for the API with the session cookie."""
    user, password = await staff_account(api.ctx, Role.SUPERVISOR, display_name="李法官")
    return {"X-CSRF-Token": await log_in(api.client, user.username, password)}


async def reviewed(api: Api, dispatch_id: str, headers: dict[str, str] | None = None) -> str:
    """The notice text's SHA-256 as the dispatch shows it (what the supervisor read)."""
    response = await api.client.get(
        f"/api/v1/dispatches/{dispatch_id}", headers=api.auth if headers is None else headers
    )
    assert response.status == 200, await response.text()
    notice = (await response.json())["notice"]
    assert notice["text_sha256"] == notice_text_sha256(notice["title"], notice["body"])
    return str(notice["text_sha256"])


async def approve(
    api: Api, dispatch_id: str, headers: dict[str, str], reason: str = "whereabouts_unknown"
) -> Any:
    """The supervisor reads the notice and approves the text read."""
    sha256 = await reviewed(api, dispatch_id, headers)
    return await act(api, dispatch_id, "approve_notice", headers, reason=reason, text_sha256=sha256)


async def published_notice(api: Api, **options: Any) -> tuple[str, dict[str, str]]:
    """A notice drafted, filled in, approved and so published now (the manual clock stands
    still meanwhile); the dispatch id and the supervisor's headers."""
    created = await notice_dispatch(api, **options)
    dispatch_id = str(created["id"])
    await drafted(api, dispatch_id)
    await filled_in(api, dispatch_id)
    headers = await supervisor(api)
    response = await approve(api, dispatch_id, headers)
    assert response.status == 200, await response.text()
    return dispatch_id, headers


def advance(api: Api, delta: timedelta) -> None:
    api.ctx.clock.advance(delta)  # type: ignore[attr-defined]


async def after_other_methods(api: Api) -> str:
    """A recipient with a postal address the post could not use: the clerk skips in person and
    escalates, so the notice follows one expired postal attempt."""
    ids = await documents_of(api, [("complaint", "民事起诉状")])
    body = dispatch_body(ids, reference="notice-post", consent=False)
    body["recipient"]["phones"] = [{"number": PHONE, "source": "court_found"}]
    body["recipient"]["postal_addresses"] = [
        {"lines": ADDRESS, "postcode": "310012", "source": "court_found"}
    ]
    created = await api.create(body)
    assert [a["channel"] for a in created["attempts"]] == ["postal"]
    assert (await act(api, created["id"], "skip_step", step=2)).status == 200
    assert (await act(api, created["id"], "escalate")).status == 200
    await api.until_state(created["id"], "notice_pending")
    await drafted(api, created["id"])
    return str(created["id"])
