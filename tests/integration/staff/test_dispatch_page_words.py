"""The dispatch page speaks the page's language (issue 14): no raw code in what a person reads —
roles, document kinds, reasons, step names, who acted — the public notice attempt names where it is
published instead of a masked placeholder, and each action is a button that opens its form."""

from __future__ import annotations

import html as htmllib
import re
from typing import Any

import pytest
from standins import Post

from delivery.staff import Role
from integration.staff.support import NOTE

pytestmark = pytest.mark.usefixtures("worker")

SNAKE = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")
RAW = ("defendant", "complaint", "round_robin", "returned: moved", "tice", "clerk", "supervisor")


def visible(page: str) -> str:
    """The text a person reads: no style, no tags, no attribute values."""
    page = re.sub(r"<style>.*?</style>", " ", page, flags=re.S)
    return htmllib.unescape(re.sub(r"<[^>]+>", " ", page))


async def _act(client: Any, dispatch_id: str, action: str, **fields: str) -> None:
    page = await (await client.get(f"/staff/dispatches/{dispatch_id}")).text()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf
    response = await client.post(
        f"/staff/dispatches/{dispatch_id}/actions",
        data={"csrf_token": csrf.group(1), "action": action, "note": NOTE, **fields},
        allow_redirects=False,
    )
    assert response.status == 303, await response.text()


async def test_every_value_on_the_page_is_a_label(post: Post, browser: Any) -> None:
    clerk = await browser(Role.CLERK, name="王书记员")  # the only clerk: given it in turn
    supervisor = await browser(Role.SUPERVISOR, name="赵法官")
    # No consent: the electronic step is skipped with its reason; the post goes at once.
    dispatch_id = await post.dispatch(source="court_found")
    tracking = await post.posted(dispatch_id)
    assert await post.fake.report(tracking, "returned", reason="moved") == 200
    # PM-11 needs a recipient-confirmed address: the ladder moves on to in person by itself.
    await post.api.until(
        dispatch_id, lambda d: any(a["channel"] == "in_person" for a in d["attempts"])
    )
    # A supervisor escalates: public notice, awaiting approval (no publication yet).
    await _act(supervisor.client, dispatch_id, "escalate")
    await post.api.until(dispatch_id, lambda d: d["state"] == "notice_pending")

    page = await (await clerk.client.get(f"/staff/dispatches/{dispatch_id}")).text()
    text = visible(page)
    assert SNAKE.findall(text) == []
    for raw in RAW:
        assert raw not in text, raw
    for word in ("被告", "起诉状", "轮流分配", "未同意电子送达", "退回：已迁离", "公告尚未发布"):
        assert word in text, word
    # The supervisor's escalation is not called a clerk's: the role is theirs, the event neutral.
    [escalated] = re.findall(r'<tr data-event="clerk_escalated">(.*?)</tr>', page, flags=re.S)
    assert "赵法官" in escalated and "审批负责人" in escalated and "书记员" not in escalated
    # Each action is a closed <details> whose summary is the button; the form is inside it.
    assert re.search(r'<details class="legal" data-opens="escalate">\s*<summary>', page)
    assert "<details" in page.split('data-action="cancel"')[0]

    english = visible(
        await (await clerk.client.get(f"/staff/dispatches/{dispatch_id}?lang=en")).text()
    )
    assert SNAKE.findall(english) == []
    for word in (
        "defendant",
        "complaint",
        "assigned in turn",
        "returned: moved",
        "escalated by hand",
    ):
        assert word in english, word
    assert "no consent to electronic service" in english


async def test_a_refused_action_comes_back_open_with_its_note(post: Post, browser: Any) -> None:
    clerk = await browser(Role.CLERK)
    dispatch_id = await post.dispatch()
    page = await (await clerk.client.get(f"/staff/dispatches/{dispatch_id}")).text()
    assert " open>" not in page  # every form closed until its button is pressed
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf
    refused = await clerk.client.post(
        f"/staff/dispatches/{dispatch_id}/actions",
        data={
            "csrf_token": csrf.group(1),
            "action": "retry_channel",
            "channel": "fax",
            "note": NOTE,
        },
    )
    assert refused.status == 422
    again = await refused.text()
    assert '<details class="" data-opens="retry_channel" open>' in again
    assert again.count(" open>") == 1
