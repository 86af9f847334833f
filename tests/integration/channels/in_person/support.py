"""In-person service brought to the field task, for the in-person tests and for those that need a
dispatch at that step (certificates, signed proofs, the access table, the browser)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from api_client import Api
from conftest import settled

from delivery.context import Context
from delivery.storage.schema import field_tasks

ADDRESS = {"lines": "浙江省杭州市西湖区文三路100号", "postcode": "310012", "source": "court_found"}
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x01" * 200
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x02" * 100


async def clerk_action(api: Api, dispatch_id: str, action: str, **details: Any) -> Any:
    return await api.client.post(
        f"/api/v1/dispatches/{dispatch_id}/actions",
        json={"action": action, "note": "直接送达 / in person", **details},
        headers=api.auth,
    )


async def in_person_dispatch(api: Api, *, kind: str = "summons", reference: str = "ip-1") -> str:
    """A recipient with no e-service consent and only a postal address: the post starts (and,
    with no carrier configured here, waits); the clerk escalates to in-person service."""
    response = await api.upload(title="传票" if kind == "summons" else "民事调解书", kind=kind)
    assert response.status == 201
    body = await api.new_dispatch_body(consent=False, reference=reference)
    body["documents"] = [(await response.json())["id"]]
    body["recipient"]["emails"] = []
    body["recipient"]["postal_addresses"] = [ADDRESS]
    created = await api.create(body)
    assert [a["channel"] for a in created["attempts"]] == ["postal"]
    await settled(api.ctx)
    assert (await clerk_action(api, created["id"], "escalate")).status == 200
    return str(created["id"])


# 2026-11-23 02:00 UTC is the start; one day later the visit is at 09:30 in Shanghai.
VISIT_LOCAL = "2026-11-24T09:30"
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\x03" * 300


async def task_row(ctx: Context, task_id: str) -> Any:
    async with ctx.engine.connect() as conn:
        query = sa.select(field_tasks).where(field_tasks.c.id == task_id)
        return (await conn.execute(query)).mappings().one()


def later(api: Api, delta: timedelta) -> None:
    api.ctx.clock.advance(delta)  # type: ignore[attr-defined]
