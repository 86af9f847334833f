"""The public notice board without login: search, the page and its PDF with no personal data, a
withdrawn notice, and the PDF rendered once per content without starving the staff's renders."""

from __future__ import annotations

import asyncio
import io
from datetime import timedelta

import pytest
from api_client import Api
from conftest import COURT, eventually
from pdf_checks import GatedRenderer, rendering_with
from pypdf import PdfReader

from integration.channels.public_notice.support import (
    ADDRESS,
    EMAIL,
    ID_NUMBER,
    PHONE,
    ZONE,
    after_other_methods,
    approve,
    drafted,
    filled_in,
    notice_dispatch,
    notice_row,
    published_notice,
    supervisor,
)

pytestmark = [pytest.mark.both_databases, pytest.mark.usefixtures("worker")]


async def test_the_public_board_search_pdf_and_no_personal_data(api: Api) -> None:
    """/notices without login: published notices only, searchable by court, case number and
    name; the page and the PDF show the text, court and case — no ID, phone, e-mail, address."""
    dispatch_id = await after_other_methods(api)
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
