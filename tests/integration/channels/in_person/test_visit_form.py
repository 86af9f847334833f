"""The field server's visit form refusing what it cannot record: wrong or oversized media, an
oversized drawn signature, incomplete fields and a missing CSRF token — nothing is stored; and
media recognised by their first bytes."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import FormData
from api_client import Api, visit_task
from helpers import form_csrf

from channels.in_person.visit_form import DATA_URL_PREFIX, MAX_SIGNATURE_BYTES
from delivery.api.http.evidence_uploads import media_type_of
from integration.channels.in_person.support import JPEG, MP4, PNG, in_person_dispatch, task_row

pytestmark = [pytest.mark.both_databases, pytest.mark.usefixtures("worker")]

WEBM = b"\x1a\x45\xdf\xa3" + b"\x04" * 100
PDF = b"%PDF-1.4\n%%EOF\n"


@pytest.mark.parametrize(
    ("files", "status"),
    [
        ([("media", PDF, "scan.pdf", "application/pdf")], 415),
        ([("media", b"GIF89a" + b"\x00" * 50, "x.gif", "image/gif")], 415),
        (
            [
                ("media", JPEG, "a.jpg", "image/jpeg"),
                ("media", b"not a video", "b.mp4", "video/mp4"),
            ],
            415,
        ),
        ([("media", b"\xff\xd8\xff" + b"\x00" * 5000, "big.jpg", "image/jpeg")], 413),
        ([("signature", JPEG, "signature.jpg", "image/jpeg")], 415),
    ],
)
async def test_oversized_or_wrong_media_is_refused_and_nothing_is_stored(
    api: Api, browser: Callable[..., Any], files: list[tuple[str, bytes, str, str]], status: int
) -> None:
    api.ctx.settings = dataclasses.replace(api.ctx.settings, max_media_bytes=4096)
    server = await browser()
    dispatch_id = await in_person_dispatch(api)
    task_id = await visit_task(api, dispatch_id)
    before_counts, before_events = await api.table_counts(), await api.events(dispatch_id)
    response = await server.post(task_id, {"outcome": "refused_left"}, files)
    assert response.status == status, await response.text()
    assert "照片（JPEG、PNG、WebP）" in await response.text() or status == 413
    assert await api.table_counts() == before_counts
    assert await api.events(dispatch_id) == before_events
    assert (await task_row(api.ctx, task_id))["state"] == "open"


async def test_an_oversized_drawn_signature_is_refused_before_it_is_decoded(
    api: Api, browser: Callable[..., Any]
) -> None:
    """The canvas's data URL is read whole into memory: it is capped at MAX_SIGNATURE_BYTES,
    whatever the media limit, so one form cannot tie up the server."""
    server = await browser()
    dispatch_id = await in_person_dispatch(api)
    task_id = await visit_task(api, dispatch_id)
    before_counts, before_events = await api.table_counts(), await api.events(dispatch_id)
    encoded = base64.b64encode(PNG + b"\x00" * MAX_SIGNATURE_BYTES).decode()
    fields = {"outcome": "served", "relation": "self", "signature": DATA_URL_PREFIX + encoded}
    response = await server.post(task_id, fields)
    assert response.status == 413
    assert await api.table_counts() == before_counts
    assert await api.events(dispatch_id) == before_events


async def test_form_errors_and_csrf(api: Api, browser: Callable[..., Any]) -> None:
    server = await browser()
    dispatch_id = await in_person_dispatch(api)
    task_id = await visit_task(api, dispatch_id)
    before_counts, before_events = await api.table_counts(), await api.events(dispatch_id)
    cases: list[tuple[dict[str, str], int, str]] = [
        ({"outcome": "refused_left"}, 422, "留置送达需要见证人签字或拍照/录像"),
        ({"outcome": "refused_left", "witness_name": "王"}, 422, "请填写见证人姓名和所在单位"),
        ({"outcome": "refused_filmed", "place": "away_from_home"}, 422, "须拍照或录像"),
        ({"outcome": "served", "relation": "opposing_party"}, 422, "请填写此项"),
        ({"outcome": "served", "relation": "agent"}, 422, "请填写此项"),
        ({"outcome": "failed", "reason": "holiday"}, 422, "请填写此项"),
        (
            {"outcome": "served", "relation": "self", "visited_at": "2026-11-24T10:00"},
            422,
            "不能晚于现在",
        ),
        (
            {"outcome": "served", "relation": "self", "visited_at": "2026-11-20T10:00"},
            422,
            "不能早于",
        ),
        ({"outcome": "served", "relation": "self", "lat": "91", "lon": "0"}, 422, "位置数据无效"),
        (
            {"outcome": "served", "relation": "self", "signature": "data:image/png;base64,@@"},
            422,
            "",
        ),
    ]
    for fields, status, text in cases:
        response = await server.post(task_id, fields)
        assert response.status == status, (fields, await response.text())
        assert text in await response.text()
    # No CSRF token: 403 before anything is read.
    form = FormData(default_to_multipart=True)
    form.add_field("outcome", "served")
    form.add_field("relation", "self")
    form.add_field("media", JPEG, filename="a.jpg", content_type="image/jpeg")
    response = await server.client.post(f"/field/tasks/{task_id}", data=form)
    assert response.status == 403
    assert await api.table_counts() == before_counts
    assert await api.events(dispatch_id) == before_events

    # Recorded once; the task is then closed (409) and gone from the list.
    assert (await server.post(task_id, {"outcome": "served", "relation": "self"})).status == 303
    await api.until_state(dispatch_id, "served")
    status, html = await server.form(task_id)
    assert status == 200 and "<form" not in html
    csrf = form_csrf(await (await server.client.get("/account")).text())
    again = await server.post(task_id, {"outcome": "served", "relation": "self"}, csrf=csrf)
    assert again.status == 409


def test_media_types_are_recognised_by_their_first_bytes() -> None:
    assert media_type_of(JPEG) == "image/jpeg"
    assert media_type_of(PNG) == "image/png"
    assert media_type_of(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert media_type_of(MP4) == "video/mp4"
    assert media_type_of(b"\x00\x00\x00\x14ftypqt  ") == "video/quicktime"
    assert media_type_of(WEBM) == "video/webm"
    assert media_type_of(PDF) is None
