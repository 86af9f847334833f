"""CSV batches through the clerk workspace: encodings, row errors, idempotent re-uploads, the
refusal of unreadable files, live progress and the template."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
import sqlalchemy as sa
from api_client import Api
from conftest import COURT, MINIMAL_PDF, OTHER_COURT, eventually
from helpers import form_csrf

from delivery.api.staff import batch_pages
from delivery.api.staff.flat_dispatch import COLUMNS
from delivery.staff import Role
from delivery.storage.schema import batch_rows, batches, dispatches, documents
from integration.staff.support import (
    COMPLAINT,
    SUMMONS,
    csv_file,
    row,
    upload,
    uploaded,
)


async def count(api: Api, table: sa.Table) -> int:
    async with api.ctx.engine.connect() as conn:
        return int(await conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0)


async def stored_batch(api: Api, batch_id: str) -> Any:
    async with api.ctx.engine.connect() as conn:
        return (await conn.execute(sa.select(batches).where(batches.c.id == batch_id))).one()


@pytest.mark.usefixtures("worker")
async def test_bad_rows_are_reported_and_a_fixed_re_upload_adds_only_them(
    api: Api, browser: Any
) -> None:
    clerk = await browser(Role.CLERK)
    rows = [
        row("b-1"),
        row("b-2", email="not-an-address"),
        row("b-3"),
        row("b-4", documents="起诉状.pdf;missing.pdf"),
    ]
    first = await uploaded(clerk, csv_file(rows))
    page = await clerk.client.get(f"/staff/batches/{first}")
    html = await page.text()
    assert page.status == 200, html
    assert "<td>3</td><td>b-2</td><td><code>email</code></td><td>应为电子邮箱地址" in html
    assert "<td>5</td><td>b-4</td><td><code>documents</code></td>" in html
    assert "no uploaded file is named missing.pdf" in html
    assert await count(api, dispatches) == 2
    assert await count(api, documents) == 2  # each file recorded once for the two rows
    stored = await stored_batch(api, first)
    assert (stored.encoding, stored.rows_total, stored.rows_invalid) == ("utf-8-sig", 4, 2)
    assert [(e["row"], e["field"]) for e in stored.errors] == [(3, "email"), (5, "documents")]
    assert "33010619900101123X" not in html

    rows[1] = row("b-2")
    rows[3] = row("b-4")
    second = await uploaded(clerk, csv_file(rows))
    assert await count(api, dispatches) == 4  # only the two fixed rows were created
    assert await count(api, documents) == 2  # the same files were found again
    assert (await stored_batch(api, second)).errors == []
    async with api.ctx.engine.connect() as conn:
        queued = (
            await conn.execute(
                sa.select(
                    batch_rows.c.batch_id, batch_rows.c.row_no, batch_rows.c.dispatch_id
                ).order_by(batch_rows.c.batch_id, batch_rows.c.row_no)
            )
        ).all()
    by_batch: dict[str, dict[int, str]] = {}
    for batch_id, row_no, dispatch_id in queued:
        by_batch.setdefault(batch_id, {})[row_no] = dispatch_id
    assert sorted(by_batch[first]) == [2, 4]
    assert sorted(by_batch[second]) == [2, 3, 4, 5]
    assert by_batch[second][2] == by_batch[first][2]  # found again, not created twice

    rows[0] = row("b-1", case_number="(2026)浙0106民初9999号")
    third = await uploaded(clerk, csv_file(rows))
    assert await count(api, dispatches) == 4
    [error] = (await stored_batch(api, third)).errors
    assert error == {
        "row": 2,
        "reference": "b-1",
        "field": "reference",
        "message": "reference already used with different data",
    }


async def test_gbk_and_utf8_without_bom_are_read(api: Api, browser: Any) -> None:
    clerk = await browser(Role.CLERK)
    gbk = await uploaded(clerk, csv_file([row("g-1", recipient_name="李四")], "gbk"))
    plain = await uploaded(clerk, csv_file([row("u-1", recipient_name="王五")], "utf-8"))
    assert (await stored_batch(api, gbk)).encoding == "gbk"
    assert (await stored_batch(api, plain)).encoding == "utf-8"
    async with api.ctx.engine.connect() as conn:
        names = await conn.execute(
            sa.select(dispatches.c.reference, dispatches.c.recipient_name).order_by(
                dispatches.c.reference
            )
        )
        assert names.all() == [("g-1", "李四"), ("u-1", "王五")]
    batch_list = await (await clerk.client.get("/staff/batches?lang=en")).text()
    assert f"/staff/batches/{gbk}?lang=en" in batch_list and "Latest batches" in batch_list
    assert f"/staff/batches/{plain}?lang=en" in batch_list
    page = await (await clerk.client.get(f"/staff/batches/{gbk}?lang=en")).text()
    assert "1 rows, 0 invalid, 1 queued" in page and "李四" in page


async def test_unreadable_files_are_refused_and_nothing_is_stored(api: Api, browser: Any) -> None:
    clerk = await browser(Role.CLERK)
    before = await api.table_counts()
    missing = csv_file([row("m-1")], columns=tuple(c for c in COLUMNS if c != "id_number"))
    cases = [
        (missing, 422, "missing columns: id_number"),
        (MINIMAL_PDF + bytes(range(256)), 422, "not CSV text in UTF-8 or GBK"),
        (csv_file([row("q-1")]) + b'"unclosed,\r\n', 422, "not a well-formed CSV file"),
        (b"", 422, "the file is empty"),
        (",".join(COLUMNS).encode(), 422, "a header but no rows"),
        (csv_file([row(f"r-{i}") for i in range(5001)]), 422, "more than 5000 rows"),
        (b"x" * (5 * 1024 * 1024 + 1), 413, "larger than 5 MB"),
        (csv_file([row("x-1")]).replace(b"reference,", b"referencia,"), 422, "unknown columns"),
    ]
    for data, status, reason in cases:
        response = await upload(clerk, data)
        html = await response.text()
        assert response.status == status, (reason, html[:300])
        assert reason in html, html
    not_pdf = await upload(clerk, csv_file([row("p-1")]), {"起诉状.pdf": b"GIF89a"})
    assert not_pdf.status == 415
    assert await api.table_counts() == before


async def test_a_batch_s_documents_are_bounded_in_all(
    api: Api, browser: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each file is within SONGDA_MAX_UPLOAD_BYTES; together they are over the batch's budget.
    monkeypatch.setattr(batch_pages, "MAX_BATCH_BYTES", len(COMPLAINT) + len(SUMMONS) - 1)
    clerk = await browser(Role.CLERK)
    before = await api.table_counts()
    response = await upload(clerk, csv_file([row("t-1")]))
    assert response.status == 413
    assert "in all" in await response.text()
    assert await api.table_counts() == before


@pytest.mark.usefixtures("worker")
async def test_progress_follows_the_dispatches(api: Api, browser: Any) -> None:
    clerk = await browser(Role.CLERK)
    rows = [row("p-1"), row("p-2", email_source="court_found")]
    batch_id = await uploaded(clerk, csv_file(rows))
    url = f"/staff/batches/{batch_id}/progress"

    async def progress() -> dict[str, Any]:
        response = await clerk.client.get(url)
        assert response.status == 200
        return dict(await response.json())

    first = await progress()
    assert first["total"] == 2 and first["failed"] == first["cancelled"] == 0
    # A confirmed address is served when the court's mail server accepts the message
    # (OLR-31); the address the court found waits, sent, for the recipient to read it.
    sent = await eventually(
        lambda: _when(progress(), lambda p: p["served"] == 1 and p["sent"] == 1)
    )
    assert sent["queued"] == 0 and sent["done"] is False
    page = await (await clerk.client.get(f"/staff/batches/{batch_id}")).text()
    assert f'data-poll="{url}"' in page and '<td data-field="sent">1</td>' in page

    async with api.ctx.engine.connect() as conn:
        waiting = await conn.scalar(
            sa.select(dispatches.c.id).where(dispatches.c.reference == "p-2")
        )
    csrf = form_csrf(await (await clerk.client.get("/account")).text())
    cancel = await clerk.client.post(
        f"/api/v1/dispatches/{waiting}/cancel", json={}, headers={"X-CSRF-Token": csrf}
    )
    assert cancel.status == 200, await cancel.text()
    done = await progress()
    assert (done["served"], done["sent"], done["cancelled"], done["done"]) == (1, 0, 1, True)


async def _when(value: Any, condition: Any) -> Any:
    found = await value
    return found if condition(found) else None


async def test_the_template_downloads_and_is_a_valid_batch(api: Api, browser: Any) -> None:
    clerk = await browser(Role.CLERK)
    response = await clerk.client.get("/staff/batches/template.csv")
    assert response.status == 200
    assert response.content_type == "text/csv" and response.charset == "utf-8"
    assert "attachment" in response.headers["Content-Disposition"]
    data = await response.read()
    assert data.startswith(b"\xef\xbb\xbf")
    header, example = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert tuple(header) == COLUMNS and len(example) == len(COLUMNS)
    files = {"民事起诉状.pdf": COMPLAINT, "传票.pdf": SUMMONS}
    batch_id = await uploaded(clerk, data, files)
    assert (await stored_batch(api, batch_id)).errors == []
    assert await count(api, dispatches) == 1


async def test_access_to_batches(api: Api, browser: Any) -> None:
    clerk = await browser(Role.CLERK)
    batch_id = await uploaded(clerk, csv_file([row("a-1")]))
    server = await browser()
    for path in ("/staff/batches", f"/staff/batches/{batch_id}", "/staff/batches/template.csv"):
        assert (await server.client.get(path, allow_redirects=False)).status == 403
    other = await browser(Role.CLERK, courts=(OTHER_COURT,))
    assert (await other.client.get(f"/staff/batches/{batch_id}")).status == 404
    assert (await other.client.get(f"/staff/batches/{batch_id}/progress")).status == 404
    assert batch_id not in await (await other.client.get("/staff/batches")).text()
    before = await api.table_counts()
    refused = await upload(other, csv_file([row("a-2")]), court=COURT)
    assert refused.status == 422 and "choose one of your courts" in await refused.text()
    forged = await upload(clerk, csv_file([row("a-3")]), csrf="forged")
    assert forged.status == 403
    assert await api.table_counts() == before


async def test_the_clerk_column_names_the_owner(api: Api, browser: Any) -> None:
    clerk = await browser(Role.CLERK)
    rows = [
        row("o-1", clerk=clerk.user.username),
        row("o-2", clerk="nobody-here"),
        row("o-3", hearing_at="next tuesday"),
    ]
    batch_id = await uploaded(clerk, csv_file(rows))
    errors = (await stored_batch(api, batch_id)).errors
    assert [(e["row"], e["field"], e["message"]) for e in errors] == [
        (3, "clerk", "not the username of a clerk of this court"),
        (4, "hearing_at", "must be a date and time, e.g. 2026-12-20 09:30 (court time)"),
    ]
    async with api.ctx.engine.connect() as conn:
        owners = (
            await conn.execute(sa.select(dispatches.c.reference, dispatches.c.owner_id))
        ).all()
    assert owners == [("o-1", clerk.user.id)]
