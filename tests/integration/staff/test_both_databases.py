"""Every page of the clerk workspace on both databases: SQLite is the embedded default (`songda
run`), so the queue with each filter, a dispatch page with its action, the batch pages, the print
run and the report page must answer there exactly as on PostgreSQL (the other test files cover
their behaviour on PostgreSQL only)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from conftest import eventually
from helpers import form_csrf
from standins import Post

from delivery.staff import Role
from integration.staff.support import csv_file, row, uploaded

pytestmark = [pytest.mark.both_databases, pytest.mark.usefixtures("worker")]

DAY = "2026-11-23"  # the test clock's day in Asia/Shanghai
ROW_RE = re.compile(r'data-dispatch="([0-9A-Z]{26})"')


async def _ok(clerk: Any, path: str, **params: str) -> str:
    response = await clerk.client.get(path, params=params)
    text = await response.text()
    assert response.status == 200, text
    return text


async def test_every_workspace_page_answers(post: Post, browser: Any) -> None:
    api = post.api
    postal = await post.dispatch(reference="both-post")
    tracking = await post.posted(postal)
    [attempt] = (await api.dispatch(postal))["attempts"]
    clerk = await browser(Role.CLERK)

    batch_id = await uploaded(
        clerk, csv_file([row("both-1", email_source="court_found"), row("both-2", email="bad")])
    )
    batch = await _ok(clerk, f"/staff/batches/{batch_id}")
    assert "both-2" in batch and "应为电子邮箱地址" in batch
    assert batch_id in await _ok(clerk, "/staff/batches")

    async def sent() -> bool:
        progress = await clerk.client.get(f"/staff/batches/{batch_id}/progress")
        return bool((await progress.json())["sent"] == 1)

    await eventually(sent)

    queue = await _ok(clerk, "/staff/queue", view="all")
    assert len(ROW_RE.findall(queue)) == 2
    narrowed = {
        "channel": "postal",
        "state": "in_progress",
        "owner": "",
        "recipient": "张",
        "created_from": DAY,
        "created_to": DAY,
    }
    assert ROW_RE.findall(await _ok(clerk, "/staff/queue", **narrowed)) == [postal]
    assert ROW_RE.findall(await _ok(clerk, "/staff/queue", served_from=DAY, served_to=DAY)) == []
    first = await _ok(clerk, "/staff/queue", view="all", limit="1")
    assert re.search(r'href="([^"]+)" rel="next"', first)

    run = await _ok(clerk, "/staff/print-run")
    assert tracking in run
    handed = await clerk.client.post(
        "/staff/print-run/handed-over",
        data={"csrf_token": form_csrf(run), "date": DAY, "attempt_id": attempt["id"]},
        allow_redirects=False,
    )
    assert handed.status == 303, await handed.text()

    page = await _ok(clerk, f"/staff/dispatches/{postal}")
    assert tracking in page
    assert "<td>邮件已交寄</td>" in page  # the hand-over, named in the timeline
    done = await clerk.client.post(
        f"/staff/dispatches/{postal}/actions",
        data={"csrf_token": form_csrf(page), "action": "escalate", "note": "电话无人接听"},
        allow_redirects=False,
    )
    assert done.status == 303, await done.text()
    assert "clerk_escalated" in await api.event_types(postal)

    reports = await _ok(clerk, "/staff/reports", **{"from": "2026-01-01", "to": DAY})
    assert "<svg" in reports
    for group_by in ("clerk", "week", "month", "court"):
        await _ok(clerk, "/staff/reports", group_by=group_by)
