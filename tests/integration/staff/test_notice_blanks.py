"""The approval page shows what remains to be filled in: each blank of the draft highlighted with
a text alternative, and no approve form while one remains; once the blanks are filled in, the
approve form is offered and approving publishes the notice."""

from __future__ import annotations

import re
from typing import Any

import pytest
from api_client import Api
from conftest import COURT
from helpers import form_csrf

from delivery.representations import notice_text_sha256
from integration.channels.public_notice.support import (
    FILLED,
    NOTE,
    TEXT_SHA256_RE,
    drafted,
    notice_dispatch,
    notice_row,
    supervisor,
)
from templates.notices import blank_segments

pytestmark = [pytest.mark.usefixtures("worker")]

MARK = re.compile(r'<mark class="blank"><span class="visually-hidden">([^<]*)</span>([^<]*)</mark>')


async def approve(api: Api, path: str, csrf: str, text_sha256: str) -> Any:
    """The approve form as the browser sends it, for the text whose SHA-256 is given."""
    form = {"csrf_token": csrf, "reason": "whereabouts_unknown", "note": NOTE}
    return await api.client.post(
        f"{path}/approve", data={**form, "text_sha256": text_sha256}, allow_redirects=False
    )


async def test_blanks_are_highlighted_and_approval_waits_until_none_remains(api: Api) -> None:
    dispatch_id = str((await notice_dispatch(api))["id"])
    notice = await drafted(api, dispatch_id)
    blanks = [
        text
        for field in ("title", "body")
        for text, blank in blank_segments(notice[field])
        if blank
    ]
    assert blanks, "the drafted notice has blanks to fill in"
    await supervisor(api)
    path = f"/staff/notices/{notice['id']}"

    page = await api.client.get(path)
    html = await page.text()
    assert page.status == 200
    marked = MARK.findall(html)
    assert [text for _alt, text in marked] == blanks
    assert {alt for alt, _text in marked} == {"待填写： "}
    assert f"仍有 {len(blanks)} 处待填写" in html
    assert f'action="{path}/approve"' not in html and "暂不能批准" in html
    english = await (await api.client.get(f"{path}?lang=en")).text()
    assert "Blank to fill in: " in english and f'action="{path}/approve"' not in english
    # The English page's forms post in English, so their answer (and its redirect) stays English.
    assert f'action="{path}/edit?lang=en"' in english

    # approving anyway (a form from elsewhere) is refused by the same rule; nothing is published
    token = form_csrf(html)
    sha = re.search(r"SHA-256 ([0-9a-f]{12})", html)
    assert sha is None  # the page offers no text to approve
    refused = await approve(api, path, token, notice_text_sha256(notice["title"], notice["body"]))
    assert refused.status == 409
    assert "blanks" in await refused.text() and MARK.search(await refused.text())
    assert (await notice_row(api, dispatch_id))["state"] == "draft"

    body = notice["body"].split("\n")[0] + "\n" + FILLED.format("《民事起诉状》") + "\n" + COURT
    edit = {"csrf_token": token, "title": notice["title"], "body": body}
    unnoted = await api.client.post(f"{path}/edit", data={**edit, "note": " "})
    assert unnoted.status == 422 and "请填写备注" in await unnoted.text()
    saved = await api.client.post(
        f"{path}/edit",
        data={**edit, "note": NOTE},
        allow_redirects=False,
    )
    assert saved.status == 303, await saved.text()
    html = await (await api.client.get(path)).text()
    assert MARK.search(html) is None and "处待填写" not in html
    assert f'action="{path}/approve"' in html
    shown = TEXT_SHA256_RE.search(html)
    assert shown is not None
    approved = await approve(api, path, token, shown.group(1))
    assert approved.status == 303, await approved.text()
    assert (await notice_row(api, dispatch_id))["state"] == "published"
