"""Every staff page has the navigation bar and the language switch: each role, logged in, walks
every link of its pages from where it lands (the staff routes of the application, with a
dispatch, a CSV batch, a field task and a notice draft to open), and the walk must have reached
every staff page the application serves."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from api_client import Api, visit_task
from standins import Browser

from delivery.staff import Role
from integration.channels.in_person.support import in_person_dispatch
from integration.channels.public_notice.support import drafted, notice_dispatch
from integration.staff.support import csv_file, row, uploaded

pytestmark = [pytest.mark.usefixtures("worker")]

STAFF_PREFIXES = ("/staff", "/field", "/account")
LINK = re.compile(r'href="(/[^"#]*)"')
# Staff routes that answer something other than a page (a CSV, JSON for polling, a document).
NOT_PAGES = {
    "/staff/batches/template.csv",
    "/staff/batches/{batch_id}/progress",
    "/staff/dispatches/{dispatch_id}/documents/{document_id}",
    "/staff/dispatches/{dispatch_id}/reveals.csv",
    "/staff/reveals.csv",
}
ROLE_SETS = {
    "clerk": (Role.CLERK,),
    "supervisor": (Role.SUPERVISOR,),
    "field_server": (Role.FIELD_SERVER,),
    "admin": (Role.ADMIN,),
}


def staff_pages(api: Api) -> dict[str, re.Pattern[str]]:
    """The application's staff GET routes that are pages, as patterns over a request path."""
    routes = {}
    for route in api.client.app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter")
        if route.method == "GET" and path and path.startswith(STAFF_PREFIXES):
            routes[path] = re.compile(re.sub(r"\{[^}]+\}", "[^/]+", path))
    return {path: pattern for path, pattern in routes.items() if path not in NOT_PAGES}


async def walk(browser: Browser, start: str) -> dict[str, tuple[int, str]]:
    """Every staff page reachable by links from ``start``: path → (status, HTML). A path is
    opened once, whatever its query; documents and CSVs are not opened."""
    seen: dict[str, tuple[int, str]] = {}
    queue = [start]
    while queue and len(seen) < 120:
        url = queue.pop(0)
        path = url.split("?")[0]
        if path in seen or not path.startswith(STAFF_PREFIXES) or path.endswith((".csv", ".pdf")):
            continue
        if "/documents/" in path or path.endswith("/progress"):
            continue
        response = await browser.client.get(url, allow_redirects=False)
        html = await response.text() if response.content_type == "text/html" else ""
        seen[path] = (response.status, html)
        queue.extend(LINK.findall(html.replace("&amp;", "&")))
    return seen


async def test_every_staff_page_has_the_navigation_and_the_language_switch(
    api: Api, browser: Callable[..., Any]
) -> None:
    field_server = await browser(Role.FIELD_SERVER)
    task_id = await visit_task(api, await in_person_dispatch(api))
    notice = await drafted(api, str((await notice_dispatch(api))["id"]))
    desk = await browser(Role.CLERK, Role.SUPERVISOR, name="王书记员")
    batch_id = await uploaded(desk, csv_file([row("nav-1")]))

    reached: set[str] = set()
    walkers = {"desk": desk, "field_server": field_server}
    for name, roles in ROLE_SETS.items():
        if name != "field_server":
            walkers[name] = await browser(*roles, name=name)
    for name, walker in walkers.items():
        pages = await walk(walker, "/account")
        for path, (status, html) in pages.items():
            assert status == 200, (name, path, status)
            assert '<nav class="workspace"' in html, (name, path)
            assert 'class="lang-switch"' in html, (name, path)
            assert "/account" in html and walker.user.display_name in html, (name, path)
        reached |= set(pages)

    for wanted in (f"/field/tasks/{task_id}", f"/staff/notices/{notice['id']}"):
        assert wanted in reached
    assert f"/staff/batches/{batch_id}" in reached
    for route, pattern in staff_pages(api).items():
        assert any(pattern.fullmatch(path) for path in reached), f"never reached: {route}"


@pytest.mark.parametrize(("roles", "shown", "hidden"), [
    ((Role.FIELD_SERVER,), ["/field"], ["/staff/queue", "/staff/notices"]),
    ((Role.ADMIN,), ["/account"], ["/field", "/staff/queue"]),
    ((Role.CLERK,), ["/staff/queue", "/staff/notices", "/field"], []),
])  # fmt: skip
async def test_the_navigation_offers_what_the_roles_may_open(
    browser: Callable[..., Any], roles: tuple[Role, ...], shown: list[str], hidden: list[str]
) -> None:
    walker = await browser(*roles)
    html = await (await walker.client.get("/account?lang=en")).text()
    nav = html[html.index('<nav class="workspace"') : html.index("</nav>")]
    for path in shown:
        assert f'href="{path}?lang=en"' in nav, path
        assert (await walker.client.get(path, allow_redirects=False)).status == 200, path
    for path in hidden:
        assert f'href="{path}' not in nav, path
    assert 'lang="zh-CN"' in nav and "中文" in nav
