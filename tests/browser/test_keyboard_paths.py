"""Keyboard-only paths (issue 14, point 5): the recipient's identity check, the field server's
visit form and a clerk's action, done without a mouse or a finger.

The keys are the ones a keyboard user has: Tab to move to the next control, typing into a
field, Space to choose a radio button, the arrow keys inside a native select (its own keys),
Enter to send a form. Each path starts from the page as it opens and reaches every control by
Tab (``tab_to``), so a control that cannot take the focus, or a focus order that never reaches
it, fails the test; its effect is then checked where it is stored.
"""

from __future__ import annotations

import pytest
from api_client import Api, visit_task
from conftest import settled
from helpers import link_path, staff_account
from integration.channels.in_person.support import in_person_dispatch
from playwright.async_api import Dialog

from delivery.sandbox.pages import SmtpSink
from delivery.staff import Role
from delivery.vocabulary import EventType

from .accessibility import tab_to
from .conftest import ScreenFactory

pytestmark = pytest.mark.usefixtures("worker")
NOTE = "电话核实，受送达人已搬离 / checked by phone"


async def test_the_recipient_checks_their_identity_with_the_keyboard(
    api: Api, smtp_sink: SmtpSink, screens: ScreenFactory
) -> None:
    """Open the link, Tab to the last-4 field, type them, Enter: the documents are listed and
    the check is recorded (the link opened after the check serves, OLR-31)."""
    created = await api.new_dispatch(source="court_found")
    await api.until_attempt(created["id"], "sent")
    await settled(api.ctx)
    path = link_path(smtp_sink.messages[0].text)

    phone = await screens(phone=True)
    page = phone.page
    await phone.goto(path, "check")
    await tab_to(page, "input[name=last4]")
    await page.keyboard.type("123X")
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    await phone.shot("documents")
    assert phone.path == path
    assert "民事起诉状" in await page.locator("body").inner_text()
    await tab_to(page, f"a[href^='{path}/documents/']")  # the document is reachable too

    served = await api.until_state(created["id"], "served")
    assert EventType.IDENTITY_VERIFIED in {e["type"] for e in served["events"]}


async def test_a_field_server_records_a_visit_with_the_keyboard(
    api: Api, screens: ScreenFactory
) -> None:
    """Tab to the first outcome (served), Space, Tab to the relation, arrow down to "the
    recipient", Tab to the submit button, Enter: the dispatch is served in person (CPL-88)."""
    server, password = await staff_account(api.ctx, Role.FIELD_SERVER, display_name="李送达")
    dispatch_id = await in_person_dispatch(api)
    task_id = await visit_task(api, dispatch_id)

    desk = await screens()
    page = desk.page
    await desk.goto(f"/field/tasks/{task_id}", "login")
    await desk.log_in(server.username, password)
    assert desk.path == f"/field/tasks/{task_id}"
    await tab_to(page, "#o-served")
    await page.keyboard.press("Space")
    assert await page.locator("#o-served").is_checked()
    await tab_to(page, "select[name=relation]")
    await page.keyboard.press("ArrowDown")
    assert await page.locator("select[name=relation]").input_value() == "self"
    await tab_to(page, "#visit button[type=submit]")
    await desk.shot("visit-filled")
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    await desk.shot("recorded")
    assert desk.path == f"/field?done={task_id}"

    served = await api.until_state(dispatch_id, "served")
    assert (served["served_by_channel"], served["legal_basis"]) == ("in_person", "CPL-88")
    event = next(e for e in served["events"] if e["type"] == EventType.VISIT_SERVED)
    assert event["actor"] == server.actor and event["data"]["relation"] == "self"


async def test_a_clerk_escalates_a_dispatch_with_the_keyboard(
    api: Api, screens: ScreenFactory
) -> None:
    """On the dispatch page: Tab to the escalation's button, Enter opens its form; Tab to the
    note, type it, Tab to its submit button, Enter, confirm (Enter on the browser's dialog): the
    escalation is recorded with the note."""
    clerk, password = await staff_account(api.ctx, Role.CLERK, display_name="王书记员")
    created = await api.new_dispatch(source="court_found")  # owned by the only clerk
    dispatch_id = created["id"]
    await api.until_attempt(dispatch_id, "sent")
    await settled(api.ctx)

    desk = await screens()
    page = desk.page
    await desk.goto(f"/staff/dispatches/{dispatch_id}", "login")
    await desk.log_in(clerk.username, password)
    asked: list[str] = []

    async def confirm(dialog: Dialog) -> None:
        asked.append(dialog.message)
        await dialog.accept()

    page.on("dialog", confirm)
    await tab_to(page, "details[data-opens=escalate] > summary")
    await page.keyboard.press("Enter")
    escalate = "form[data-action=escalate]"
    await tab_to(page, f"{escalate} textarea[name=note]")
    await page.keyboard.type(NOTE)
    await tab_to(page, f"{escalate} button[type=submit]")
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    await desk.shot("escalated")
    assert len(asked) == 1 and desk.path.startswith(f"/staff/dispatches/{dispatch_id}")

    events = await api.events(dispatch_id)
    [escalated] = [e for e in events if e.type == EventType.CLERK_ESCALATED]
    assert escalated.actor == clerk.actor and escalated.data["note"] == NOTE
