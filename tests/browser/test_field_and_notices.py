"""Browser scenarios on the pages every staff member already has: a field server records an
outcome on a phone; a supervisor approves a public notice, which then shows on the public board.

The dispatches are brought to the right step as the other tests do (the case system's API and the
worker on the manual clock); everything a person does is done in Chromium, and its effect is
checked where it is stored.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from api_client import Api, visit_task
from helpers import staff_account
from integration.channels.in_person.support import in_person_dispatch
from integration.channels.public_notice.support import (
    drafted,
    filled_in,
    notice_dispatch,
    notice_row,
)

from delivery.staff import Role
from delivery.storage.schema import media_files

from .conftest import COURT_PLACE, ScreenFactory

pytestmark = pytest.mark.usefixtures("worker")
# A signature's stroke, in fractions of the pad's width and height.
SIGNATURE = [(0.1 + 0.1 * i, 0.5 + 0.3 * (-1) ** i) for i in range(9)]


async def test_a_field_server_records_an_outcome_on_a_phone(
    api: Api, screens: ScreenFactory
) -> None:
    """Log in from the task list's redirect, open the task, choose "served" to the recipient,
    sign on the canvas with a finger, let the page take the location, submit: the dispatch is
    served in person (CPL-88) with the signature and location stored with the visit."""
    server, password = await staff_account(api.ctx, Role.FIELD_SERVER, display_name="李送达")
    dispatch_id = await in_person_dispatch(api)
    task_id = await visit_task(api, dispatch_id)

    phone = await screens(phone=True)
    await phone.goto("/field", "login")
    assert phone.path == "/login?next=/field"
    await phone.log_in(server.username, password)
    assert phone.path == "/field"
    task_link = phone.page.locator(f"a[href='/field/tasks/{task_id}']")
    await task_link.click()
    await phone.page.wait_for_url(f"**/field/tasks/{task_id}")
    await phone.shot("task")

    page = phone.page
    await page.locator("label", has=page.locator("#o-served")).tap()
    assert await page.locator("select[name=relation]").is_visible()  # the served fieldset opens
    await page.select_option("select[name=relation]", "self")
    await phone.draw(page.locator("#signature-pad"), SIGNATURE)
    await page.locator("#located").wait_for(state="visible")  # the location was taken
    await phone.shot("outcome-filled")
    await phone.submit(page.locator("#visit button[type=submit]"), "recorded")
    assert phone.path == f"/field?done={task_id}"
    assert await page.get_by_role("status").inner_text() == "已登记上门结果。"
    assert await task_link.count() == 0  # the task is done: no longer listed

    served = await api.until_state(dispatch_id, "served")
    assert (served["served_by_channel"], served["legal_basis"]) == ("in_person", "CPL-88")
    event = next(e for e in served["events"] if e["type"] == "visit_served")
    assert event["actor"] == server.actor
    assert (event["data"]["relation"], event["data"]["receiver_name"]) == ("self", "张三")
    location = event["data"]["geolocation"]
    assert (location["lat"], location["lon"]) == (COURT_PLACE["latitude"], COURT_PLACE["longitude"])
    async with api.ctx.engine.connect() as conn:
        [signature] = (await conn.execute(sa.select(media_files))).mappings().all()
    assert (signature["purpose"], signature["media_type"]) == ("signature", "image/png")
    assert event["data"]["signature"] == {
        "media_id": signature["id"],
        "sha256": signature["sha256"],
    }
    assert signature["size"] > 1000  # strokes were drawn: not an empty canvas


async def test_a_supervisor_approves_a_notice_and_it_is_public(
    api: Api, screens: ScreenFactory
) -> None:
    """The supervisor follows the link to the draft from the login, reads it, chooses the
    ground, writes the note and approves: the notice is published and on the public board."""
    created = await notice_dispatch(api)
    dispatch_id = str(created["id"])
    await drafted(api, dispatch_id)
    await filled_in(api, dispatch_id)
    notice = await notice_row(api, dispatch_id)
    judge, password = await staff_account(api.ctx, Role.SUPERVISOR, display_name="李法官")

    desk = await screens()
    await desk.goto("/staff/notices", "login")
    await desk.log_in(judge.username, password)
    assert desk.path == "/staff/notices"
    await desk.page.locator(f"a[href='/staff/notices/{notice['id']}']").click()
    await desk.page.wait_for_url(f"**/staff/notices/{notice['id']}")
    await desk.shot("notice-draft")

    page = desk.page
    approval = page.locator(f"form[action='/staff/notices/{notice['id']}/approve']")
    await approval.get_by_label("受送达人下落不明").check()
    await approval.locator("input[name=note]").fill("经审查，符合公告送达条件")
    await desk.submit(approval.locator("button[type=submit]"), "notice-published")
    assert desk.path == f"/staff/notices/{notice['id']}"
    assert "已发布" in await page.locator("h1 + p").inner_text()

    published = await notice_row(api, dispatch_id)
    assert published["state"] == "published"
    assert published["reason"]["reason"] == "whereabouts_unknown"
    approval_event = next(e for e in await api.events(dispatch_id) if e.type == "notice_approved")
    assert approval_event.actor == judge.actor

    await desk.goto("/notices", "public-board")
    listed = page.locator(f"a[href='/notices/{notice['id']}']")
    assert await listed.count() == 1
    await listed.first.click()
    await page.wait_for_url(f"**/notices/{notice['id']}")
    await desk.shot("public-notice")
    assert "(2026)浙0106民初1234号" in await page.locator("body").inner_text()
