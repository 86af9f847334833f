"""Public notice on the staff pages: the clerk's edit and the supervisor's approval with the
forms, a further publication with its photo, and who may see a notice's page."""

from __future__ import annotations

import hashlib

import pytest
from aiohttp import FormData
from api_client import Api
from conftest import COURT
from helpers import form_csrf, log_in, staff_account

from delivery.representations import notice_text_sha256
from delivery.staff import Role
from integration.channels.public_notice.support import (
    ADDRESS,
    FILLED,
    JPEG,
    NOTE,
    TEXT_SHA256_RE,
    ZONE,
    after_other_methods,
    drafted,
    notice_dispatch,
    notice_row,
    supervisor,
)

pytestmark = [pytest.mark.both_databases, pytest.mark.usefixtures("worker")]


async def test_approval_through_the_pages_lists_the_methods_tried(api: Api) -> None:
    """The staff page: the clerk edits the draft with the form and sees no approve button (a
    POST anyway is 403, nothing stored); the supervisor sees the methods tried and approves."""
    dispatch_id = await after_other_methods(api)
    notice = await notice_row(api, dispatch_id)
    page_path = f"/staff/notices/{notice['id']}"

    clerk, password = await staff_account(api.ctx, Role.CLERK)
    await log_in(api.client, clerk.username, password)
    page = await api.client.get(page_path)
    html = await page.text()
    assert page.status == 200 and "【请填写" in html
    assert "/approve" not in html and ADDRESS not in html
    # the methods tried read as labels, never as codes (法院专递, 书记员已升级)
    assert "法院专递" in html and "书记员已升级" in html and "escalated_by_clerk" not in html
    token = form_csrf(html)
    body = "张三：\n" + FILLED.format("《民事起诉状》") + "\n" + COURT
    saved = await api.client.post(
        f"{page_path}/edit",
        data={"csrf_token": token, "title": notice["title"], "body": body, "note": NOTE},
        allow_redirects=False,
    )
    assert saved.status == 303, await saved.text()
    assert (await notice_row(api, dispatch_id))["body"] == body + "\n"

    before_events, before_counts = await api.events(dispatch_id), await api.table_counts()
    refused = await api.client.post(
        f"{page_path}/approve",
        data={"csrf_token": token, "reason": "whereabouts_unknown", "note": NOTE},
        allow_redirects=False,
    )
    assert refused.status == 403
    assert await api.events(dispatch_id) == before_events
    assert await api.table_counts() == before_counts

    await supervisor(api)
    page = await api.client.get(page_path)
    html = await page.text()
    assert f'action="{page_path}/approve"' in html
    token = form_csrf(html)
    shown = TEXT_SHA256_RE.search(html)
    assert shown is not None
    text_sha256 = shown.group(1)
    shown_notice = await notice_row(api, dispatch_id)
    assert text_sha256 == notice_text_sha256(shown_notice["title"], body + "\n")
    no_csrf = await api.client.post(
        f"{page_path}/approve",
        data={"reason": "other_methods_failed", "note": NOTE, "text_sha256": text_sha256},
    )
    assert no_csrf.status == 403
    approved = await api.client.post(
        f"{page_path}/approve",
        data={
            "csrf_token": token,
            "reason": "other_methods_failed",
            "note": NOTE,
            "text_sha256": text_sha256,
        },
        allow_redirects=False,
    )
    assert approved.status == 303, await approved.text()
    notice = await notice_row(api, dispatch_id)
    assert notice["state"] == "published"
    [method] = notice["reason"]["methods_tried"]
    assert notice["reason"]["reason"] == "other_methods_failed"
    assert (method["channel"], method["state"], method["reason"]) == (
        "postal",
        "expired",
        "escalated_by_clerk",
    )
    assert ADDRESS not in str(method) and method["address"].endswith("100号")

    # A further publication through the page's form (court time, no offset), multipart as the
    # browser sends it: a posting at the residence needs its photo (CPL-INT-138).
    page = await api.client.get(page_path)
    html = await page.text()
    assert 'enctype="multipart/form-data"' in html and 'type="file" name="media"' in html
    when = api.ctx.clock.now().astimezone(ZONE).strftime("%Y-%m-%dT%H:%M")

    def publication_form(photo: bytes | None) -> FormData:
        form = FormData()
        form.add_field("csrf_token", form_csrf(html))
        for name, value in (
            ("place", "residence"),
            ("published_at", when),
            ("detail", "张贴于住所地并拍照"),
            ("note", NOTE),
        ):
            form.add_field(name, value)
        if photo is None:  # the browser sends an empty file input
            form.add_field("media", b"", filename="", content_type="application/octet-stream")
        else:
            form.add_field("media", photo, filename="IMG_0001.jpg", content_type="image/jpeg")
        return form

    before_events, before_counts = await api.events(dispatch_id), await api.table_counts()
    for photo, status in ((None, 422), (b"GIF89a" + b"\x00" * 50, 415)):
        refused = await api.client.post(
            f"{page_path}/publications", data=publication_form(photo), allow_redirects=False
        )
        assert refused.status == status, await refused.text()
    assert (
        "CPL-INT-138"
        in await (
            await api.client.post(f"{page_path}/publications", data=publication_form(None))
        ).text()
    )
    assert await api.events(dispatch_id) == before_events
    assert await api.table_counts() == before_counts

    posted = await api.client.post(
        f"{page_path}/publications", data=publication_form(JPEG), allow_redirects=False
    )
    assert posted.status == 303, await posted.text()
    events = await api.events(dispatch_id)
    assert [e.type for e in events].count("notice_published") == 2
    uploaded, published = events[-2:]
    digest = hashlib.sha256(JPEG).hexdigest()
    assert uploaded.type == "media_uploaded" and published.type == "notice_published"
    assert uploaded.data["sha256"] == digest and uploaded.data["purpose"] == "notice_posting"
    assert published.data["media_id"] == uploaded.data["media_id"]
    assert published.data["media_sha256"] == digest
    assert api.ctx.documents.path_for(digest).read_bytes() == JPEG
    page = await api.client.get(page_path)
    assert f"SHA-256 {digest[:12]}" in await page.text()


async def test_staff_pages_need_a_login_and_the_court(api: Api) -> None:
    created = await notice_dispatch(api)
    notice = await drafted(api, created["id"])
    anonymous = await api.client.get(f"/staff/notices/{notice['id']}", allow_redirects=False)
    assert anonymous.status == 302
    other, password = await staff_account(
        api.ctx, Role.SUPERVISOR, courts=("宁波市海曙区人民法院",)
    )
    await log_in(api.client, other.username, password)
    assert (await api.client.get(f"/staff/notices/{notice['id']}")).status == 404
    assert notice["id"] not in await (await api.client.get("/staff/notices")).text()
    await supervisor(api)
    listed = await (await api.client.get("/staff/notices")).text()
    assert f"/staff/notices/{notice['id']}" in listed
