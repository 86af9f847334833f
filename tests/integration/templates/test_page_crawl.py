"""Every page, in zh-CN and en, shows words, not codes (issue 14).

Realistic data (support.py: every dispatch state, channel, event type and reason) is seeded
once; then each staff role, the recipient and an anonymous visitor crawl every page they reach
(the known routes, then every same-site link), with ``?lang=zh-CN`` and ``?lang=en``. A zh-CN
page fails on any snake_case or English word that is not data or an allowed identifier, an en
page on any Chinese that is not data (page_text.py says exactly what is allowed, and why).

Seeding and crawling take a while, so one crawl serves the whole module: the first test that
needs it runs it (with its own fixtures) and keeps the pages; the per-page tests then check
their part.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from aiohttp.test_utils import TestClient
from api_client import Api
from conftest import settled
from helpers import form_csrf, log_in

from delivery.api.app import create_app
from delivery.sandbox.pages import SmtpSink, add_routes
from delivery.vocabulary import EventType
from integration.templates.page_text import Finding, findings
from integration.templates.support import (
    ID_LAST4,
    REASONS,
    Seed,
    data_strings,
    recorded_events,
    seed,
)

pytestmark = pytest.mark.usefixtures("worker")

LOCALES = ("zh-CN", "en")
ULID = "[0-9A-HJKMNP-TV-Z]{26}"
# Page types by path, first match wins; "other" catches any page not named here (checked too).
PAGES: list[tuple[str, str]] = [
    ("home", r"/"),
    ("login", r"/login"),
    ("account", r"/account"),
    ("queue", r"/staff/queue"),
    ("new_dispatch", r"/staff/dispatches/new"),
    ("dispatch", rf"/staff/dispatches/{ULID}"),
    ("batches", rf"/staff/batches(/{ULID})?"),
    ("reports", r"/staff/reports"),
    ("print_run", r"/staff/print-run"),
    ("field", r"/field(/tasks/[^/]+)?"),
    ("staff_notices", rf"/staff/notices(/{ULID})?"),
    ("notice_board", r"/notices"),
    ("notice", rf"/notices/{ULID}"),
    ("recipient", r"/r/[^/]+(/verify|/code)?"),
    ("confirmation", r"/c/[^/]+(/verify)?"),
    ("verify", r"/verify/.+"),
    ("check", r"/check"),
    ("sandbox_mailbox", r"/sandbox/mailbox"),
    ("other", r"/.*"),
]
START = (
    "/",
    "/account",
    "/staff/queue",
    "/staff/dispatches/new",
    "/staff/batches",
    "/staff/reports",
    "/staff/print-run",
    "/field",
    "/staff/notices",
    "/notices",
    "/check",
    "/sandbox/mailbox",
)
SKIPPED = re.compile(r"^/(api|static|logout)\b|\.(pdf|zip|csv|json)$|/documents/")
PER_TYPE = 8  # pages of one type per visitor and language: enough to see each variant


def page_type(path: str) -> str:
    return next(name for name, pattern in PAGES if re.fullmatch(pattern, path))


@dataclass
class Crawl:
    pages: dict[tuple[str, str], list[tuple[str, str]]] = field(
        default_factory=lambda: defaultdict(list)
    )  # (type, locale) → [(who and url, html)]
    data: list[str] = field(default_factory=list)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


_CRAWL: list[Crawl] = []


@pytest.fixture
async def crawl(sandbox_api: Api, smtp_sink: SmtpSink, aiohttp_client: Callable[..., Any]) -> Crawl:
    if not _CRAWL:
        _CRAWL.append(await _crawl_everything(sandbox_api, smtp_sink, aiohttp_client))
    return _CRAWL[0]


async def _crawl_everything(
    api: Api, smtp_sink: SmtpSink, aiohttp_client: Callable[..., Any]
) -> Crawl:
    seeded = await seed(api, smtp_sink, aiohttp_client)
    result = Crawl()
    result.events = await recorded_events(api, list(seeded.dispatch_ids.values()))
    data = await data_strings(api, result.events, smtp_sink)
    result.data = sorted((s for s in data if len(s) > 1), key=len, reverse=True)

    async def client() -> TestClient[Any, Any]:
        app = create_app(api.ctx)
        add_routes(app, smtp_sink)
        return await aiohttp_client(app)  # type: ignore[no-any-return]

    dispatch_pages = [f"/staff/dispatches/{d}" for d in seeded.dispatch_ids.values()]
    for role, (user, password) in seeded.staff.items():
        browser = await client()
        await log_in(browser, user.username, password)
        for locale in LOCALES:
            await _visit(result, browser, role.value, locale, [*START, *dispatch_pages])
    visitor = await client()
    for locale in LOCALES:
        await _visit(result, visitor, "anonymous", locale, ["/", "/login", "/notices", "/check"])
        wrong = seeded.verify_path.split("?")[0] + "?h=" + "0" * 64  # the "no such record" page
        await _visit(
            result,
            visitor,
            "anonymous",
            locale,
            [seeded.verify_path, wrong, "/r/not-a-link", "/c/not-a-link"],
        )
        await _public_forms(result, await client(), seeded, locale)
    await settled(api.ctx)
    return result


async def _visit(
    result: Crawl, browser: TestClient[Any, Any], who: str, locale: str, start: list[str]
) -> None:
    """Breadth first from ``start``, following every same-site link of the pages reached."""
    queue, seen = list(start), set[str]()
    count: dict[str, int] = defaultdict(int)
    while queue:
        url = queue.pop(0)
        parts = urlsplit(url)
        query = [(k, v) for k, v in _pairs(parts.query) if k != "lang"]
        key = parts.path + "?" + urlencode(query)
        kind = page_type(parts.path)
        if key in seen or SKIPPED.search(parts.path) or count[kind] >= PER_TYPE:
            continue
        seen.add(key)
        count[kind] += 1
        response = await browser.get(parts.path, params=[*query, ("lang", locale)])
        if "text/html" not in response.headers.get("Content-Type", ""):
            continue
        html = await response.text()
        result.pages[kind, locale].append((f"{who} {key}", html))
        queue += [_local(link, parts.path) for link in re.findall(r'href="([^"#]+)', html)]


def _pairs(query: str) -> list[tuple[str, str]]:
    return [tuple(p.split("=", 1)) if "=" in p else (p, "") for p in query.split("&") if p]  # type: ignore[misc]


def _local(link: str, base: str) -> str:
    """A link as a path on this site (``?lang=en`` alone means the page itself)."""
    link = link.replace("&amp;", "&")
    if link.startswith("?"):
        return base + link
    return link if link.startswith("/") and not link.startswith("//") else "/external"


async def _public_forms(
    result: Crawl, browser: TestClient[Any, Any], seeded: Seed, locale: str
) -> None:
    """The pages only a form reaches: the recipient's check (wrong, then right) and the
    notice-code check."""
    path = seeded.recipient_link
    for last4 in ("0000", ID_LAST4):
        response = await browser.post(f"{path}/verify", data={"last4": last4, "lang": locale})
        result.pages["recipient", locale].append(
            (f"recipient {path}/verify", await response.text())
        )
    page = await browser.get(path, params={"lang": locale})
    result.pages["recipient", locale].append((f"recipient {path}", await page.text()))
    await _confirmation_form(result, browser, seeded.confirmation_link, locale)
    check = await browser.get("/check", params={"lang": locale})
    token = form_csrf(await check.text()) if "csrf_token" in await check.text() else ""
    for last4 in ("0000", ID_LAST4):
        answer = await browser.post(
            "/check",
            data={"code": seeded.notice_code, "last4": last4, "lang": locale, "csrf_token": token},
        )
        result.pages["check", locale].append(
            (f"anonymous POST /check {last4}", await answer.text())
        )


async def _confirmation_form(
    result: Crawl, browser: TestClient[Any, Any], path: str, locale: str
) -> None:
    """The address confirmation form: its check (wrong, then right), the form, its field
    errors, and — signed (in the first language; the second finds it signed) — its done page."""
    pages = result.pages["confirmation", locale]
    pages.append(
        (f"recipient {path}", await (await browser.get(path, params={"lang": locale})).text())
    )
    for last4 in ("0000", ID_LAST4):
        response = await browser.post(f"{path}/verify", data={"last4": last4, "lang": locale})
        pages.append((f"recipient {path}/verify", await response.text()))
    wrong = await browser.post(path, data={"phone": "12345", "consent": "yes", "lang": locale})
    pages.append((f"recipient POST {path}", await wrong.text()))
    signed = {
        "email": "crawl@example.com",
        "consent": "no",
        "signer_name": "张三",
        "confirm": "yes",
        "lang": locale,
    }
    done = await browser.post(path, data=signed)
    pages.append((f"recipient POST {path} signed", await done.text()))


def test_the_crawl_shows_every_event_type_and_reason(crawl: Crawl) -> None:
    """The data behind the crawl is as rich as the brief asks, and every page type was seen."""
    recorded = {t for t, _ in crawl.events}
    assert sorted(set(EventType) - recorded) == []
    reasons = {(t, str(data.get("reason"))) for t, data in crawl.events}
    assert sorted({(str(t), r) for t, r in REASONS} - reasons) == []
    crawled = {kind for kind, _ in crawl.pages}
    expected = {name for name, _ in PAGES} - {"other"}
    assert sorted(expected - crawled) == []


CASES = [
    pytest.param(name, locale, id=f"{name}-{locale}") for name, _ in PAGES for locale in LOCALES
]


@pytest.mark.parametrize(("name", "locale"), CASES)
def test_no_code_on_the_page(crawl: Crawl, name: str, locale: str) -> None:
    found: list[Finding] = []
    for where, html in crawl.pages.get((name, locale), []):
        found += findings(where, locale, html, crawl.data)
    unique = sorted({str(f) for f in found})
    assert not unique, f"{len(unique)} finding(s):\n" + "\n".join(unique)
