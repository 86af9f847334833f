"""axe-core on every page type (issue 14, point 5): at a desk (1280×900) and on a phone
(390×844), in Chinese and in English, no serious or critical finding; on the phone no page is
wider than the screen.

One case per page type (or per pair of pages one flow shows, such as the report form and its
charts): it builds what the page shows with the helpers the feature tests use, logs in whoever
may see it, visits each page in both sizes and both languages and collects every finding before
failing, so one run lists all there is to fix (decision 0034).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient
from api_client import Api, visit_task
from conftest import settled
from helpers import confirmation_link, link_path, staff_account
from integration.channels.in_person.support import in_person_dispatch
from integration.channels.public_notice.support import (
    drafted,
    filled_in,
    notice_dispatch,
    notice_row,
    published_notice,
)
from integration.staff.support import FILES, csv_file, row
from playwright.async_api import Page

from delivery.api.app import create_app
from delivery.ids import new_id
from delivery.sandbox.pages import SmtpSink, add_routes
from delivery.staff import Role
from delivery.storage.schema import notice_codes

from .accessibility import axe_findings, overflow
from .conftest import ScreenFactory
from .screens import Screen

pytestmark = pytest.mark.usefixtures("worker")
LANGUAGES = ("zh-CN", "en")
LAST4 = "123X"  # dispatch_body's identity number ends so
SIGNED = {"email": "zhangsan.new@example.com", "signer_name": "张三"}


@dataclass(frozen=True)
class Target:
    """One page to audit: opened at ``path`` (answered with ``status``); ``reach`` then does
    what a person does to get to it from there (send a form)."""

    name: str
    path: str
    reach: Callable[[Page], Awaitable[None]] | None = None
    status: int = 200
    reached_status: int = 200  # the answer to the form ``reach`` sends (422: its field errors)


@dataclass
class World:
    api: Api
    smtp_sink: SmtpSink


Build = Callable[[World], Awaitable[list[Target]]]


def _with_lang(path: str, locale: str) -> str:
    if locale == "zh-CN":
        return path
    return f"{path}{'&' if '?' in path else '?'}lang={locale}"


async def _submit(page: Page, form: str, values: dict[str, str]) -> None:
    for name, value in values.items():
        await page.fill(f"{form} [name={name}]", value)
    async with page.expect_navigation():
        await page.locator(f"{form} button[type=submit]").first.click()


async def _served(world: World) -> dict[str, Any]:
    """A dispatch served by e-mail to an address the recipient confirmed."""
    created = await world.api.new_dispatch()
    served = await world.api.until_state(created["id"], "served")
    await settled(world.api.ctx)
    return served


async def _link(world: World) -> str:
    """The recipient link of a sent e-mail to an address the court found (not yet served)."""
    created = await world.api.new_dispatch(source="court_found")
    await world.api.until_attempt(created["id"], "sent")
    await settled(world.api.ctx)
    return link_path(world.smtp_sink.messages[0].text)


async def front(world: World) -> list[Target]:
    return [Target("front", "/")]


async def login(world: World) -> list[Target]:
    return [Target("login", "/login")]


async def account(world: World) -> list[Target]:
    return [Target("account", "/account")]


async def queue(world: World) -> list[Target]:
    await _served(world)
    await world.api.new_dispatch(reference="case-sys-0002", source="court_found")
    # Every row, so the table and its bulk-action form are audited (the default view shows
    # only what needs action).
    return [Target("queue", "/staff/queue?view=all")]


async def dispatch_page(world: World) -> list[Target]:
    served = await _served(world)
    # An open dispatch too: its action forms (among them the repaired contact's, ICP-16).
    open_one = await world.api.new_dispatch(reference="case-sys-0002", source="court_found")
    return [
        Target("dispatch", f"/staff/dispatches/{served['id']}"),
        Target("dispatch-open", f"/staff/dispatches/{open_one['id']}"),
    ]


async def new_dispatch(world: World) -> list[Target]:
    return [Target("new-dispatch", "/staff/dispatches/new")]


async def batches(world: World) -> list[Target]:
    async def upload(page: Page) -> None:
        rows = csv_file([row("batch-1"), row("batch-2", email="not-an-address")])
        await page.set_input_files(
            "input[name=csv]", {"name": "b.csv", "mimeType": "text/csv", "buffer": rows}
        )
        await page.set_input_files(
            "input[name=documents]",
            [
                {"name": name, "mimeType": "application/pdf", "buffer": content}
                for name, content in FILES.items()
            ],
        )
        async with page.expect_navigation():
            await page.locator("form[enctype='multipart/form-data'] button[type=submit]").click()

    return [Target("batches", "/staff/batches"), Target("batch", "/staff/batches", upload)]


async def reports(world: World) -> list[Target]:
    await _served(world)
    query = "from=2026-11-01&to=2026-11-30&group_by=channel"
    return [Target("reports", "/staff/reports"), Target("charts", f"/staff/reports?{query}")]


async def print_run(world: World) -> list[Target]:
    await in_person_dispatch(world.api)  # its postal attempt is on the day's print run
    return [Target("print-run", "/staff/print-run")]


async def field_pages(world: World) -> list[Target]:
    dispatch_id = await in_person_dispatch(world.api)
    task_id = await visit_task(world.api, dispatch_id)
    form = f"/field/tasks/{task_id}"

    def choosing(outcome: str) -> Callable[[Page], Awaitable[None]]:
        async def choose(page: Page) -> None:  # its fieldset opens: audited too
            await page.locator(f"#o-{outcome}").check()

        return choose

    return [
        Target("field-tasks", "/field"),
        Target("visit-form", form),
        *(
            Target(f"visit-form-{outcome}", form, choosing(outcome))
            for outcome in ("served", "refused_left", "refused_filmed", "failed")
        ),
    ]


async def staff_notices(world: World) -> list[Target]:
    dispatch_id = str((await notice_dispatch(world.api))["id"])
    await drafted(world.api, dispatch_id)
    notice = await filled_in(world.api, dispatch_id)
    return [
        Target("staff-notices", "/staff/notices"),
        Target("approval", f"/staff/notices/{notice['id']}"),
    ]


async def notice_board(world: World) -> list[Target]:
    dispatch_id, _headers = await published_notice(world.api)
    notice = await notice_row(world.api, dispatch_id)
    return [Target("notice-board", "/notices"), Target("notice", f"/notices/{notice['id']}")]


async def recipient_pages(world: World) -> list[Target]:
    path = await _link(world)

    async def checked(page: Page) -> None:
        form = f"form[action='{path}/verify']:has([name=last4])"
        if await page.locator(form).count():  # not yet checked in this browser
            await _submit(page, form, {"last4": LAST4})

    return [
        Target("recipient-check", path),
        Target("recipient-documents", path, checked),
        Target("link-error", path + "x", status=403),
    ]


async def confirmation_pages(world: World) -> list[Target]:
    """The address confirmation form: its check, the form, its field errors, and (a second
    link, so that the first keeps showing the form) the signed form's page."""
    paths = []
    for reference in ("case-sys-0001", "case-sys-0002"):
        created = await world.api.new_dispatch(reference=reference, source="court_found")
        await world.api.until_attempt(created["id"], "sent")
        paths.append(await confirmation_link(world.api, world.smtp_sink, created["id"]))
    form, signed = paths

    def checked(path: str, then: dict[str, str] | None = None) -> Callable[[Page], Awaitable[None]]:
        async def reach(page: Page) -> None:
            check = f"form[action='{path}/verify']"
            if await page.locator(check).count():  # not yet checked in this browser
                await _submit(page, check, {"last4": LAST4})
            form = f"form[action='{path}']"
            if then is None or not await page.locator(form).count():
                return  # the form as shown, or signed already
            if then.get("signer_name"):
                await page.locator("#consent-no").check()
                await page.locator("#confirm").check()
            await _submit(page, form, then)

        return reach

    return [
        Target("confirmation-check", form),
        Target("confirmation-form", form, checked(form)),
        Target("confirmation-errors", form, checked(form, {"phone": "12345"}), reached_status=422),
        Target("confirmation-signed", signed, checked(signed, SIGNED)),
    ]


async def verification(world: World) -> list[Target]:
    served = await _served(world)
    [head] = [e.hash for e in await world.api.events(served["id"]) if e.type == "dispatch_served"]
    async with world.api.ctx.engine.connect() as conn:
        query = sa.select(notice_codes.c.code).where(notice_codes.c.dispatch_id == served["id"])
        code = str(await conn.scalar(query))

    async def genuine(page: Page) -> None:
        await _submit(page, "form[action='/check']", {"code": code, "last4": LAST4})

    async def unknown(page: Page) -> None:
        await _submit(page, "form[action='/check']", {"code": "ABCD-2345", "last4": "0000"})

    return [
        Target("verify", f"/verify/{served['id']}?h={head}"),
        Target("verify-none", f"/verify/{new_id()}?h={head}", status=404),
        Target("check", "/check"),
        Target("check-genuine", "/check", genuine),
        Target("check-unknown", "/check", unknown),
    ]


async def limited(world: World) -> list[Target]:
    """The page a person gets past the public pages' limit (the manual clock stands still, so
    the minute does not run out)."""
    allowed = world.api.ctx.settings.limits.public_per_minute
    for _ in range(allowed):
        assert (await world.api.client.get("/check")).status == 200
    return [Target("limited", "/check", status=429)]


@dataclass(frozen=True)
class PageType:
    build: Build
    roles: tuple[Role, ...] = ()  # who logs in to see it (nobody: a public page)


PAGE_TYPES = [
    pytest.param(PageType(front), id="front"),
    pytest.param(PageType(login), id="login"),
    pytest.param(PageType(account, (Role.CLERK,)), id="account"),
    pytest.param(PageType(queue, (Role.CLERK,)), id="queue"),
    pytest.param(PageType(dispatch_page, (Role.CLERK,)), id="dispatch"),
    pytest.param(PageType(new_dispatch, (Role.CLERK,)), id="new-dispatch"),
    pytest.param(PageType(batches, (Role.CLERK,)), id="batches"),
    pytest.param(PageType(reports, (Role.SUPERVISOR,)), id="reports"),
    pytest.param(PageType(print_run, (Role.CLERK,)), id="print-run"),
    pytest.param(PageType(field_pages, (Role.FIELD_SERVER,)), id="field"),
    pytest.param(PageType(staff_notices, (Role.SUPERVISOR,)), id="staff-notices"),
    pytest.param(PageType(notice_board), id="notice-board"),
    pytest.param(PageType(recipient_pages), id="recipient"),
    pytest.param(PageType(confirmation_pages), id="address-confirmation"),
    pytest.param(PageType(verification), id="verify-and-check"),
    pytest.param(PageType(limited), id="limited"),
]


async def audit(screen: Screen, target: Target, locale: str, phone: bool) -> list[str]:
    """Open the target in ``locale``, keep its screenshot; its findings (and, on the phone,
    whether it is wider than the screen)."""
    name = f"{target.name}-{locale}-{'phone' if phone else 'desk'}"
    status = await screen.goto(_with_lang(target.path, locale), name)
    if target.status >= 400:  # the page's own answer, not a resource it failed to load
        screen.problems[:] = [p for p in screen.problems if screen.page.url not in p]
    assert status == target.status, f"{name}: {status}"
    if target.reach is not None:
        await target.reach(screen.page)
        if target.reached_status >= 400:  # the form's own answer, as for ``status``
            screen.problems[:] = [p for p in screen.problems if screen.page.url not in p]
        await screen.shot(f"{name}-reached")
    found = await axe_findings(screen, name)
    return found + (await overflow(screen, name) if phone else [])


@pytest.mark.parametrize("page_type", PAGE_TYPES)
async def test_page_type_has_no_serious_findings(
    page_type: PageType, api: Api, smtp_sink: SmtpSink, screens: ScreenFactory
) -> None:
    account = await staff_account(api.ctx, *page_type.roles) if page_type.roles else None
    targets = await page_type.build(World(api, smtp_sink))
    findings: list[str] = []
    for phone in (False, True):
        screen = await screens(phone=phone, audited=True)
        if account is not None:
            await screen.goto("/login", "login")
            await screen.log_in(account[0].username, account[1])
        for target in targets:
            for locale in LANGUAGES:
                findings += await audit(screen, target, locale, phone)
    assert not findings, "accessibility findings:\n" + "\n".join(findings)


@pytest.fixture
async def sandbox_client(
    api: Api, smtp_sink: SmtpSink, aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]]
) -> TestClient[Any, Any]:
    """The application with the sandbox's pages added (as ``songda run --sandbox`` has it)."""
    app = create_app(api.ctx)
    add_routes(app, smtp_sink)
    return await aiohttp_client(app)


async def test_the_sandbox_mailbox_has_no_serious_findings(
    api: Api, smtp_sink: SmtpSink, sandbox_client: TestClient[Any, Any], screens: ScreenFactory
) -> None:
    await _link(World(api, smtp_sink))  # one e-mail in the mailbox
    mailbox = Target("sandbox-mailbox", str(sandbox_client.make_url("/sandbox/mailbox")))
    findings: list[str] = []
    for phone in (False, True):
        screen = await screens(phone=phone, audited=True)
        screen.base_url = ""  # the sandbox's own server, not the test client's
        findings += await audit(screen, mailbox, "zh-CN", phone)
    assert not findings, "accessibility findings:\n" + "\n".join(findings)
