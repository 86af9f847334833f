"""A CSV batch reports every problem of every row, each with its row number and column, and
reads phone numbers as a clerk pastes them from Excel (issue 14)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from api_client import Api

from delivery.domain import ContactKind
from delivery.phones import LANDLINE
from delivery.staff import Role
from delivery.storage.schema import batches, contacts, dispatches
from integration.staff.support import csv_file, row, uploaded


async def test_a_row_with_five_problems_lists_all_five(api: Api, browser: Any) -> None:
    clerk = await browser(Role.CLERK)
    rows = [
        row(
            "p-1",
            recipient_name="",
            email="not-an-address",
            phone="0571-87654321",
            phone_source="court_found",
            hearing_at="next tuesday",
            documents="起诉状.pdf;missing.pdf",
        ),
        row("p-2", consent="maybe", document_kinds="complaint;letter"),
        row("p-3"),
    ]
    batch_id = await uploaded(clerk, csv_file(rows))
    async with api.ctx.engine.connect() as conn:
        stored = (await conn.execute(sa.select(batches).where(batches.c.id == batch_id))).one()
        created = await conn.scalar(sa.select(sa.func.count()).select_from(dispatches))
    problems = {(e["row"], e["field"]) for e in stored.errors}
    assert problems == {
        (2, "documents"),
        (2, "hearing_at"),
        (2, "recipient_name"),
        (2, "email"),
        (2, "phone"),
        (3, "document_kinds"),
        (3, "consent"),
    }
    assert {e["reference"] for e in stored.errors} == {"p-1", "p-2"}
    [phone] = [e for e in stored.errors if e["field"] == "phone"]
    assert phone["message"] == LANDLINE
    # The existing semantics stand: refused rows store nothing, the good row is queued.
    assert (stored.rows_total, stored.rows_invalid, created) == (3, 2, 1)

    page = await (await clerk.client.get(f"/staff/batches/{batch_id}")).text()
    for field in ("documents", "hearing_at", "recipient_name", "email", "phone"):
        assert f"<td>2</td><td>p-1</td><td><code>{field}</code></td>" in page
    assert "no uploaded file is named missing.pdf" in page
    assert "unknown kind letter" in page
    # Stored as the parser said it; shown in the page's language.
    assert "是固定电话号码，无法接收短信" in page
    english = await (await clerk.client.get(f"/staff/batches/{batch_id}?lang=en")).text()
    assert LANDLINE in english


async def test_mobile_numbers_pasted_from_excel_are_stored_as_e164(api: Api, browser: Any) -> None:
    clerk = await browser(Role.CLERK)
    rows = [
        row("m-1", phone="138 1234 5678", phone_source="recipient_confirmed"),
        row("m-2", phone="0086-139-0013-9000", phone_source="court_found"),
        row("m-3", phone="13700137000", phone_source="court_found"),
    ]
    batch_id = await uploaded(clerk, csv_file(rows))
    async with api.ctx.engine.connect() as conn:
        stored = (await conn.execute(sa.select(batches).where(batches.c.id == batch_id))).one()
        phones = (
            await conn.execute(
                sa.select(dispatches.c.reference, contacts.c.value)
                .join(contacts, contacts.c.dispatch_id == dispatches.c.id)
                .where(contacts.c.kind == ContactKind.PHONE)
            )
        ).all()
    assert stored.errors == []
    assert dict(phones) == {
        "m-1": "+8613812345678",
        "m-2": "+8613900139000",
        "m-3": "+8613700137000",
    }
