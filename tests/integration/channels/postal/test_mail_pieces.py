"""The paper of a postal attempt: the mail piece PDFs, and the scanned return card stored with
its hash."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import FormData
from api_client import Api
from conftest import COURT, MINIMAL_PDF, OTHER_COURT
from pypdf import PdfReader
from standins import Post

from delivery.services.api_keys import create_api_key
from integration.channels.postal.support import postal_attempt

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.mark.usefixtures("worker")
async def test_mail_piece_pdfs(post: Post, aiohttp_client: Callable[..., Any]) -> None:
    api = post.api
    first = await post.dispatch(reference="piece-1")
    second = await post.dispatch(reference="piece-2")
    tracking = [await post.posted(first), await post.posted(second)]
    attempt = postal_attempt(await api.dispatch(first))
    url = f"/api/v1/dispatches/{first}/attempts/{attempt['id']}/mail-piece.pdf"

    response = await api.client.get(url, headers=api.auth)
    assert response.status == 200
    assert response.content_type == "application/pdf"
    reader = PdfReader(io.BytesIO(await response.read()))
    assert len(reader.pages) == 3  # cover letter, address label, return-receipt card
    text = "".join(page.extract_text() for page in reader.pages)
    assert COURT in text
    assert tracking[0] in text and "送达回执" in text and "民事起诉状" in text
    assert "/verify/" + first in text

    day = await api.client.get("/api/v1/mail-pieces.pdf?date=2026-11-23", headers=api.auth)
    assert day.status == 200
    reader = PdfReader(io.BytesIO(await day.read()))
    assert len(reader.pages) == 6
    text = "".join(page.extract_text() for page in reader.pages)
    assert all(t in text for t in tracking)

    cancelled = await api.client.post(f"/api/v1/dispatches/{second}/cancel", headers=api.auth)
    assert cancelled.status == 200
    day = await api.client.get("/api/v1/mail-pieces.pdf?date=2026-11-23", headers=api.auth)
    reader = PdfReader(io.BytesIO(await day.read()))
    assert len(reader.pages) == 3  # the cancelled dispatch's letter is not printed
    assert tracking[1] not in "".join(page.extract_text() for page in reader.pages)
    assert await post.fake.report(tracking[0], "accepted") == 200
    gone = await api.client.get("/api/v1/mail-pieces.pdf?date=2026-11-23", headers=api.auth)
    assert gone.status == 404  # the carrier took the last one: nothing is printed twice

    none = await api.client.get("/api/v1/mail-pieces.pdf?date=2026-11-24", headers=api.auth)
    assert none.status == 404 and none.content_type == "application/problem+json"
    bad = await api.client.get("/api/v1/mail-pieces.pdf?date=yesterday", headers=api.auth)
    assert bad.status == 422

    _key, other = await create_api_key(api.ctx.engine, api.ctx.clock, "other", [OTHER_COURT])
    foreign = {"Authorization": f"Bearer {other}"}
    assert (await api.client.get(url, headers=foreign)).status == 404
    day = await api.client.get("/api/v1/mail-pieces.pdf?date=2026-11-23", headers=foreign)
    assert day.status == 404


async def _upload(api: Api, path: str, content: bytes, name: str = "card.png") -> Any:
    form = FormData()
    form.add_field("file", content, filename=name, content_type="application/octet-stream")
    return await api.client.post(path, data=form, headers=api.auth)


@pytest.mark.usefixtures("worker")
async def test_a_scanned_return_card_is_stored_hashed(post: Post) -> None:
    api = post.api
    dispatch_id = await post.dispatch()
    await post.posted(dispatch_id)
    attempt = postal_attempt(await api.dispatch(dispatch_id))
    path = f"/api/v1/dispatches/{dispatch_id}/attempts/{attempt['id']}/return-card"

    before = await api.table_counts()
    events = await api.event_types(dispatch_id)
    assert (await _upload(api, path, b"GIF89a" + b"\x00" * 20)).status == 415
    assert (await _upload(api, path, b"")).status == 422
    too_big = PNG + b"\x00" * api.ctx.settings.max_upload_bytes
    assert (await _upload(api, path, too_big)).status == 413
    form = FormData({"note": "x"}, default_to_multipart=True)
    assert (await api.client.post(path, data=form, headers=api.auth)).status == 422
    plain = await api.client.post(path, data=FormData({"file": "x"}), headers=api.auth)
    assert plain.status == 415  # not multipart
    elsewhere = path.replace(attempt["id"], "01ARZ3NDEKTSV4RRFFQ69G5FAV")
    assert (await _upload(api, elsewhere, PNG)).status == 404
    assert await api.table_counts() == before
    assert await api.event_types(dispatch_id) == events

    stored = await _upload(api, path, PNG)
    assert stored.status == 201, await stored.text()
    media = await stored.json()
    assert media["media_type"] == "image/png" and media["size"] == len(PNG)
    scan = await _upload(api, path, MINIMAL_PDF, "card.pdf")
    assert (await scan.json())["media_type"] == "application/pdf"
    after = await api.table_counts()
    assert after["media_files"] == before["media_files"] + 2
    recorded = next(e for e in (await api.events(dispatch_id)) if e.type == "return_card_uploaded")
    assert recorded.data == {
        "media_id": media["id"],
        "sha256": media["sha256"],
        "media_type": "image/png",
        "size": len(PNG),
    }
    assert api.ctx.documents.path_for(media["sha256"]).read_bytes() == PNG
