"""One clerk owns every service of a case (issue 6, point 0): named, inherited, round-robin,
reassigned — each choice an event — and the court's workspace key that staff dispatches use."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from api_client import Api, dispatch_body
from conftest import COURT, MINIMAL_PDF, OTHER_COURT
from helpers import staff_account

from delivery.api.case_system.dispatch_request import parse_dispatch_request
from delivery.clock import ManualClock
from delivery.context import Context
from delivery.services.documents import store_document
from delivery.services.intake import Origin, UnknownDocuments, create_dispatch
from delivery.services.workspace_key import workspace_key_id
from delivery.staff import Role
from delivery.storage.schema import api_keys, dispatches

pytestmark = pytest.mark.both_databases


async def _create(api: Api, case: str, reference: str, **extra: Any) -> dict[str, Any]:
    body = await api.new_dispatch_body(reference=reference)
    body["case_number"] = case
    body.update(extra)
    return await api.create(body)


async def _owner_event(api: Api, dispatch_id: str, event_type: str = "owner_assigned") -> Any:
    return next(e for e in await api.events(dispatch_id) if e.type == event_type)


async def test_the_clerk_named_by_the_case_system_owns_the_dispatch(api: Api) -> None:
    await staff_account(api.ctx, username="aaa-clerk")
    named, _ = await staff_account(api.ctx, username="wang")
    created = await _create(api, "(2026)浙0106民初1号", "r-1", clerk="wang")
    detail = await api.dispatch(created["id"])
    assert detail["owner_id"] == named.id
    event = await _owner_event(api, created["id"])
    assert event.data == {"owner_id": named.id, "reason": "named"}
    assert event.actor is not None and event.actor.startswith("api_key:")


async def test_an_unknown_clerk_is_refused_and_nothing_is_stored(api: Api) -> None:
    await staff_account(api.ctx, username="wang")
    await staff_account(api.ctx, Role.FIELD_SERVER, username="li")
    await staff_account(api.ctx, username="zhao", courts=(OTHER_COURT,))
    before = await api.table_counts()
    for name in ("nobody", "li", "zhao"):
        body = await api.new_dispatch_body(reference=f"r-{name}")
        body["clerk"] = name
        response = await api.client.post("/api/v1/dispatches", json=body, headers=api.auth)
        assert response.status == 422, name
        problem = await response.json()
        assert problem["errors"][0]["field"] == "clerk"
    after = await api.table_counts()
    assert after["dispatches"] == before["dispatches"]
    assert after["events"] == before["events"]


async def test_the_case_owner_keeps_the_case_and_new_cases_go_round_robin(
    api: Api, clock: ManualClock
) -> None:
    a, _ = await staff_account(api.ctx, username="a-clerk")
    b, _ = await staff_account(api.ctx, username="b-clerk")
    c, _ = await staff_account(api.ctx, Role.SUPERVISOR, Role.CLERK, username="c-clerk")
    await staff_account(api.ctx, Role.SUPERVISOR, username="judge")  # not a clerk
    owners = []
    for i in range(4):
        clock.advance(timedelta(minutes=1))
        created = await _create(api, f"(2026)浙0106民初{i}号", f"new-{i}")
        owners.append((await api.dispatch(created["id"]))["owner_id"])
    # Never-assigned first (by username), then the least recently assigned.
    assert owners == [a.id, b.id, c.id, a.id]
    clock.advance(timedelta(minutes=1))
    appeal = await _create(api, "(2026)浙0106民初1号", "appeal-1")
    assert (await api.dispatch(appeal["id"]))["owner_id"] == b.id
    assert (await _owner_event(api, appeal["id"])).data == {"owner_id": b.id, "reason": "case"}
    first = await _owner_event(api, (await _create(api, "(2026)浙0106民初9号", "new-9"))["id"])
    assert first.data["reason"] == "round_robin"


async def test_a_court_without_clerks_leaves_the_dispatch_unowned(api: Api) -> None:
    await staff_account(api.ctx, username="elsewhere", courts=(OTHER_COURT,))
    created = await _create(api, "(2026)浙0106民初1号", "r-1")
    assert (await api.dispatch(created["id"]))["owner_id"] is None
    assert (await _owner_event(api, created["id"])).data == {"owner_id": None, "reason": "none"}


async def test_reassigning_the_owner_is_an_event_and_is_checked(api: Api) -> None:
    a, _ = await staff_account(api.ctx, username="a-clerk")
    b, _ = await staff_account(api.ctx, username="b-clerk")
    field, _ = await staff_account(api.ctx, Role.FIELD_SERVER, username="field")
    created = await _create(api, "(2026)浙0106民初1号", "r-1", clerk="a-clerk")
    url = f"/api/v1/dispatches/{created['id']}/actions"

    async def act(owner_id: str, note: str = "王书记员休假") -> Any:
        body = {"action": "reassign_owner", "owner_id": owner_id, "note": note}
        return await api.client.post(url, json=body, headers=api.auth)

    assert (await act(field.id)).status == 422
    assert (await act(a.id)).status == 409
    response = await act(b.id)
    assert response.status == 200, await response.text()
    assert (await response.json())["owner_id"] == b.id
    event = await _owner_event(api, created["id"], "owner_reassigned")
    assert event.data == {"note": "王书记员休假", "owner_id": b.id, "previous_owner_id": a.id}
    # Ownership is bookkeeping: a cancelled dispatch can still change hands.
    cancel = await api.client.post(f"/api/v1/dispatches/{created['id']}/cancel", headers=api.auth)
    assert cancel.status == 200
    assert "reassign_owner" in (await api.dispatch(created["id"]))["allowed_actions"]
    assert (await act(a.id)).status == 200


async def test_the_workspace_key_files_staff_dispatches_and_cannot_authenticate(
    api: Api, ctx: Context
) -> None:
    clerk, _ = await staff_account(ctx, username="wang")
    key_id = await workspace_key_id(ctx, COURT)
    assert await workspace_key_id(ctx, COURT) == key_id
    assert await workspace_key_id(ctx, OTHER_COURT) != key_id
    async with ctx.engine.connect() as conn:
        prefix = await conn.scalar(sa.select(api_keys.c.prefix).where(api_keys.c.id == key_id))
    forged = await api.client.get(
        "/api/v1/dispatches", headers={"Authorization": f"Bearer sdk_{prefix}_guess"}
    )
    assert forged.status == 401

    # A document of the case system's key is not the workspace's to serve.
    foreign = await api.new_dispatch_body(reference="ws-1")
    request, errors = parse_dispatch_request(foreign, "zh-CN", ctx.policies)
    assert request is not None and not errors
    with pytest.raises(UnknownDocuments):
        await create_dispatch(ctx, key_id, request, Origin("workspace", clerk.actor))

    stored = await ctx.documents.store_bytes(MINIMAL_PDF)
    document = await store_document(ctx, key_id, stored, "传票", "summons")
    request, _ = parse_dispatch_request(dispatch_body([document["id"]]), "zh-CN", ctx.policies)
    assert request is not None
    created = await create_dispatch(ctx, key_id, request, Origin("workspace", clerk.actor))
    again = await create_dispatch(ctx, key_id, request, Origin("workspace", clerk.actor))
    assert created.is_new and not again.is_new and again.dispatch_id == created.dispatch_id
    events = await api.events(created.dispatch_id)
    assert [(e.type, e.source, e.actor) for e in events[:2]] == [
        ("dispatch_created", "workspace", clerk.actor),
        ("owner_assigned", "workspace", clerk.actor),
    ]
    async with ctx.engine.connect() as conn:
        count = await conn.scalar(sa.select(sa.func.count()).select_from(dispatches))
    assert count == 1


async def test_dispatches_created_together_go_round_robin_and_keep_their_case(
    api: Api,
) -> None:
    """Created at once, they are written in batches (group commit): each sees the owners given
    to the batch's dispatches before it, as it would see them in the database."""
    clerks = {(await staff_account(api.ctx, username=f"clerk-{n}"))[0].id for n in range(3)}
    bodies = []
    for n in range(7):
        body = await api.new_dispatch_body(reference=f"together-{n}")
        body["case_number"] = f"(2026)浙0106民初{100 + min(n, 5)}号"  # the last two: one case
        bodies.append(body)

    created = await asyncio.gather(*(api.create(b) for b in bodies))

    events = [await _owner_event(api, c["id"]) for c in created]
    spread = Counter(e.data["owner_id"] for e in events if e.data["reason"] == "round_robin")
    assert set(spread) == clerks and set(spread.values()) == {2}
    assert sorted(e.data["reason"] for e in events[5:]) == ["case", "round_robin"]
    assert events[5].data["owner_id"] == events[6].data["owner_id"]
