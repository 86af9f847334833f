"""Public notice (公告送达) end to end: the draft from the documents' kinds, the clerk's edit, the
supervisor's approval (API and page), publications, the period on the injected clock, the public
board and its PDF.

The ladder reaches the notice step here by a recipient with no usable address for the earlier
steps (no e-service consent, no postal address), or by the clerk actions ``skip_step`` and
``escalate``; the whole-ladder test (e-mail, post, in person, notice) comes with the in-person
channel.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import io
import re
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from aiohttp import FormData
from conftest import COURT, OTHER_COURT, eventually, settled
from helpers import (
    Api,
    GatedRenderer,
    Receiver,
    dispatch_body,
    form_csrf,
    log_in,
    receiving,
    rendering_with,
    staff_account,
)
from pypdf import PdfReader

from delivery.clock import rfc3339
from delivery.representations import notice_text_sha256
from delivery.services.api_keys import create_api_key
from delivery.services.sweep import sweep
from delivery.staff import Role
from delivery.storage.schema import media_files, notice_publications
from integration.channels.public_notice.support import (
    FILLED,
    NOTE,
    PHONE,
    act,
    advance,
    approve,
    documents_of,
    drafted,
    filled_in,
    notice_dispatch,
    notice_row,
    published_notice,
    reviewed,
    supervisor,
)

pytestmark = [pytest.mark.both_databases, pytest.mark.usefixtures("worker")]

ZONE = ZoneInfo("Asia/Shanghai")
ID_NUMBER = "33010619900101123X"
EMAIL = "zhang.san@example.com"
ADDRESS = "浙江省杭州市西湖区文三路100号"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x01" * 200
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\x03" * 300
TEXT_SHA256_RE = re.compile(r'name="text_sha256" value="([0-9a-f]{64})"')


async def test_the_draft_is_composed_from_the_documents_kinds(api: Api) -> None:
    """CPL-INT-139: complaint (main points, answer period, consequence), summons (time, place,
    consequence), judgment (main content, appeal right, period, court) — zh-CN."""
    created = await notice_dispatch(
        api,
        kinds=[("complaint", "民事起诉状"), ("summons", "传票"), ("judgment", "民事判决书")],
        hearing_at="2027-03-02T09:30:00+08:00",
    )
    dispatch = await api.until_state(created["id"], "notice_pending")
    assert [a["channel"] for a in dispatch["attempts"]] == ["public_notice"]
    notice = await drafted(api, created["id"])
    text = notice["body"]
    assert notice["state"] == "draft" and notice["locale"] == "zh-CN"
    assert notice["title"] == f"{COURT}公告（(2026)浙0106民初1234号）"
    assert text.startswith("张三：") and "第95条" in text and "经过30日，即视为送达" in text
    assert "《民事起诉状》" in text and "15日内向本院提交答辩状" in text
    assert "2027年3月2日09:30" in text and "缺席判决" in text
    assert "《民事判决书》" in text and "15日内" in text and "上诉于【请填写：上诉法院】" in text
    assert "【请填写：原告的诉讼请求及主要事实和理由】" in text
    assert ID_NUMBER not in text and PHONE not in text and EMAIL not in text
    [attempt] = (await api.dispatch(created["id"]))["attempts"]
    assert (attempt["state"], attempt["provider_ref"]) == ("pending", notice["id"])
    assert notice["attempt_id"] == attempt["id"]
    # A second run of the opener (jobs are at least once) changes nothing.
    await sweep(api.ctx)
    await settled(api.ctx)
    assert (await api.event_types(created["id"])).count("notice_drafted") == 1


async def test_an_english_draft_for_a_party_abroad(api: Api) -> None:
    """en templates; without domicile in China: CPL-283, 60 days, appeal against a ruling 30
    days (CPL-286), answer 30 days (CPL-285)."""
    created = await notice_dispatch(
        api,
        kinds=[("ruling", "Civil ruling"), ("complaint", "Complaint"), ("evidence", "Exhibits")],
        policy="cn-foreign",
        locale="en",
        domicile_in_china=False,
    )
    notice = await drafted(api, created["id"])
    text = notice["body"]
    assert notice["locale"] == "en" and text.startswith("To 张三:")
    assert "Article 283" in text and "deemed served 60 days after" in text
    assert '"Civil ruling"' in text and "within 30 days after the notice period ends" in text
    assert "[To fill in: whether this ruling may be appealed" in text
    assert '"Exhibits". Main content: [To fill in: the main content of the document]' in text


async def test_a_clerk_edits_and_a_supervisor_approves_then_30_days_serve(api: Api) -> None:
    """The clerk's edit (old and new SHA-256), the refusals (blanks; a clerk or an API key: 403,
    nothing stored; other_methods_failed with no method tried), the supervisor's approval that
    publishes, and service 30 days after the publication (CPL-95)."""
    async with receiving(Receiver()) as receiver:
        await api.register_webhook(receiver.url, ["dispatch.notice_published", "dispatch.served"])
        created = await notice_dispatch(api)
        dispatch_id = created["id"]
        original = await drafted(api, dispatch_id)

        headers = await supervisor(api)
        blanks = await approve(api, dispatch_id, headers)
        assert blanks.status == 409 and "blanks" in (await blanks.json())["detail"]

        clerk, password = await staff_account(api.ctx, Role.CLERK)
        clerk_headers = {"X-CSRF-Token": await log_in(api.client, clerk.username, password)}
        body = "张三：\n" + FILLED.format("《民事起诉状》") + "\n" + COURT
        edited = await act(api, dispatch_id, "edit_notice", clerk_headers, body=body)
        assert edited.status == 200, await edited.text()
        notice = await notice_row(api, dispatch_id)
        assert notice["body"] == body + "\n" and notice["state"] == "draft"
        [event] = [e for e in await api.events(dispatch_id) if e.type == "notice_edited"]
        assert event.actor == f"staff:{clerk.id}"
        assert event.data["old_sha256"] != event.data["new_sha256"]
        assert event.data["notice_id"] == original["id"]

        before_events, before_counts = await api.events(dispatch_id), await api.table_counts()
        for who in (clerk_headers, api.auth):
            refused = await approve(api, dispatch_id, who)
            assert refused.status == 403
            assert (await refused.json())["type"].endswith("role-required")
        assert await api.events(dispatch_id) == before_events
        assert await api.table_counts() == before_counts
        assert (await notice_row(api, dispatch_id))["state"] == "draft"

        headers = await supervisor(api)
        nothing_tried = await approve(api, dispatch_id, headers, "other_methods_failed")
        assert nothing_tried.status == 409
        assert await api.events(dispatch_id) == before_events
        unnamed = await act(
            api, dispatch_id, "approve_notice", headers, reason="whereabouts_unknown"
        )
        assert unnamed.status == 422 and "text_sha256" in await unnamed.text()
        assert await api.events(dispatch_id) == before_events

        advance(api, timedelta(hours=3))
        published_at = api.ctx.clock.now()
        approved = await approve(api, dispatch_id, headers)
        assert approved.status == 200, await approved.text()
        dispatch = await approved.json()
        deemed = published_at + timedelta(days=30)
        assert dispatch["state"] == "notice_pending"
        assert dispatch["next_action_at"] == rfc3339(deemed)
        [attempt] = dispatch["attempts"]
        assert attempt["state"] == "sent"
        types = [e["type"] for e in dispatch["events"]]
        assert types[-2:] == ["notice_approved", "notice_published"]
        approval = next(e for e in dispatch["events"] if e["type"] == "notice_approved")
        assert approval["data"]["reason"] == "whereabouts_unknown"
        assert approval["data"]["sha256"] == event.data["new_sha256"]
        assert approval["data"]["methods_tried"] == []
        assert approval["actor"].startswith("staff:")
        publication = dispatch["events"][-1]
        assert publication["data"]["place"] == "court_website"
        assert publication["occurred_at"] == rfc3339(published_at)
        notice = await notice_row(api, dispatch_id)
        assert notice["state"] == "published"
        assert notice["first_published_at"] == notice["last_published_at"] == published_at
        assert notice["deemed_served_at"] == deemed
        assert notice["reason"]["reason"] == "whereabouts_unknown"
        await eventually(receiver.has("dispatch.notice_published"))

        advance(api, timedelta(days=30) - timedelta(minutes=1))
        await sweep(api.ctx)
        await settled(api.ctx)
        assert (await api.dispatch(dispatch_id))["state"] == "notice_pending"
        advance(api, timedelta(minutes=1))
        await sweep(api.ctx)
        served = await api.until_state(dispatch_id, "served")
        assert (served["legal_basis"], served["served_by_channel"]) == ("CPL-95", "public_notice")
        assert served["served_at"] == rfc3339(deemed)
        assert served["service_date"] == deemed.astimezone(ZONE).date().isoformat()
        # A deemed service is not rebutted by a clerk (OLR-31's grounds are e-service ones).
        assert served["allowed_actions"] == ["reassign_owner"]
        rebutted = await act(api, dispatch_id, "record_rebuttal", reason="system_error")
        assert rebutted.status == 409
        await eventually(receiver.has("dispatch.served"))


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


async def test_a_simplified_case_reaches_notice_once_it_converts(api: Api) -> None:
    """CPL-INT-140: simplified procedure fails requires_ordinary_procedure; change_policy to
    cn-civil when the case converts, and the ladder goes on to public notice."""
    created = await notice_dispatch(api, policy="cn-simplified")
    failed = await api.until_state(created["id"], "failed")
    assert failed["state_reason"] == "requires_ordinary_procedure"
    assert failed["allowed_actions"] == ["change_policy", "reassign_owner"]
    response = await act(api, created["id"], "change_policy", policy="cn-civil")
    assert response.status == 200, await response.text()
    assert (await response.json())["state"] == "notice_pending"
    notice = await drafted(api, created["id"])
    assert notice["state"] == "draft"
    dispatch = await api.dispatch(created["id"])
    assert {"edit_notice", "approve_notice", "record_publication"} <= set(
        dispatch["allowed_actions"]
    )


async def _after_other_methods(api: Api) -> str:
    """A recipient with a postal address the post could not use: the clerk skips in person and
    escalates, so the notice follows one expired postal attempt."""
    ids = await documents_of(api, [("complaint", "民事起诉状")])
    body = dispatch_body(ids, reference="notice-post", consent=False)
    body["recipient"]["phones"] = [{"number": PHONE, "source": "court_found"}]
    body["recipient"]["postal_addresses"] = [
        {"lines": ADDRESS, "postcode": "310012", "source": "court_found"}
    ]
    created = await api.create(body)
    assert [a["channel"] for a in created["attempts"]] == ["postal"]
    assert (await act(api, created["id"], "skip_step", step=2)).status == 200
    assert (await act(api, created["id"], "escalate")).status == 200
    await api.until_state(created["id"], "notice_pending")
    await drafted(api, created["id"])
    return str(created["id"])


async def test_approval_through_the_pages_lists_the_methods_tried(api: Api) -> None:
    """The staff page: the clerk edits the draft with the form and sees no approve button (a
    POST anyway is 403, nothing stored); the supervisor sees the methods tried and approves."""
    dispatch_id = await _after_other_methods(api)
    notice = await notice_row(api, dispatch_id)
    page_path = f"/staff/notices/{notice['id']}"

    clerk, password = await staff_account(api.ctx, Role.CLERK)
    await log_in(api.client, clerk.username, password)
    page = await api.client.get(page_path)
    html = await page.text()
    assert page.status == 200 and "【请填写" in html
    assert "/approve" not in html and ADDRESS not in html
    assert "postal" in html and "escalated_by_clerk" in html
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


async def test_the_public_board_search_pdf_and_no_personal_data(api: Api) -> None:
    """/notices without login: published notices only, searchable by court, case number and
    name; the page and the PDF show the text, court and case — no ID, phone, e-mail, address."""
    dispatch_id = await _after_other_methods(api)
    await filled_in(api, dispatch_id)
    draft = await notice_dispatch(
        api, reference="notice-draft", name="王五", case_number="(2026)浙0106民初9999号"
    )
    await drafted(api, draft["id"])
    headers = await supervisor(api)
    response = await approve(api, dispatch_id, headers, "other_methods_failed")
    assert response.status == 200, await response.text()
    api.client.session.cookie_jar.clear()
    notice = await notice_row(api, dispatch_id)

    board = await api.client.get("/notices")
    html = await board.text()
    assert board.status == 200 and f"/notices/{notice['id']}" in html
    assert "王五" not in html and "9999" not in html  # a draft is not public
    for query, found in (
        ({"case_number": "民初1234"}, True),
        ({"case_number": "民初5678"}, False),
        ({"name": "张三"}, True),
        ({"name": "李四"}, False),
        ({"court": "西湖区"}, True),
        ({"court": "海曙区"}, False),
    ):
        page = await api.client.get("/notices", params=query)
        assert (f"/notices/{notice['id']}" in await page.text()) is found, query
    english = await api.client.get("/notices", params={"lang": "en"})
    assert "Public notices" in await english.text()

    page = await api.client.get(f"/notices/{notice['id']}")
    html = await page.text()
    assert page.status == 200
    assert COURT in html and "(2026)浙0106民初1234号" in html and "原告请求判令" in html
    deemed = (notice["last_published_at"] + timedelta(days=30)).astimezone(ZONE).date()
    assert deemed.isoformat() in html and "法院网站公告栏" in html
    for secret in (ID_NUMBER, "123X", PHONE, "8613800138000", EMAIL, ADDRESS, "文三路"):
        assert secret not in html and secret not in await board.text(), secret

    draft_notice = await notice_row(api, draft["id"])
    assert (await api.client.get(f"/notices/{draft_notice['id']}")).status == 404
    assert (await api.client.get(f"/notices/{draft_notice['id']}.pdf")).status == 404

    pdf = await api.client.get(f"/notices/{notice['id']}.pdf")
    assert pdf.status == 200 and pdf.content_type == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(await pdf.read())).pages)
    compact = "".join(text.split())
    assert COURT in compact and "(2026)浙0106民初1234号" in compact
    assert ID_NUMBER not in compact and "文三路" not in compact


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


async def test_a_notice_whose_dispatch_is_cancelled_shows_as_withdrawn(api: Api) -> None:
    """A published notice of a dispatch cancelled meanwhile no longer runs: the board, the page
    and the PDF say so instead of a deemed date."""
    dispatch_id, headers = await published_notice(api)
    notice = await notice_row(api, dispatch_id)
    page = await api.client.get(f"/notices/{notice['id']}")
    assert "视为送达" in await page.text() and "已撤回" not in await page.text()

    cancelled = await api.client.post(
        f"/api/v1/dispatches/{dispatch_id}/cancel", headers=headers, json={"reason": "撤诉"}
    )
    assert cancelled.status == 200, await cancelled.text()
    board = await (await api.client.get("/notices")).text()
    assert f"/notices/{notice['id']}" in board and "已撤回" in board
    html = await (await api.client.get(f"/notices/{notice['id']}")).text()
    assert "已撤回" in html and "视为送达" not in html
    pdf = await api.client.get(f"/notices/{notice['id']}.pdf")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(await pdf.read())).pages)
    assert "已撤回" in "".join(text.split())


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


async def test_an_approval_of_a_stale_text_is_refused(api: Api) -> None:
    """The supervisor read the text; a clerk edits it before the approval arrives: 409 and
    nothing changes (API and page). Approving the text now shown works."""
    created = await notice_dispatch(api)
    dispatch_id = str(created["id"])
    notice = await drafted(api, dispatch_id)
    await filled_in(api, dispatch_id)
    headers = await supervisor(api)
    read = await reviewed(api, dispatch_id, headers)
    page_path = f"/staff/notices/{notice['id']}"
    html = await (await api.client.get(page_path)).text()
    shown = TEXT_SHA256_RE.search(html)
    assert shown is not None and shown.group(1) == read

    edited_body = "张三：\n" + FILLED.format("《起诉状》（已改）") + "\n" + COURT
    assert (await act(api, dispatch_id, "edit_notice", body=edited_body)).status == 200
    before_events, before_counts = await api.events(dispatch_id), await api.table_counts()
    before_notice = await notice_row(api, dispatch_id)

    stale = await act(
        api, dispatch_id, "approve_notice", headers, reason="whereabouts_unknown", text_sha256=read
    )
    assert stale.status == 409, await stale.text()
    assert "changed" in (await stale.json())["detail"]
    page = await api.client.post(
        f"{page_path}/approve",
        data={
            "csrf_token": form_csrf(html),
            "reason": "whereabouts_unknown",
            "note": NOTE,
            "text_sha256": read,
        },
        allow_redirects=False,
    )
    assert page.status == 409
    again = await page.text()
    assert "《起诉状》（已改）" in again  # the page now shows the edited text
    assert await api.events(dispatch_id) == before_events
    assert await api.table_counts() == before_counts
    assert await notice_row(api, dispatch_id) == before_notice
    for bad in ("", "not-a-hash", read[:-1]):
        malformed = await act(
            api,
            dispatch_id,
            "approve_notice",
            headers,
            reason="whereabouts_unknown",
            text_sha256=bad,
        )
        assert malformed.status == 422, bad

    current = TEXT_SHA256_RE.search(again)
    assert current is not None and current.group(1) != read
    approved = await api.client.post(
        f"{page_path}/approve",
        data={
            "csrf_token": form_csrf(again),
            "reason": "whereabouts_unknown",
            "note": NOTE,
            "text_sha256": current.group(1),
        },
        allow_redirects=False,
    )
    assert approved.status == 303, await approved.text()
    [approval] = [e for e in await api.events(dispatch_id) if e.type == "notice_approved"]
    assert approval.data["sha256"] == current.group(1)
    title = (await notice_row(api, dispatch_id))["title"]
    assert approval.data["sha256"] == notice_text_sha256(title, edited_body + "\n")
    dispatch = await api.dispatch(dispatch_id)
    assert dispatch["notice"]["state"] == "published"
    assert dispatch["notice"]["body"] == edited_body + "\n"


async def test_no_approval_while_another_method_is_under_way(api: Api) -> None:
    """CPL-95's last resort: consent recorded during the notice step re-opens e-service on the
    known (court-found) address and number; until that ends, the notice cannot be approved."""
    body = dispatch_body(await documents_of(api, [("complaint", "民事起诉状")]), consent=False)
    body["recipient"]["emails"][0]["source"] = "court_found"
    body["recipient"]["phones"] = [{"number": PHONE, "source": "court_found"}]
    dispatch_id = (await api.create(body))["id"]
    await drafted(api, dispatch_id)
    await filled_in(api, dispatch_id)
    consented = await act(api, dispatch_id, "record_consent", basis="express")
    assert consented.status == 200, await consented.text()
    headers = await supervisor(api)
    before = await api.event_types(dispatch_id)
    refused = await approve(api, dispatch_id, headers)
    assert refused.status == 409
    assert "still under way (email, sms)" in (await refused.json())["detail"]
    assert await api.event_types(dispatch_id) == before
    assert (await notice_row(api, dispatch_id))["state"] == "draft"

    # E-service runs for its step's window (3 days), then only the notice is left.
    advance(api, timedelta(days=3))
    await sweep(api.ctx)
    await api.until(
        dispatch_id,
        lambda d: all(
            a["state"] == "expired" for a in d["attempts"] if a["channel"] != "public_notice"
        ),
    )
    await settled(api.ctx)
    approved = await approve(api, dispatch_id, await supervisor(api))  # a new day, a new session
    assert approved.status == 200, await approved.text()


async def test_a_title_changed_after_review_is_not_approved_unseen(api: Api) -> None:
    """The title is published too: the approval covers title and body together."""
    created = await notice_dispatch(api)
    dispatch_id = created["id"]
    await drafted(api, dispatch_id)
    notice = await filled_in(api, dispatch_id)
    headers = await supervisor(api)
    read = await reviewed(api, dispatch_id, headers)
    retitled = await act(
        api, dispatch_id, "edit_notice", body=notice["body"], title="公告（已更正）"
    )
    assert retitled.status == 200, await retitled.text()
    stale = await act(
        api, dispatch_id, "approve_notice", headers, reason="whereabouts_unknown", text_sha256=read
    )
    assert stale.status == 409
    assert (await notice_row(api, dispatch_id))["state"] == "draft"
    assert (await approve(api, dispatch_id, headers)).status == 200


PUBLIC_RENDER = "html_to_pdf"  # the notice PDF's render function in the pool


async def test_the_notice_pdf_is_rendered_once_per_content_and_served_with_an_etag(
    api: Api,
) -> None:
    dispatch_id, headers = await published_notice(api)
    notice = await notice_row(api, dispatch_id)
    path = f"/notices/{notice['id']}.pdf"
    with rendering_with(GatedRenderer()) as renderer:
        crowd = await asyncio.gather(*(api.client.get(path) for _ in range(8)))
        assert [r.status for r in crowd] == [200] * 8
        assert len({await r.read() for r in crowd}) == 1
        [etag] = {r.headers["ETag"] for r in crowd}
        assert renderer.submitted[PUBLIC_RENDER] == 1

        again = await api.client.get(path, headers={"If-None-Match": etag})
        assert again.status == 304 and again.headers["ETag"] == etag
        assert (await api.client.get(path)).status == 200
        assert renderer.submitted[PUBLIC_RENDER] == 1  # read back from the store

        cancelled = await api.client.post(
            f"/api/v1/dispatches/{dispatch_id}/cancel", headers=headers, json={"reason": "撤诉"}
        )
        assert cancelled.status == 200, await cancelled.text()
        changed = await api.client.get(path, headers={"If-None-Match": etag})
        assert changed.status == 200 and changed.headers["ETag"] != etag
        text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(await changed.read())).pages)
        assert "已撤回" in "".join(text.split())
        assert renderer.submitted[PUBLIC_RENDER] == 2


async def test_public_renders_leave_a_renderer_to_staff(api: Api) -> None:
    """Anonymous clients asking for notice PDFs of different content (here: each language)
    hold at most one renderer; a clerk's proof preview renders meanwhile."""
    dispatch_id, _headers = await published_notice(api)
    notice = await notice_row(api, dispatch_id)
    unserved = await api.new_dispatch(reference="proof-wanted", email="nobody@example.com")
    with rendering_with(GatedRenderer(PUBLIC_RENDER)) as renderer:
        public = [
            asyncio.create_task(api.client.get(f"/notices/{notice['id']}.pdf?lang={lang}"))
            for lang in ("zh-CN", "en")
            for _ in range(4)
        ]

        async def public_render_started() -> bool:
            return renderer.running[PUBLIC_RENDER] >= 1

        await eventually(public_render_started)
        proof = await asyncio.wait_for(
            api.client.get(f"/api/v1/dispatches/{unserved['id']}/proof.pdf", headers=api.auth),
            20,
        )
        assert proof.status == 200, await proof.text()
        assert renderer.running[PUBLIC_RENDER] == 1 == renderer.submitted[PUBLIC_RENDER]
        renderer.open()
        assert [r.status for r in await asyncio.gather(*public)] == [200] * 8
        assert renderer.submitted[PUBLIC_RENDER] == 2  # once per language
