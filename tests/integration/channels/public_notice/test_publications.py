"""Public notice publications: a later publication moves the deemed date, 60 days for a party
abroad, and the posting photos (uploads, and the residence posting that needs its photo)."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp import FormData
from api_client import Api
from conftest import OTHER_COURT, settled
from helpers import log_in, staff_account

from delivery.clock import rfc3339
from delivery.services.api_keys import create_api_key
from delivery.services.sweep import sweep
from delivery.staff import Role
from delivery.storage.schema import media_files, notice_publications
from integration.channels.public_notice.support import (
    JPEG,
    ZONE,
    act,
    advance,
    approve,
    drafted,
    filled_in,
    notice_dispatch,
    notice_row,
    published_notice,
    supervisor,
)

pytestmark = [pytest.mark.both_databases, pytest.mark.usefixtures("worker")]

MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\x03" * 300


async def test_a_later_publication_moves_the_deemed_date(api: Api) -> None:
    """CPL-INT-138: published again (the notice board) five days later — that one counts."""
    dispatch_id, _headers = await published_notice(api)
    first = api.ctx.clock.now()

    advance(api, timedelta(days=5))
    future = rfc3339(api.ctx.clock.now() + timedelta(hours=1))
    too_late = await act(
        api, dispatch_id, "record_publication", place="newspaper", published_at=future
    )
    assert too_late.status == 422
    wrong = await act(
        api, dispatch_id, "record_publication", place="moon", published_at=rfc3339(first)
    )
    assert wrong.status == 422
    second = api.ctx.clock.now() - timedelta(hours=2)
    posted = await act(
        api,
        dispatch_id,
        "record_publication",
        place="court_notice_board",
        published_at=second.astimezone(ZONE).isoformat(),
        detail="本院公告栏",
    )
    assert posted.status == 200, await posted.text()
    dispatch = await posted.json()
    assert dispatch["next_action_at"] == rfc3339(second + timedelta(days=30))
    notice = await notice_row(api, dispatch_id)
    assert notice["first_published_at"] == first and notice["last_published_at"] == second
    assert notice["deemed_served_at"] == second + timedelta(days=30)
    async with api.ctx.engine.connect() as conn:
        places = (
            (
                await conn.execute(
                    sa.select(notice_publications.c.place)
                    .where(notice_publications.c.notice_id == notice["id"])
                    .order_by(notice_publications.c.published_at)
                )
            )
            .scalars()
            .all()
        )
    assert places == ["court_website", "court_notice_board"]

    advance(api, timedelta(days=25, hours=1))  # 30 days after the first publication
    await sweep(api.ctx)
    await settled(api.ctx)
    assert (await api.dispatch(dispatch_id))["state"] == "notice_pending"
    advance(api, timedelta(days=5))
    await sweep(api.ctx)
    served = await api.until_state(dispatch_id, "served")
    assert served["served_at"] == rfc3339(second + timedelta(days=30))
    assert (
        served["service_date"] == (second + timedelta(days=30)).astimezone(ZONE).date().isoformat()
    )


async def test_a_party_abroad_is_served_60_days_after_the_notice(api: Api) -> None:
    """CPL-283: cn-foreign, no domicile in China — 60 days from the last publication."""
    dispatch_id, _headers = await published_notice(
        api, policy="cn-foreign", domicile_in_china=False
    )
    published = api.ctx.clock.now()
    assert (await notice_row(api, dispatch_id))["deemed_served_at"] == published + timedelta(
        days=60
    )
    advance(api, timedelta(days=30, minutes=1))
    await sweep(api.ctx)
    await settled(api.ctx)
    assert (await api.dispatch(dispatch_id))["state"] == "notice_pending"
    advance(api, timedelta(days=30))
    await sweep(api.ctx)
    served = await api.until_state(dispatch_id, "served")
    assert served["legal_basis"] == "CPL-283"
    assert served["served_at"] == rfc3339(published + timedelta(days=60))


async def _upload_media(
    api: Api,
    dispatch_id: str,
    content: bytes,
    headers: dict[str, str] | None = None,
    *,
    name: str = "file",
    extra: bool = False,
) -> Any:
    form = FormData()
    form.add_field(name, content, filename="posting.jpg", content_type="application/octet-stream")
    if extra:
        form.add_field(name, content, filename="again.jpg", content_type="image/jpeg")
    return await api.client.post(
        f"/api/v1/dispatches/{dispatch_id}/media",
        data=form,
        headers=api.auth if headers is None else headers,
    )


async def test_a_posting_photo_is_uploaded_as_evidence_and_bad_uploads_store_nothing(
    api: Api,
) -> None:
    """``POST /api/v1/dispatches/{id}/media``: a photo or video of the posting (magic bytes,
    SONGDA_MAX_MEDIA_BYTES), court-scoped; refused uploads leave no row, event or file."""
    created = await notice_dispatch(api)
    dispatch_id = str(created["id"])
    await drafted(api, dispatch_id)
    early = await _upload_media(api, dispatch_id, JPEG)
    assert early.status == 409 and "not approved" in (await early.json())["detail"]
    await filled_in(api, dispatch_id)
    headers = await supervisor(api)
    assert (await approve(api, dispatch_id, headers)).status == 200

    api.ctx.settings = dataclasses.replace(api.ctx.settings, max_media_bytes=4096)
    _key, other_token = await create_api_key(api.ctx.engine, api.ctx.clock, "other", [OTHER_COURT])
    other = {"Authorization": f"Bearer {other_token}"}
    gif = b"GIF89a" + b"\x00" * 50
    big = b"\xff\xd8\xff" + b"\x00" * 5000
    before_events, before_counts = await api.events(dispatch_id), await api.table_counts()
    for response, status in (
        (await _upload_media(api, dispatch_id, gif), 415),
        (await _upload_media(api, dispatch_id, b"%PDF-1.4\n%%EOF\n"), 415),
        (await _upload_media(api, dispatch_id, big), 413),
        (await _upload_media(api, dispatch_id, b""), 422),
        (await _upload_media(api, dispatch_id, JPEG, name="photo"), 422),
        (await _upload_media(api, dispatch_id, JPEG, other), 404),
        (
            await api.client.post(
                f"/api/v1/dispatches/{dispatch_id}/media", data=JPEG, headers=api.auth
            ),
            415,
        ),
    ):
        assert response.status == status, await response.text()
        assert response.content_type == "application/problem+json"
    assert await api.events(dispatch_id) == before_events
    assert await api.table_counts() == before_counts
    for content in (gif, big, JPEG):
        assert not api.ctx.documents.path_for(hashlib.sha256(content).hexdigest()).exists()

    # A clerk's session with its CSRF token; then the case system's key, a video.
    clerk, password = await staff_account(api.ctx, Role.CLERK)
    csrf = await log_in(api.client, clerk.username, password)
    assert (await _upload_media(api, dispatch_id, JPEG, {})).status == 403  # no X-CSRF-Token
    photo = await _upload_media(api, dispatch_id, JPEG, {"X-CSRF-Token": csrf})
    assert photo.status == 201, await photo.text()
    media = await photo.json()
    digest = hashlib.sha256(JPEG).hexdigest()
    assert media == {
        "id": media["id"],
        "sha256": digest,
        "media_type": "image/jpeg",
        "size": len(JPEG),
    }
    video = await _upload_media(api, dispatch_id, MP4)
    assert video.status == 201, await video.text()
    assert (await video.json())["media_type"] == "video/mp4"
    assert api.ctx.documents.path_for(digest).read_bytes() == JPEG

    async with api.ctx.engine.connect() as conn:
        row = (
            (await conn.execute(sa.select(media_files).where(media_files.c.id == media["id"])))
            .mappings()
            .one()
        )
    [attempt] = (await api.dispatch(dispatch_id))["attempts"]
    assert (row["dispatch_id"], row["attempt_id"], row["purpose"]) == (
        dispatch_id,
        attempt["id"],
        "notice_posting",
    )
    assert row["uploaded_by"] == f"staff:{clerk.id}"
    uploads = [e for e in await api.events(dispatch_id) if e.type == "media_uploaded"]
    assert uploads[0].data == {
        "media_id": media["id"],
        "sha256": digest,
        "media_type": "image/jpeg",
        "purpose": "notice_posting",
    }
    assert uploads[0].actor == f"staff:{clerk.id}" and uploads[0].attempt_id == attempt["id"]
    assert len(uploads) == 2
    assert (await api.table_counts())["media_files"] == before_counts["media_files"] + 2


async def test_a_residence_posting_needs_its_photo(api: Api) -> None:
    """CPL-INT-138: place=residence without media_id is 422 and changes nothing; with the
    uploaded photo it is recorded, the publication row names it, the event carries its hash,
    and the deemed date moves. A file of another dispatch is not this posting's evidence."""
    dispatch_id, _headers = await published_notice(api)
    other_id, _ = await published_notice(api, reference="notice-other", name="王五")
    foreign = await _upload_media(api, other_id, JPEG)
    assert foreign.status == 201, await foreign.text()
    advance(api, timedelta(days=3))
    when = rfc3339(api.ctx.clock.now() - timedelta(hours=1))
    before_events, before_counts = await api.events(dispatch_id), await api.table_counts()
    before_notice = await notice_row(api, dispatch_id)
    missing = await act(
        api, dispatch_id, "record_publication", place="residence", published_at=when
    )
    assert missing.status == 422, await missing.text()
    assert "CPL-INT-138" in await missing.text()
    wrong = await act(
        api,
        dispatch_id,
        "record_publication",
        place="residence",
        published_at=when,
        media_id=(await foreign.json())["id"],
    )
    assert wrong.status == 422, await wrong.text()
    assert await api.events(dispatch_id) == before_events
    assert await api.table_counts() == before_counts
    assert await notice_row(api, dispatch_id) == before_notice

    uploaded = await _upload_media(api, dispatch_id, JPEG)
    assert uploaded.status == 201, await uploaded.text()
    media = await uploaded.json()
    posted = await act(
        api,
        dispatch_id,
        "record_publication",
        place="residence",
        published_at=when,
        detail="张贴于住所地并拍照",
        media_id=media["id"],
    )
    assert posted.status == 200, await posted.text()
    dispatch = await posted.json()
    published = dispatch["events"][-1]
    assert published["type"] == "notice_published"
    assert published["data"]["place"] == "residence"
    assert published["data"]["media_id"] == media["id"]
    assert published["data"]["media_sha256"] == media["sha256"] == hashlib.sha256(JPEG).hexdigest()
    async with api.ctx.engine.connect() as conn:
        row = (
            (
                await conn.execute(
                    sa.select(notice_publications).where(
                        notice_publications.c.place == "residence",
                        notice_publications.c.notice_id == before_notice["id"],
                    )
                )
            )
            .mappings()
            .one()
        )
    assert row["media_id"] == media["id"]
    deemed = api.ctx.clock.now() - timedelta(hours=1) + timedelta(days=30)
    assert dispatch["next_action_at"] == rfc3339(deemed)
    assert (await notice_row(api, dispatch_id))["deemed_served_at"] == deemed

    # Other places may name a photo but need not.
    board = await act(
        api, dispatch_id, "record_publication", place="court_notice_board", published_at=when
    )
    assert board.status == 200, await board.text()
