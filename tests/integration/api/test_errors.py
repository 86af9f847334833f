"""Bad input gets its documented error and leaves stored data unchanged."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import pytest
import sqlalchemy as sa
from api_client import Api, dispatch_body
from conftest import COURT, MINIMAL_PDF, OTHER_COURT

from delivery.ids import new_id
from delivery.services.api_keys import create_api_key
from delivery.storage.schema import metadata
from integration.api.support import problem


@pytest.fixture
async def document_id(api: Api) -> str:
    return await api.document()


async def _post_unchanged(api: Api, body: Any, status: int, slug: str, **kw: Any) -> dict[str, Any]:
    """POST a dispatch that must be refused, and check that nothing was stored."""
    before = await api.table_counts()
    headers = {**api.auth, **kw.pop("headers", {})}
    response = await api.client.post("/api/v1/dispatches", json=body, headers=headers, **kw)
    details = await problem(response, status, slug)
    assert await api.table_counts() == before
    return details


async def _key_for(api: Api, court: str) -> dict[str, str]:
    _key, token = await create_api_key(api.ctx.engine, api.ctx.clock, "another system", [court])
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer sdk_nope_wrong"}, {"Authorization": "Basic x"}],
)
async def test_missing_or_wrong_api_key_is_refused(api: Api, headers: dict[str, str]) -> None:
    before = await api.table_counts()
    response = await api.client.post("/api/v1/dispatches", json={}, headers=headers)
    await problem(response, 401, "unauthorized")
    assert await api.table_counts() == before


async def test_malformed_json(api: Api) -> None:
    before = await api.table_counts()
    response = await api.client.post(
        "/api/v1/dispatches",
        data=b'{"court": ',
        headers={**api.auth, "Content-Type": "application/json"},
    )
    await problem(response, 400, "malformed-json")
    assert await api.table_counts() == before


async def test_missing_and_unknown_fields_are_all_named(api: Api, document_id: str) -> None:
    body = dispatch_body([document_id])
    del body["case_number"]
    body["priority"] = "high"
    body["recipient"]["emails"][0]["verified"] = True
    details = await _post_unchanged(api, body, 422, "validation-error")
    fields = {e["field"]: e["message"] for e in details["errors"]}
    assert fields["case_number"] == "required"
    assert fields["priority"] == "unknown field"
    assert fields["recipient.emails[0].verified"] == "unknown field"


async def test_unknown_document_id(api: Api, document_id: str) -> None:
    missing = new_id()
    body = dispatch_body([document_id, missing])
    details = await _post_unchanged(api, body, 422, "validation-error")
    assert details["errors"] == [
        {"field": "documents", "message": f"unknown document id {missing}"}
    ]


async def test_another_keys_document_is_unknown(api: Api, document_id: str) -> None:
    other = await _key_for(api, COURT)
    body = dispatch_body([document_id])
    await _post_unchanged(api, body, 422, "validation-error", headers=other)


@pytest.mark.parametrize(
    ("content", "status", "reason"),
    [
        (b"GIF89a not a pdf", 415, "file is not a PDF"),
        (b"", 422, "file is empty"),
        (b"%PDF-1.4\n" + b"0" * (64 * 1024), 413, "file exceeds the limit of 65536 bytes"),
    ],
)
async def test_bad_uploads_are_refused(api: Api, content: bytes, status: int, reason: str) -> None:
    before = await api.table_counts()
    details = await problem(await api.upload(content), status, "upload-rejected")
    assert details["detail"] == reason
    assert await api.table_counts() == before
    assert not [p for p in api.ctx.documents.root.rglob("*") if p.is_file()]


async def test_upload_needs_title_and_known_kind(api: Api) -> None:
    details = await problem(await api.upload(title="", kind="letter"), 422, "validation-error")
    assert {e["field"] for e in details["errors"]} == {"title", "kind"}


async def test_upload_returns_hash_and_size(api: Api) -> None:
    response = await api.upload(title="传票", kind="summons")
    body = await response.json()
    assert response.status == 201
    assert body["sha256"] == hashlib.sha256(MINIMAL_PDF).hexdigest()
    assert body["size"] == len(MINIMAL_PDF)
    assert (body["title"], body["kind"]) == ("传票", "summons")


async def test_same_reference_same_body_returns_the_same_dispatch(
    api: Api, document_id: str
) -> None:
    body = dispatch_body([document_id])
    first = await api.create(body)
    again = await api.client.post(
        "/api/v1/dispatches", json=body, headers={**api.auth, "Idempotency-Key": body["reference"]}
    )
    assert again.status == 200
    assert (await again.json())["id"] == first["id"]
    assert (await api.table_counts())["dispatches"] == 1


async def test_same_reference_different_body_conflicts(api: Api, document_id: str) -> None:
    first = await api.create(dispatch_body([document_id]))
    changed = dispatch_body([document_id], email="li.si@example.com")
    details = await _post_unchanged(api, changed, 409, "idempotency-conflict")
    assert details["dispatch_id"] == first["id"]


async def test_idempotency_key_must_equal_reference(api: Api, document_id: str) -> None:
    body = dispatch_body([document_id])
    await _post_unchanged(
        api, body, 422, "idempotency-key-mismatch", headers={"Idempotency-Key": "something-else"}
    )


async def test_keys_are_scoped_to_courts(api: Api, document_id: str) -> None:
    created = await api.create(dispatch_body([document_id]))
    other = await _key_for(api, OTHER_COURT)
    response = await api.client.get(f"/api/v1/dispatches/{created['id']}", headers=other)
    await problem(response, 404, "not-found")
    response = await api.client.post(f"/api/v1/dispatches/{created['id']}/cancel", headers=other)
    await problem(response, 404, "not-found")
    listing = await (await api.client.get("/api/v1/dispatches", headers=other)).json()
    assert listing["items"] == []
    body = dispatch_body([document_id], reference="x")
    await _post_unchanged(api, body, 403, "court-not-in-scope", headers=other)


async def test_identity_numbers_are_not_stored_in_clear(api: Api, document_id: str) -> None:
    await api.create(dispatch_body([document_id]))
    async with api.ctx.engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in (await conn.execute(sa.select(table))).all():
                assert "33010619900101123X" not in repr(tuple(row)), table.name


async def test_unknown_dispatch_and_bad_ids_are_404(api: Api) -> None:
    for path in (f"/api/v1/dispatches/{new_id()}", "/api/v1/dispatches/not-an-id"):
        await problem(await api.client.get(path, headers=api.auth), 404, "not-found")


@pytest.mark.both_databases
@pytest.mark.usefixtures("worker")
async def test_control_characters_are_refused_and_nothing_personal_is_logged(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    body = dispatch_body([await api.document()])
    body["recipient"]["name"] = "张\x00三"
    body["recipient"]["emails"][0]["address"] = "a@b.com,c@d.com"
    with caplog.at_level(logging.DEBUG):
        # The JSON reader refuses a control character anywhere before the body is read as a
        # dispatch (decision 0027); the address is checked once the text is clean.
        response = await api.client.post("/api/v1/dispatches", json=body, headers=api.auth)
        assert response.status == 422
        assert [e["field"] for e in (await response.json())["errors"]] == ["recipient.name"]
        body["recipient"]["name"] = "张三"
        response = await api.client.post("/api/v1/dispatches", json=body, headers=api.auth)
    assert response.status == 422
    fields = [e["field"] for e in (await response.json())["errors"]]
    assert fields == ["recipient.emails[0].address"]
    assert "33010619900101123X" not in caplog.text
    assert "c@d.com" not in caplog.text
