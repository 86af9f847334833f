"""The new dispatch form: a dispatch with its documents from the workspace, validated as the
API validates, idempotent on reference, and the form again with the errors when it is wrong."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from aiohttp import FormData
from api_client import Api
from conftest import COURT, MINIMAL_PDF, OTHER_COURT
from helpers import form_csrf

from delivery.staff import Role
from delivery.storage.schema import dispatches, documents, events

ID_NUMBER = "33010619900101123X"
DISPATCH_URL = re.compile(r"^/staff/dispatches/([0-9A-Z]{26})$")


def fields(reference: str, **values: str) -> dict[str, str]:
    return {
        "court": COURT,
        "case_number": "(2026)浙0106民初1234号",
        "reference": reference,
        "hearing_at": "2027-01-20T09:30",
        "policy": "cn-civil",
        "locale": "zh-CN",
        "recipient_name": "张三",
        "recipient_role": "defendant",
        "id_number": ID_NUMBER,
        "consent": "yes",
        "consent_basis": "express",
        "email": "zhang.san@example.com",
        "email_source": "recipient_confirmed",
        "phone": "",
        "phone_source": "",
        "postal_address": "",
        "postcode": "",
        "postal_source": "",
        "doc_title_1": "民事起诉状",
        "doc_kind_1": "complaint",
        **values,
    }


async def submit(
    clerk: Any,
    values: dict[str, str],
    *,
    file: bytes | None = MINIMAL_PDF,
    kept: list[str] | None = None,
    csrf: str | None = None,
) -> Any:
    """The form as the browser sends it: the CSRF token first, the fields, the file inputs."""
    if csrf is None:
        csrf = form_csrf(await (await clerk.client.get("/staff/dispatches/new")).text())
    form = FormData(default_to_multipart=True)
    form.add_field("csrf_token", csrf)
    for name, value in values.items():
        form.add_field(name, value)
    for document_id in kept or []:
        form.add_field("document_id", document_id)
    form.add_field("doc_file_1", file or b"", filename="起诉状.pdf" if file else "")
    form.add_field("doc_file_2", b"", filename="", content_type="application/octet-stream")
    return await clerk.client.post("/staff/dispatches/new", data=form, allow_redirects=False)


def created_id(response: Any) -> str:
    match = DISPATCH_URL.match(response.headers.get("Location", ""))
    assert response.status == 303 and match, response.status
    return match.group(1)


async def rows(api: Api, table: sa.Table) -> list[Any]:
    async with api.ctx.engine.connect() as conn:
        return list((await conn.execute(sa.select(table))).all())


async def test_the_form_creates_a_dispatch_once(api: Api, browser: Any) -> None:
    clerk = await browser(Role.CLERK)
    page = await clerk.client.get("/staff/dispatches/new")
    html = await page.text()
    assert page.status == 200
    assert re.search(r'name="reference" value="WS-[0-9A-Z]{26}"', html)
    assert 'enctype="multipart/form-data"' in html
    english = await (await clerk.client.get("/staff/dispatches/new?lang=en")).text()
    assert "<h1>New dispatch</h1>" in english and 'class="active">New dispatch' in english

    first = created_id(await submit(clerk, fields("form-1")))
    [dispatch] = await rows(api, dispatches)
    assert (dispatch.id, dispatch.court, dispatch.reference) == (first, COURT, "form-1")
    assert dispatch.id_last4 == "123X" and dispatch.hearing_at is not None
    assert dispatch.hearing_at.isoformat() == "2027-01-20T01:30:00+00:00"  # 09:30 court time
    [document] = await rows(api, documents)
    assert (document.title, document.kind) == ("民事起诉状", "complaint")
    assert document.api_key_id == dispatch.api_key_id  # the court's workspace key
    async with api.ctx.engine.connect() as conn:
        created = (
            await conn.execute(
                sa.select(events.c.actor).where(
                    events.c.dispatch_id == first, events.c.type == "dispatch_created"
                )
            )
        ).scalar_one()
    assert created == clerk.user.actor

    again = created_id(await submit(clerk, fields("form-1")))  # a double click
    assert again == first
    assert len(await rows(api, dispatches)) == 1
    assert len(await rows(api, documents)) == 1


async def test_errors_come_back_with_the_values_kept(api: Api, browser: Any) -> None:
    clerk = await browser(Role.CLERK)
    wrong = fields("form-2", email="not-an-address", recipient_name="", consent_basis="")
    response = await submit(clerk, wrong)
    html = await response.text()
    assert response.status == 422
    assert "应为电子邮箱地址" in html  # the form answers in the page's language
    assert "应为明示同意、合同约定、起诉时确认或默示同意之一" in html  # consent without basis
    assert 'name="case_number" value="(2026)浙0106民初1234号"' in html
    assert 'name="email" value="not-an-address"' in html
    assert ID_NUMBER not in html and "123X" in html  # only the last 4 are shown back
    assert await rows(api, dispatches) == []
    [document] = await rows(api, documents)
    assert f'name="document_id" value="{document.id}"' in html  # not to be uploaded again

    fixed = fields("form-2")
    created = created_id(await submit(clerk, fixed, file=None, kept=[document.id]))
    [dispatch] = await rows(api, dispatches)
    assert dispatch.id == created
    assert len(await rows(api, documents)) == 1

    too_long = await submit(clerk, fields("form-3", case_number="号" * 101))
    assert too_long.status == 422
    assert "不能超过 100 个字符" in await too_long.text()  # a limit, in the page's language

    conflict = await submit(clerk, fields("form-2", case_number="(2026)浙0106民初9999号"))
    assert conflict.status == 422
    assert "reference already used with different data" in await conflict.text()
    assert len(await rows(api, dispatches)) == 1


async def test_no_document_no_dispatch(api: Api, browser: Any) -> None:
    clerk = await browser(Role.CLERK, Role.SUPERVISOR)
    response = await submit(clerk, fields("form-3", lang="en"), file=None)
    assert response.status == 422
    assert "请至少上传一份文书" in await response.text()
    not_pdf = await submit(clerk, fields("form-3"), file=b"GIF89a")
    html = await not_pdf.text()
    assert not_pdf.status == 422 and "起诉状.pdf: file is not a PDF" in html
    assert 'name="reference" value="form-3"' in html  # the rest of the form was kept
    assert await rows(api, dispatches) == []


async def test_access_to_the_form(api: Api, browser: Any) -> None:
    server = await browser()
    clerk = await browser(Role.CLERK)
    csrf = await server.log_in()
    before = await api.table_counts()
    assert (await server.client.get("/staff/dispatches/new", allow_redirects=False)).status == 403
    refused = await submit(server, fields("form-4"), csrf=csrf)
    assert refused.status == 403
    assert (await submit(clerk, fields("form-5"), csrf="forged")).status == 403
    elsewhere = await submit(clerk, fields("form-6", court=OTHER_COURT))
    assert elsewhere.status == 422 and "choose one of your courts" in await elsewhere.text()
    assert await api.table_counts() == before


async def test_uploads_are_bounded(api: Api, browser: Any) -> None:
    """One file per document slot, and a bounded number of text fields: a form that sends more
    is refused before they are stored or kept in memory."""
    clerk = await browser(Role.CLERK)
    csrf = form_csrf(await (await clerk.client.get("/staff/dispatches/new")).text())
    form = FormData(default_to_multipart=True)
    form.add_field("csrf_token", csrf)
    for name, value in fields("bound-1").items():
        form.add_field(name, value)
    for i in range(3):  # three files in the one slot doc_file_1
        form.add_field("doc_file_1", MINIMAL_PDF + b"%" * i, filename=f"{i}.pdf")
    response = await clerk.client.post("/staff/dispatches/new", data=form)
    html = await response.text()
    assert response.status == 422
    assert "1.pdf: one file per document" in html
    stored = [p for p in api.ctx.documents.root.rglob("*") if p.is_file()]
    assert len(stored) == 1  # the slot's first file only
    assert await rows(api, dispatches) == []

    before = await api.table_counts()
    many = FormData(default_to_multipart=True)
    many.add_field("csrf_token", csrf)
    for i in range(1000):
        many.add_field(f"x{i}", "y")
    refused = await clerk.client.post("/staff/dispatches/new", data=many)
    assert refused.status == 413
    assert "too many fields" in await refused.text()
    assert await api.table_counts() == before
