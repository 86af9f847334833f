"""Requests and look-ups the API tests share."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from aiohttp import FormData
from aiohttp.test_utils import TestClient
from conftest import COURT, MINIMAL_PDF

from delivery.context import Context
from delivery.domain import Event
from delivery.storage.rows import event_from_row
from delivery.storage.schema import events

LINK_RE = re.compile(r"http://songda\.test(/r/[A-Za-z0-9_\-.]+)")


async def upload(
    client: TestClient[Any, Any],
    auth: dict[str, str],
    content: bytes = MINIMAL_PDF,
    *,
    title: str = "民事起诉状",
    kind: str = "complaint",
) -> Any:
    form = FormData()
    form.add_field("title", title)
    form.add_field("kind", kind)
    form.add_field("file", content, filename="doc.pdf", content_type="application/pdf")
    return await client.post("/api/v1/documents", data=form, headers=auth)


async def upload_ok(client: TestClient[Any, Any], auth: dict[str, str]) -> str:
    response = await upload(client, auth)
    assert response.status == 201, await response.text()
    return str((await response.json())["id"])


def dispatch_body(
    document_ids: list[str],
    *,
    reference: str = "case-sys-0001",
    source: str = "recipient_confirmed",
    email: str = "zhang.san@example.com",
    consent: bool = True,
    court: str = COURT,
) -> dict[str, Any]:
    return {
        "court": court,
        "case_number": "(2026)浙0106民初1234号",
        "reference": reference,
        "policy": "cn-civil",
        "documents": document_ids,
        "recipient": {
            "name": "张三",
            "role": "defendant",
            "id_number": "33010619900101123X",
            "e_service_consent": {"given": True, "basis": "express"}
            if consent
            else {"given": False},
            "emails": [{"address": email, "source": source}],
        },
    }


async def create_dispatch(
    client: TestClient[Any, Any], auth: dict[str, str], body: dict[str, Any]
) -> dict[str, Any]:
    response = await client.post("/api/v1/dispatches", json=body, headers=auth)
    assert response.status == 201, await response.text()
    return dict(await response.json())


async def get_dispatch(
    client: TestClient[Any, Any], auth: dict[str, str], dispatch_id: str
) -> dict[str, Any]:
    response = await client.get(f"/api/v1/dispatches/{dispatch_id}", headers=auth)
    assert response.status == 200, await response.text()
    return dict(await response.json())


async def stored_events(ctx: Context, dispatch_id: str) -> list[Event]:
    async with ctx.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(events).where(events.c.dispatch_id == dispatch_id).order_by(events.c.seq)
        )
        return [event_from_row(r) for r in rows.mappings()]


async def table_counts(ctx: Context) -> dict[str, int]:
    """Rows per table: to show that a refused request stored nothing."""
    from delivery.storage.schema import metadata

    counts = {}
    async with ctx.engine.connect() as conn:
        for table in metadata.sorted_tables:
            counts[table.name] = int(
                await conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0
            )
    return counts


def link_path(text: str) -> str:
    match = LINK_RE.search(text)
    assert match, f"no recipient link in: {text}"
    return match.group(1)
