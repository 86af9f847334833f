"""The court's front door and where each role lands: ``/`` offers the four public entries in
both languages, the verification address form leads only to this site's ``/verify/…``, and
after login each role starts on its own page unless a safe ``next`` was asked for."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from conftest import COURT
from helpers import form_csrf, staff_account

from delivery.context import Context
from delivery.staff import Role

Client = TestClient[Any, Any]
DISPATCH_ID = "01JD0000000000000000000000"
HEAD = "ab" * 32

ENTRIES = {
    "zh-CN": ("核验通知", "核验送达回证", "公告栏", "工作人员登录"),
    "en": ("Check a notice code", "Verify a certificate of service", "Notice board", "Staff login"),
}


@pytest.mark.parametrize(("query", "locale"), [("", "zh-CN"), ("?lang=en", "en")])
async def test_the_front_door_offers_the_four_entries(
    client: Client, query: str, locale: str
) -> None:
    page = await client.get(f"/{query}")
    html = await page.text()
    assert page.status == 200 and page.content_type == "text/html"
    assert f'<html lang="{locale}">' in html and COURT in html
    for entry in ENTRIES[locale]:
        assert entry in html, entry
    for path in ("/check", "/notices", "/login"):
        assert f'href="{path}{query}"' in html, path
    assert 'action="/verify"' in html and 'name="address"' in html
    other = "en" if locale == "zh-CN" else "zh-CN"
    assert f'href="/?lang={other}"' in html
    # nothing of the other language leaks onto the page
    for entry in ENTRIES[other]:
        assert entry not in html, entry
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]


@pytest.mark.parametrize(
    "address",
    [
        f"https://songda.court.example/verify/{DISPATCH_ID}?h={HEAD}",
        f"  /verify/{DISPATCH_ID}?h={HEAD}&next=https://evil.example/ ",
    ],
)
async def test_a_printed_verification_address_leads_to_its_page_on_this_site(
    client: Client, address: str
) -> None:
    response = await client.get("/verify", params={"address": address}, allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == f"/verify/{DISPATCH_ID}?h={HEAD}"
    followed = await client.get(response.headers["Location"])
    assert followed.status == 404  # no such service: the one "no such record" page
    english = await client.get(
        "/verify", params={"address": address, "lang": "en"}, allow_redirects=False
    )
    assert english.headers["Location"] == f"/verify/{DISPATCH_ID}?h={HEAD}&lang=en"


@pytest.mark.parametrize(
    "address", ["https://evil.example/phish", "/verify/a/b", "/verify/", "/login", ""]
)
async def test_anything_else_is_answered_on_the_front_door(client: Client, address: str) -> None:
    response = await client.get(
        "/verify", params={"address": address, "lang": "en"}, allow_redirects=False
    )
    html = await response.text()
    assert response.status == 422 and "Location" not in response.headers
    assert "That is not a verification address of this service" in html
    assert 'aria-invalid="true"' in html and "Staff login" in html


async def _log_in(client: Client, username: str, password: str, **extra: str) -> Any:
    page = await client.get("/login" + (f"?lang={extra['lang']}" if "lang" in extra else ""))
    form = {"csrf_token": form_csrf(await page.text()), "username": username, "password": password}
    return await client.post("/login", data={**form, **extra}, allow_redirects=False)


@pytest.mark.parametrize(
    ("roles", "landing"),
    [
        ((Role.CLERK,), "/staff/queue"),
        ((Role.SUPERVISOR,), "/staff/notices"),
        ((Role.FIELD_SERVER,), "/field"),
        ((Role.ADMIN,), "/account"),
        # several roles: the supervisor's approvals first, then the clerk's queue
        ((Role.CLERK, Role.SUPERVISOR), "/staff/notices"),
        ((Role.ADMIN, Role.CLERK), "/staff/queue"),
    ],
)
async def test_each_role_lands_on_its_page_and_the_page_opens(
    client: Client, ctx: Context, roles: tuple[Role, ...], landing: str
) -> None:
    user, password = await staff_account(ctx, *roles)
    response = await _log_in(client, user.username, password)
    assert response.status == 303
    assert response.headers["Location"] == landing
    page = await client.get(landing)
    assert page.status == 200, await page.text()
    assert 'class="workspace"' in await page.text()


async def test_the_landing_keeps_the_language_logged_in_with(client: Client, ctx: Context) -> None:
    user, password = await staff_account(ctx, Role.FIELD_SERVER)
    response = await _log_in(client, user.username, password, lang="en")
    assert response.headers["Location"] == "/field?lang=en"
    page = await client.get(response.headers["Location"])
    assert "My service tasks" in await page.text()


async def test_a_safe_next_wins_and_an_unsafe_one_falls_back_to_the_landing(
    client: Client, ctx: Context
) -> None:
    user, password = await staff_account(ctx, Role.SUPERVISOR)
    asked = await _log_in(client, user.username, password, next="/staff/reports?lang=en")
    assert asked.headers["Location"] == "/staff/reports?lang=en"
    for unsafe in ("https://evil.example/", "//evil.example/x", "/logout"):
        again = await _log_in(client, user.username, password, next=unsafe)
        assert again.headers["Location"] == "/staff/notices", unsafe


async def test_an_administrator_lands_on_the_accounts_of_their_courts_read_only(
    client: Client, ctx: Context
) -> None:
    await staff_account(ctx, Role.FIELD_SERVER, username="songda-li", display_name="李送达")
    await staff_account(ctx, Role.CLERK, username="elsewhere", courts=("另一个法院",))
    admin, password = await staff_account(ctx, Role.ADMIN, username="admin-wu")
    response = await _log_in(client, admin.username, password)
    page = await client.get(response.headers["Location"])
    html = await page.text()
    assert page.status == 200
    assert "本院账户" in html and "songda-li" in html and "李送达" in html and "送达员" in html
    assert "elsewhere" not in html  # another court's account does not exist for them
    assert "field_server" not in html  # roles read as labels
    assert "<form" in html and html.count("<form") == 1  # only the logout: nothing to change
    english = await (await client.get("/account?lang=en")).text()
    assert "Accounts of your courts" in english and "field server" in english

    clerk, clerk_password = await staff_account(ctx, Role.CLERK)
    await _log_in(client, clerk.username, clerk_password)
    assert "songda-li" not in await (await client.get("/account")).text()
