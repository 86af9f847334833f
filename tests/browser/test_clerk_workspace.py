"""Browser scenario of the clerk's day (issue 6, point 8): a clerk logs in, uploads a CSV batch
with two bad rows, sees the row errors and the batch's progress reach "sent" while the page is
open (refreshed by workspace.js, not reloaded), opens one of the dispatches and escalates it with
a note, confirming the dialog the form asks.

The worker is started only once the batch page is shown, so the progress the page first shows
("queued") must change in place; a marker set on the page's ``window`` proves it was not reloaded.
"""

from __future__ import annotations

import csv
import io
import re

from api_client import Api
from conftest import MINIMAL_PDF, running_worker
from helpers import staff_account
from playwright.async_api import Dialog, expect

from delivery.staff import Role

from .conftest import ScreenFactory

COLUMNS = [
    "reference",
    "case_number",
    "recipient_name",
    "recipient_role",
    "id_number",
    "consent",
    "consent_basis",
    "email",
    "email_source",
    "documents",
    "document_kinds",
]
NOTE = "法院查得的邮箱三日未回复，升级送达"


def _row(n: int, **changes: str) -> dict[str, str]:
    row = {
        "reference": f"batch-{n}",
        "case_number": f"(2026)浙0106民初{1000 + n}号",
        "recipient_name": f"被告{n}",
        "recipient_role": "defendant",
        "id_number": f"3301061990010{n:04d}X",
        "consent": "是",
        "consent_basis": "express",
        "email": f"defendant{n}@example.com",
        "email_source": "court_found",
        "documents": "民事起诉状.pdf",
        "document_kinds": "complaint",
    }
    return {**row, **changes}


def batch_csv() -> bytes:
    """Rows 2, 4 and 6 are good; row 3's e-mail is no address, row 5 names a missing file.
    The addresses are found by the court: the e-mails go out ("sent") but do not serve until
    the recipient acts, so the batch stays at "sent"."""
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerow(_row(1))
    writer.writerow(_row(2, email="not-an-address"))
    writer.writerow(_row(3))
    writer.writerow(_row(4, documents="缺少的文书.pdf"))
    writer.writerow(_row(5))
    return out.getvalue().encode("utf-8")


async def test_a_clerk_uploads_a_batch_follows_it_and_escalates_a_dispatch(
    api: Api, screens: ScreenFactory
) -> None:
    clerk, password = await staff_account(api.ctx, Role.CLERK, display_name="王书记员")
    desk = await screens()
    page = desk.page
    await desk.goto("/staff/batches", "login")
    await desk.log_in(clerk.username, password)
    assert desk.path == "/staff/batches"

    await page.set_input_files(
        "input[name=csv]", {"name": "第一批.csv", "mimeType": "text/csv", "buffer": batch_csv()}
    )
    await page.set_input_files(
        "input[name=documents]",
        {"name": "民事起诉状.pdf", "mimeType": "application/pdf", "buffer": MINIMAL_PDF},
    )
    await desk.shot("batch-chosen")
    await desk.submit(page.locator("form[action^='/staff/batches'] button[type=submit]"), "batch")
    assert desk.path.startswith("/staff/batches/")

    errors = page.locator("table.errors tr")
    await expect(errors).to_have_count(3)  # the header and the two bad rows
    assert [await errors.nth(i).locator("td").first.inner_text() for i in (1, 2)] == ["3", "5"]
    for index, reference, column in ((1, "batch-2", "email"), (2, "batch-4", "documents")):
        cells = await errors.nth(index).locator("td").all_inner_texts()
        assert cells[1:3] == [reference, column] and cells[3], cells  # with the reason
    sent, queued = page.locator("[data-field=sent]"), page.locator("[data-field=queued]")
    await expect(queued).to_have_text("3")
    await expect(sent).to_have_text("0")

    await page.evaluate("window.songdaNotReloaded = true")
    async with running_worker(api.ctx):
        await expect(sent).to_have_text("3", timeout=30_000)
        await expect(queued).to_have_text("0")
        assert await page.evaluate("window.songdaNotReloaded === true")
        await desk.shot("batch-sent")

        dispatch_link = page.locator("tr", has_text="batch-1").locator("a")
        dispatch_id = (await dispatch_link.get_attribute("href") or "").rsplit("/", 1)[-1]
        await page.locator("nav a[href^='/staff/queue']").click()
        await page.wait_for_url("**/staff/queue")
        # The queue opens on what needs action; the batch's rows need none yet.
        await page.locator("a[data-view='all']").click()
        await page.wait_for_url(re.compile(r"/staff/queue\?view=all$"))
        await desk.shot("queue")
        listed = page.locator("tr[data-dispatch]")
        await expect(listed).to_have_count(3)
        row = page.locator(f"tr[data-dispatch='{dispatch_id}']")
        await row.locator(f"a[href='/staff/dispatches/{dispatch_id}']").click()
        await page.wait_for_url(f"**/staff/dispatches/{dispatch_id}")
        await desk.shot("dispatch")

        asked: list[str] = []
        answers = [False, True]  # first the clerk thinks better of it, then confirms

        async def confirm(dialog: Dialog) -> None:
            asked.append(dialog.message)
            await (dialog.accept() if answers.pop(0) else dialog.dismiss())

        page.on("dialog", confirm)
        # Each action is a button that opens its form (<details>, no script needed).
        escalate = page.locator("form[data-action=escalate]")
        await expect(escalate).to_be_hidden()
        await page.locator("details[data-opens=escalate] > summary").click()
        await escalate.locator("textarea[name=note]").fill(NOTE)
        before = await api.events(dispatch_id)
        await escalate.locator("button[type=submit]").click()
        assert asked == ["确定执行：升级到下一步骤？"]
        assert desk.path == f"/staff/dispatches/{dispatch_id}"
        assert await api.events(dispatch_id) == before  # dismissed: nothing was sent
        await desk.submit(escalate.locator("button[type=submit]"), "escalated")
        assert len(asked) == 2 and desk.path.startswith(f"/staff/dispatches/{dispatch_id}?")

    events = await api.events(dispatch_id)
    [escalated] = [e for e in events if e.type == "clerk_escalated"]
    assert escalated.actor == clerk.actor and escalated.data["note"] == NOTE
    assert NOTE in await page.locator("body").inner_text()  # on the timeline
