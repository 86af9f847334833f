"""Bad input gets its documented error and leaves stored data unchanged."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from conftest import OTHER_COURT
from helpers import create_dispatch, dispatch_body, table_counts, upload, upload_ok

from delivery.context import Context
from delivery.ids import new_id
from delivery.services.api_keys import create_api_key

PROBLEM = "application/problem+json"


async def problem(response: Any, status: int, slug: str) -> dict[str, Any]:
    assert response.status == status, await response.text()
    assert response.content_type == PROBLEM
    body = dict(await response.json())
    assert body["type"] == f"urn:songda:problem:{slug}"
    assert body["status"] == status
    return body


@pytest.fixture
async def document_id(client: TestClient[Any, Any], auth: dict[str, str]) -> str:
    return await upload_ok(client, auth)


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer sdk_nope_wrong"}, 401),
        ({"Authorization": "Basic x"}, 401),
    ],
)
async def test_missing_or_wrong_api_key_is_refused(
    ctx: Context, client: TestClient[Any, Any], headers: dict[str, str], status: int
) -> None:
    before = await table_counts(ctx)
    response = await client.post("/api/v1/dispatches", json={}, headers=headers)
    await problem(response, status, "unauthorized")
    assert await table_counts(ctx) == before


async def test_malformed_json(
    ctx: Context, client: TestClient[Any, Any], auth: dict[str, str]
) -> None:
    before = await table_counts(ctx)
    response = await client.post(
        "/api/v1/dispatches",
        data=b'{"court": ',
        headers={**auth, "Content-Type": "application/json"},
    )
    await problem(response, 400, "malformed-json")
    assert await table_counts(ctx) == before


async def test_missing_and_unknown_fields_are_all_named(
    ctx: Context, client: TestClient[Any, Any], auth: dict[str, str], document_id: str
) -> None:
    body = dispatch_body([document_id])
    del body["case_number"]
    body["priority"] = "high"
    body["recipient"]["emails"][0]["verified"] = True
    before = await table_counts(ctx)
    response = await client.post("/api/v1/dispatches", json=body, headers=auth)
    details = await problem(response, 422, "validation-error")
    fields = {e["field"]: e["message"] for e in details["errors"]}
    assert fields["case_number"] == "required"
    assert fields["priority"] == "unknown field"
    assert fields["recipient.emails[0].verified"] == "unknown field"
    assert await table_counts(ctx) == before


async def test_unknown_document_id(
    ctx: Context, client: TestClient[Any, Any], auth: dict[str, str], document_id: str
) -> None:
    missing = new_id()
    before = await table_counts(ctx)
    response = await client.post(
        "/api/v1/dispatches", json=dispatch_body([document_id, missing]), headers=auth
    )
    details = await problem(response, 422, "validation-error")
    assert details["errors"] == [
        {"field": "documents", "message": f"unknown document id {missing}"}
    ]
    assert await table_counts(ctx) == before


async def test_another_keys_document_is_unknown(
    ctx: Context, client: TestClient[Any, Any], auth: dict[str, str], document_id: str
) -> None:
    _key, other = await create_api_key(
        ctx.engine, ctx.clock, "other system", ["杭州市西湖区人民法院"]
    )
    response = await client.post(
        "/api/v1/dispatches",
        json=dispatch_body([document_id]),
        headers={"Authorization": f"Bearer {other}"},
    )
    await problem(response, 422, "validation-error")


@pytest.mark.parametrize(
    ("content", "status", "reason"),
    [
        (b"GIF89a not a pdf", 415, "file is not a PDF"),
        (b"", 422, "file is empty"),
        (b"%PDF-1.4\n" + b"0" * (64 * 1024), 413, "file exceeds the limit of 65536 bytes"),
    ],
)
async def test_bad_uploads_are_refused(
    ctx: Context,
    client: TestClient[Any, Any],
    auth: dict[str, str],
    content: bytes,
    status: int,
    reason: str,
) -> None:
    before = await table_counts(ctx)
    response = await upload(client, auth, content)
    details = await problem(response, status, "upload-rejected")
    assert details["detail"] == reason
    assert await table_counts(ctx) == before
    assert not [p for p in ctx.documents.root.rglob("*") if p.is_file()]


async def test_upload_needs_title_and_known_kind(
    client: TestClient[Any, Any], auth: dict[str, str]
) -> None:
    response = await upload(client, auth, title="", kind="letter")
    details = await problem(response, 422, "validation-error")
    assert {e["field"] for e in details["errors"]} == {"title", "kind"}


async def test_upload_returns_hash_and_size(
    client: TestClient[Any, Any], auth: dict[str, str]
) -> None:
    import hashlib

    from conftest import MINIMAL_PDF

    response = await upload(client, auth, title="传票", kind="summons")
    body = await response.json()
    assert response.status == 201
    assert body["sha256"] == hashlib.sha256(MINIMAL_PDF).hexdigest()
    assert body["size"] == len(MINIMAL_PDF)
    assert (body["title"], body["kind"]) == ("传票", "summons")


async def test_same_reference_same_body_returns_the_same_dispatch(
    ctx: Context, client: TestClient[Any, Any], auth: dict[str, str], document_id: str
) -> None:
    body = dispatch_body([document_id])
    first = await create_dispatch(client, auth, body)
    again = await client.post(
        "/api/v1/dispatches", json=body, headers={**auth, "Idempotency-Key": body["reference"]}
    )
    assert again.status == 200
    assert (await again.json())["id"] == first["id"]
    assert (await table_counts(ctx))["dispatches"] == 1


async def test_same_reference_different_body_conflicts(
    ctx: Context, client: TestClient[Any, Any], auth: dict[str, str], document_id: str
) -> None:
    first = await create_dispatch(client, auth, dispatch_body([document_id]))
    before = await table_counts(ctx)
    changed = dispatch_body([document_id], email="li.si@example.com")
    response = await client.post("/api/v1/dispatches", json=changed, headers=auth)
    details = await problem(response, 409, "idempotency-conflict")
    assert details["dispatch_id"] == first["id"]
    assert await table_counts(ctx) == before


async def test_idempotency_key_must_equal_reference(
    ctx: Context, client: TestClient[Any, Any], auth: dict[str, str], document_id: str
) -> None:
    response = await client.post(
        "/api/v1/dispatches",
        json=dispatch_body([document_id]),
        headers={**auth, "Idempotency-Key": "something-else"},
    )
    await problem(response, 422, "idempotency-key-mismatch")
    assert (await table_counts(ctx))["dispatches"] == 0


async def test_keys_are_scoped_to_courts(
    ctx: Context, client: TestClient[Any, Any], auth: dict[str, str], document_id: str
) -> None:
    created = await create_dispatch(client, auth, dispatch_body([document_id]))
    _key, other = await create_api_key(ctx.engine, ctx.clock, "ningbo", [OTHER_COURT])
    other_auth = {"Authorization": f"Bearer {other}"}
    response = await client.get(f"/api/v1/dispatches/{created['id']}", headers=other_auth)
    await problem(response, 404, "not-found")
    response = await client.post(f"/api/v1/dispatches/{created['id']}/cancel", headers=other_auth)
    await problem(response, 404, "not-found")
    listing = await (await client.get("/api/v1/dispatches", headers=other_auth)).json()
    assert listing["items"] == []
    response = await client.post(
        "/api/v1/dispatches", json=dispatch_body([document_id], reference="x"), headers=other_auth
    )
    await problem(response, 403, "court-not-in-scope")


async def test_identity_numbers_are_not_stored_in_clear(
    ctx: Context, client: TestClient[Any, Any], auth: dict[str, str], document_id: str
) -> None:
    import sqlalchemy as sa

    from delivery.storage.schema import metadata

    await create_dispatch(client, auth, dispatch_body([document_id]))
    async with ctx.engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in (await conn.execute(sa.select(table))).all():
                assert "33010619900101123X" not in repr(tuple(row)), table.name


async def test_unknown_dispatch_and_bad_ids_are_404(
    client: TestClient[Any, Any], auth: dict[str, str]
) -> None:
    for path in (f"/api/v1/dispatches/{new_id()}", "/api/v1/dispatches/not-an-id"):
        await problem(await client.get(path, headers=auth), 404, "not-found")
