"""The case system's side of the tests: an API client with the steps tests share (upload,
create, wait for a state, read events), the dispatch body it sends, and the in-person visits'
field tasks it waits for."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from aiohttp import ClientResponse, FormData
from aiohttp.test_utils import TestClient
from conftest import COURT, MINIMAL_PDF, eventually, settled

from delivery.context import Context
from delivery.domain import Event
from delivery.storage.rows import event_from_row
from delivery.storage.schema import events, metadata, outcome_tallies, outcome_tally_changes

Body = dict[str, Any]
RECIPIENT_EMAIL = "zhang.san@example.com"  # dispatch_body's e-mail address


def dispatch_body(
    document_ids: list[str],
    *,
    reference: str = "case-sys-0001",
    source: str = "recipient_confirmed",
    email: str = RECIPIENT_EMAIL,
    consent: bool = True,
    court: str = COURT,
    policy: str = "cn-civil",
) -> Body:
    return {
        "court": court,
        "case_number": "(2026)浙0106民初1234号",
        "reference": reference,
        "policy": policy,
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


@dataclass
class Api:
    """The case system's side of the tests: authenticated calls and waits on their effects."""

    client: TestClient[Any, Any]
    auth: dict[str, str]
    ctx: Context

    async def upload(
        self, content: bytes = MINIMAL_PDF, *, title: str = "民事起诉状", kind: str = "complaint"
    ) -> ClientResponse:
        form = FormData()
        form.add_field("title", title)
        form.add_field("kind", kind)
        form.add_field("file", content, filename="doc.pdf", content_type="application/pdf")
        return await self.client.post("/api/v1/documents", data=form, headers=self.auth)

    async def document(self) -> str:
        response = await self.upload()
        assert response.status == 201, await response.text()
        return str((await response.json())["id"])

    async def create(self, body: Body) -> Body:
        response = await self.client.post("/api/v1/dispatches", json=body, headers=self.auth)
        assert response.status == 201, await response.text()
        return dict(await response.json())

    async def new_dispatch_body(self, **options: Any) -> Body:
        """Upload a document and build a dispatch body for it (options as for dispatch_body)."""
        return dispatch_body([await self.document()], **options)

    async def new_dispatch(self, **options: Any) -> Body:
        return await self.create(await self.new_dispatch_body(**options))

    async def dispatch(self, dispatch_id: str) -> Body:
        response = await self.client.get(f"/api/v1/dispatches/{dispatch_id}", headers=self.auth)
        assert response.status == 200, await response.text()
        return dict(await response.json())

    async def until(self, dispatch_id: str, condition: Callable[[Body], bool]) -> Body:
        """Wait until the dispatch, as the API shows it, meets ``condition``."""

        async def check() -> Body | None:
            body = await self.dispatch(dispatch_id)
            return body if condition(body) else None

        return dict(await eventually(check))

    async def until_state(self, dispatch_id: str, state: str) -> Body:
        return await self.until(dispatch_id, lambda d: d["state"] == state)

    async def until_attempt(self, dispatch_id: str, *states: str, tries: int | None = None) -> Body:
        """Wait until the first attempt is in one of ``states`` (after ``tries`` tries)."""

        def matches(d: Body) -> bool:
            first = d["attempts"][0] if d["attempts"] else None
            return (
                first is not None
                and first["state"] in states
                and (tries is None or first["tries"] == tries)
            )

        return await self.until(dispatch_id, matches)

    async def events(self, dispatch_id: str) -> list[Event]:
        async with self.ctx.engine.connect() as conn:
            rows = await conn.execute(
                sa.select(events).where(events.c.dispatch_id == dispatch_id).order_by(events.c.seq)
            )
            return [event_from_row(r) for r in rows.mappings()]

    async def event_types(self, dispatch_id: str) -> list[str]:
        return [e.type for e in await self.events(dispatch_id)]

    async def table_counts(self) -> dict[str, int]:
        """Rows per table: to show that a refused request stored nothing. The reports' tallies
        are left out: they are counts of ``service_outcomes`` (counted here), and the sweep
        moves them from the log to the cells without anything being recorded."""
        counts = {}
        async with self.ctx.engine.connect() as conn:
            for table in metadata.sorted_tables:
                if table in (outcome_tallies, outcome_tally_changes):
                    continue
                query = sa.select(sa.func.count()).select_from(table)
                counts[table.name] = int(await conn.scalar(query) or 0)
        return counts

    async def register_webhook(self, url: str, event_types: list[str] | None = None) -> Body:
        body: Body = {"url": url, **({"event_types": event_types} if event_types else {})}
        response = await self.client.post("/api/v1/webhook-endpoints", json=body, headers=self.auth)
        assert response.status == 201, await response.text()
        return dict(await response.json())


def visits_of(dispatch: dict[str, Any]) -> list[dict[str, Any]]:
    return [a for a in dispatch["attempts"] if a["channel"] == "in_person"]


async def visit_task(api: Api, dispatch_id: str, visit_no: int = 1) -> str:
    """Wait until the ``visit_no``-th visit's field task is open; its id."""
    found = await api.until(
        dispatch_id,
        lambda d: len(visits_of(d)) >= visit_no and visits_of(d)[visit_no - 1]["state"] == "sent",
    )
    await settled(api.ctx)
    return str(visits_of(found)[visit_no - 1]["provider_ref"])
