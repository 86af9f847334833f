"""The recipient's role is one of the court's closed list: the API refuses another with a 422
naming ``recipient.role`` and stores nothing; a dispatch stored before the list was closed,
with a role outside it, still reads (issue 14: ``"judge"`` was accepted)."""

from __future__ import annotations

import sqlalchemy as sa
from api_client import Api

from delivery.storage.schema import dispatches
from delivery.vocabulary import RecipientRole
from integration.api.support import problem


async def test_a_role_outside_the_list_is_refused_and_nothing_is_stored(api: Api) -> None:
    body = await api.new_dispatch_body()
    body["recipient"]["role"] = "judge"
    before = await api.table_counts()
    response = await api.client.post("/api/v1/dispatches", json=body, headers=api.auth)
    details = await problem(response, 422, "validation-error")
    assert details["errors"] == [
        {"field": "recipient.role", "message": "must be one of " + ", ".join(RecipientRole)}
    ]
    assert await api.table_counts() == before


async def test_every_role_of_the_list_is_taken_and_an_older_role_still_reads(api: Api) -> None:
    document = await api.document()
    ids = []
    for n, role in enumerate(RecipientRole):
        body = await api.new_dispatch_body(reference=f"role-{n}")
        body["documents"] = [document]
        body["recipient"]["role"] = role.value
        ids.append((await api.create(body))["id"])
    read = [(await api.dispatch(i))["recipient"]["role"] for i in ids]
    assert read == [r.value for r in RecipientRole]

    async with api.ctx.engine.begin() as conn:  # as stored before the list was closed
        await conn.execute(
            sa.update(dispatches).where(dispatches.c.id == ids[0]).values(recipient_role="judge")
        )
    assert (await api.dispatch(ids[0]))["recipient"]["role"] == "judge"
