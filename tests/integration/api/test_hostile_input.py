"""Issue 12, item 6: hostile input gets a 4xx, always — and nothing is stored from it.

JSON nested past any real body, a multipart body with no boundary, the wrong one or cut short,
a NUL in a title or a note, and ``%PDF-`` followed by HTML each reached a 500 (or were kept)
before: every case here names what the reader refuses and checks that no table grew.
"""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import ClientResponse, FormData
from api_client import Api
from helpers import log_in, staff_account
from pdf_checks import PDF_THEN_HTML

from delivery.api.http.bodies import MAX_JSON_BYTES, MAX_JSON_DEPTH, MAX_PARTS
from delivery.staff import Role
from delivery.text import text_problem
from integration.api.support import problem
from integration.delivery.support import postal_dispatch

BOUNDARY = "songda-test-boundary"


def _file_part(field: str) -> bytes:
    """A file part cut off before its closing boundary."""
    return (
        f"--{BOUNDARY}\r\n"
        f'Content-Disposition: form-data; name="{field}"; filename="doc.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n"
        "%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>> endobj\n"
    ).encode()


def malformed_multipart(field: str) -> list[tuple[str, str, bytes]]:
    """(case, Content-Type, body): each a multipart body no reader may take, around a file
    part named ``field``."""
    ours = f"multipart/form-data; boundary={BOUNDARY}"
    return [
        ("no boundary", "multipart/form-data", _file_part(field)),
        ("another boundary", "multipart/form-data; boundary=other", _file_part(field)),
        ("boundary too long", "multipart/form-data; boundary=" + "b" * 80, _file_part(field)),
        ("cut short", ours, _file_part(field)),
        ("no parts at all", ours, b"garbage"),
    ]


def _deep(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


async def _json_endpoints(api: Api) -> list[str]:
    dispatch = await api.new_dispatch()
    return [
        "/api/v1/dispatches",
        f"/api/v1/dispatches/{dispatch['id']}/actions",
        f"/api/v1/dispatches/{dispatch['id']}/cancel",
        "/api/v1/webhook-endpoints",
        "/api/v1/bounces",
    ]


async def _post_raw(
    api: Api, path: str, body: bytes, content_type: str, auth: dict[str, str] | None = None
) -> ClientResponse:
    """POST a raw body with the API key (``auth``: another key's headers, e.g. the bounce
    processor's, whose scope ``/api/v1/bounces`` needs before it reads a body)."""
    headers = {**(auth or api.auth), "Content-Type": content_type}
    return await api.client.post(path, data=body, headers=headers)


def _key_for(api: Api, path: str, bounce_processor: dict[str, str]) -> dict[str, str]:
    return bounce_processor if path == "/api/v1/bounces" else api.auth


async def test_deeply_nested_json_is_a_400_on_every_json_endpoint(
    api: Api, bounce_processor: dict[str, str]
) -> None:
    for path in await _json_endpoints(api):
        before = await api.table_counts()
        auth = _key_for(api, path, bounce_processor)
        for depth in (MAX_JSON_DEPTH + 1, 100_000):
            response = await _post_raw(api, path, _deep(depth), "application/json", auth)
            details = await problem(response, 400, "json-too-deep")
            assert str(MAX_JSON_DEPTH) in details["detail"], path
        assert await api.table_counts() == before, path


async def test_json_size_type_syntax_and_shape_are_4xx_problems(api: Api) -> None:
    path = "/api/v1/dispatches"
    before = await api.table_counts()
    large = b'{"reference": "' + b"x" * MAX_JSON_BYTES + b'"}'
    await problem(await _post_raw(api, path, large, "application/json"), 413, "too-large")
    await problem(await _post_raw(api, path, b"{}", "text/plain"), 415, "unsupported-media-type")
    for broken in (b"{", b'{"a": NaN}', b'{"a": Infinity}', b"\xff\xfe{}", b"1" * 5000):
        await problem(await _post_raw(api, path, broken, "application/json"), 400, "malformed-json")
    for shape in (b"[]", b'"text"', b"null"):
        details = await problem(
            await _post_raw(api, path, shape, "application/json"), 422, "validation-error"
        )
        assert details["errors"] == [{"field": "", "message": "the body must be a JSON object"}]
    assert await api.table_counts() == before


async def test_control_characters_in_json_are_a_422_naming_the_field(
    api: Api, bounce_processor: dict[str, str]
) -> None:
    dispatch = await api.new_dispatch()
    before = await api.table_counts()
    actions = f"/api/v1/dispatches/{dispatch['id']}/actions"
    cases: list[tuple[str, bytes, str]] = [
        (actions, b'{"action": "escalate", "note": "why\\u0000"}', "note"),
        (actions, b'{"action": "escalate", "note": "ok", "\\ud800": 1}', "\\ud800"),
        (actions, b'{"action": "escalate", "note": "lone \\udc00"}', "note"),
        ("/api/v1/bounces", b'{"message_id": "<a@b>\\u0085"}', "message_id"),
        (f"/api/v1/dispatches/{dispatch['id']}/cancel", b'{"reason": "\\u001b[31m"}', "reason"),
    ]
    for path, body, field in cases:
        auth = _key_for(api, path, bounce_processor)
        response = await _post_raw(api, path, body, "application/json", auth)
        details = await problem(response, 422, "validation-error")
        assert [e["field"] for e in details["errors"]] == [field], (path, details)
    assert await api.table_counts() == before


async def test_control_characters_in_a_query_are_refused(api: Api) -> None:
    for query in ("case_number=%00", "court=a%0Ab", "%01=x"):
        response = await api.client.get(f"/api/v1/dispatches?{query}", headers=api.auth)
        details = await problem(response, 422, "validation-error")
        assert details["errors"][0]["message"].endswith("must not contain control characters")
    user, password = await staff_account(api.ctx)
    await log_in(api.client, user.username, password)
    response = await api.client.get("/staff/queue?case_number=%00")
    assert response.status == 422, await response.text()


def test_the_one_rule_for_stored_text() -> None:
    for bad in ("a\x00b", "\x07", "\x7f", "\x85", "\x9b", "\ud800", "a\nb", "a\tb", "a\rb"):
        assert text_problem(bad) is not None, repr(bad)
    for bad in ("a\x00b", "\x0b", "\x1b", "\x9f", "\udfff"):
        assert text_problem(bad, multi_line=True) is not None, repr(bad)
    for good in ("张三", "(2026)浙0106民初1234号", "O'Brien & Söhne — №5", "\u3000全角"):
        assert text_problem(good) is None
    assert text_problem("第一行\r\n第二行\t缩进", multi_line=True) is None


async def test_malformed_multipart_is_a_400_on_every_api_upload(api: Api, worker: Any) -> None:
    dispatch_id, attempt_id = await postal_dispatch(api)
    paths = [
        ("/api/v1/documents", "file"),
        (f"/api/v1/dispatches/{dispatch_id}/actions", "scan"),
        (f"/api/v1/dispatches/{dispatch_id}/attempts/{attempt_id}/return-card", "file"),
    ]
    before = await api.table_counts()
    for path, field in paths:
        for case, content_type, body in malformed_multipart(field):
            response = await _post_raw(api, path, body, content_type)
            details = await problem(response, 400, "malformed-body")
            assert details["title"] == "The body cannot be read", (case, path)
    assert await api.table_counts() == before
    assert not [p for p in api.ctx.documents.root.rglob(".upload-*")]


async def test_malformed_multipart_on_staff_forms_is_a_400_page(api: Api) -> None:
    user, password = await staff_account(api.ctx, Role.CLERK)
    csrf = await log_in(api.client, user.username, password)
    token_part = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{csrf}\r\n'
    ).encode()
    before = await api.table_counts()
    for path, field in (
        ("/staff/dispatches/new", "doc_file_1"),
        ("/staff/batches", "documents"),
        ("/login", "file"),
    ):
        for case, content_type, body in malformed_multipart(field):
            response = await api.client.post(
                path,
                data=token_part + body,
                headers={"Content-Type": content_type},
                allow_redirects=False,
            )
            assert response.status == 400, (path, case, await response.text())
    assert await api.table_counts() == before


async def test_too_many_parts_is_a_400(api: Api) -> None:
    """Parts a form skips (no name) are counted too: a body of endless empty parts ends."""
    dispatch = await api.new_dispatch()
    unnamed = f"--{BOUNDARY}\r\nContent-Disposition: form-data\r\n\r\nx\r\n"
    body = (unnamed * (MAX_PARTS + 1) + f"--{BOUNDARY}--\r\n").encode()
    content_type = f"multipart/form-data; boundary={BOUNDARY}"
    path = f"/api/v1/dispatches/{dispatch['id']}/actions"
    details = await problem(await _post_raw(api, path, body, content_type), 400, "malformed-body")
    assert str(MAX_PARTS) in details["detail"]
    user, password = await staff_account(api.ctx)
    await log_in(api.client, user.username, password)
    response = await api.client.post("/login", data=body, headers={"Content-Type": content_type})
    assert response.status == 400, await response.text()


async def test_nul_in_a_document_title_is_a_422_naming_title(api: Api) -> None:
    before = await api.table_counts()
    for title in ("民事\x00起诉状", "two\nlines", "\x1b[2J"):
        details = await problem(await api.upload(title=title), 422, "validation-error")
        assert details["errors"] == [
            {"field": "title", "message": "must not contain control characters"}
        ]
    assert await api.table_counts() == before


async def test_pdf_then_html_is_not_a_pdf(api: Api) -> None:
    before = await api.table_counts()
    response = await api.upload(PDF_THEN_HTML)
    details = await problem(response, 422, "upload-rejected")
    assert details["errors"] == [{"field": "file", "message": "not a readable PDF"}]
    assert await api.table_counts() == before
    assert not [p for p in api.ctx.documents.root.rglob("*") if p.is_file()]


async def test_a_form_field_with_control_characters_is_refused_on_the_staff_form(
    api: Api,
) -> None:
    user, password = await staff_account(api.ctx)
    csrf = await log_in(api.client, user.username, password)
    before = await api.table_counts()
    form = FormData()
    form.add_field("csrf_token", csrf)
    form.add_field("recipient_name", "张\x00三")
    form.add_field("doc_file_1", b"", filename="", content_type="application/octet-stream")
    response = await api.client.post("/staff/dispatches/new", data=form)
    text = await response.text()
    assert response.status == 422, text
    assert "recipient_name: must not contain control characters" in text
    assert await api.table_counts() == before


@pytest.mark.both_databases
@pytest.mark.usefixtures("worker")
async def test_large_bodies_are_refused_before_they_are_read(api: Api) -> None:
    big = b"x" * (2 * 1024 * 1024)
    response = await api.client.post(
        "/r/not-a-token/verify",
        data=big,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status == 413
    response = await api.client.post(
        "/api/v1/dispatches", data=big, headers={**api.auth, "Content-Type": "application/json"}
    )
    assert response.status == 413
