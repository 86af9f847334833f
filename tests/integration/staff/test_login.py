"""Staff login: the login page, password storage, sessions and their expiry, CSRF on login and
logout, secure cookies, and the helpers other staff pages build on."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from aiohttp import web
from aiohttp.test_utils import TestClient
from argon2 import PasswordHasher
from conftest import COURT
from helpers import form_csrf, log_in, staff_account

from delivery.api.app import create_app
from delivery.api.staff.auth import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    check_csrf,
    csrf_token,
    current_staff,
    local_path,
    require_staff,
)
from delivery.clock import ManualClock
from delivery.context import Context
from delivery.services.staff_accounts import SESSION_TTL
from delivery.staff import Role
from delivery.storage.schema import staff_sessions, staff_users

Client = TestClient[Any, Any]
REFUSED = "用户名或密码不正确"


async def _post_login(client: Client, username: str, password: str, **extra: str) -> Any:
    page = await client.get("/login")
    form = {"csrf_token": form_csrf(await page.text()), "username": username, "password": password}
    return await client.post("/login", data={**form, **extra}, allow_redirects=False)


async def _user_row(ctx: Context, username: str) -> Any:
    async with ctx.engine.connect() as conn:
        query = sa.select(staff_users).where(staff_users.c.username == username)
        return (await conn.execute(query)).mappings().one()


async def _sessions(ctx: Context) -> list[Any]:
    async with ctx.engine.connect() as conn:
        return list((await conn.execute(sa.select(staff_sessions))).mappings().all())


async def test_log_in_and_out_through_the_pages(client: Client, ctx: Context) -> None:
    ctx.wall_clock = wall = ManualClock(datetime.now(UTC))
    user, password = await staff_account(ctx, Role.CLERK, Role.SUPERVISOR, username="wang")

    away = await client.get("/account?lang=en&x=1", allow_redirects=False)
    assert away.status == 302
    assert away.headers["Location"].startswith("/login?next=")
    page = await client.get(away.headers["Location"])
    html = await page.text()
    assert page.status == 200 and "工作人员登录" in html and 'name="password"' in html
    assert page.headers["Cache-Control"] == "no-store"
    assert 'name="next" value="/account?lang=en&amp;x=1"' in html

    response = await client.post(
        "/login",
        data={
            "csrf_token": form_csrf(html),
            "username": "WANG",  # usernames are not case-sensitive
            "password": password,
            "next": "/account?lang=en",
        },
        allow_redirects=False,
    )
    assert response.status == 303, await response.text()
    assert response.headers["Location"] == "/account?lang=en"
    [cookie_header] = [
        h for h in response.headers.getall("Set-Cookie") if h.startswith(SESSION_COOKIE + "=")
    ]
    flags = {f.strip().split("=")[0].lower() for f in cookie_header.split(";")}
    assert {"httponly", "path"} <= flags and "secure" not in flags
    assert "SameSite=Lax" in cookie_header and "Path=/" in cookie_header
    token = response.cookies[SESSION_COOKIE].value

    [session] = await _sessions(ctx)
    assert session["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert session["user_id"] == user.id
    assert session["expires_at"] == wall.now() + SESSION_TTL

    account = await client.get("/account?lang=en")
    text = await account.text()
    assert account.status == 200 and "王书记员" in text and "clerk, supervisor" in text
    assert COURT in text

    logout = await client.post(
        "/logout", data={"csrf_token": form_csrf(text)}, allow_redirects=False
    )
    assert (logout.status, logout.headers["Location"]) == (303, "/login")
    [session] = await _sessions(ctx)
    assert session["revoked_at"] == wall.now()
    assert (await client.get("/account", allow_redirects=False)).status == 302
    # the old cookie, replayed, is dead too
    client.session.cookie_jar.update_cookies({SESSION_COOKIE: token})
    assert (await client.get("/account", allow_redirects=False)).status == 302


async def test_password_is_stored_as_argon2id_and_rehashed_when_parameters_change(
    client: Client, ctx: Context
) -> None:
    _user, password = await staff_account(ctx, username="li")
    row = await _user_row(ctx, "li")
    assert row["password_hash"].startswith("$argon2id$")
    assert password not in row["password_hash"]
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(password)
    async with ctx.engine.begin() as conn:
        await conn.execute(
            staff_users.update().where(staff_users.c.id == row["id"]).values(password_hash=weak)
        )
    await log_in(client, "li", password)
    rehashed = (await _user_row(ctx, "li"))["password_hash"]
    assert rehashed != weak and not PasswordHasher().check_needs_rehash(rehashed)


async def test_wrong_password_and_unknown_user_get_the_same_answer(
    client: Client, ctx: Context
) -> None:
    await staff_account(ctx, username="zhao")
    wrong = await _post_login(client, "zhao", "not the password at all")
    unknown = await _post_login(client, "nobody", "not the password at all")
    assert wrong.status == unknown.status == 200
    wrong_html, unknown_html = await wrong.text(), await unknown.text()
    assert REFUSED in wrong_html
    assert wrong_html.replace("zhao", "nobody") == unknown_html
    assert SESSION_COOKIE not in wrong.cookies
    assert await _sessions(ctx) == []


async def test_login_form_needs_its_csrf_token(client: Client, ctx: Context) -> None:
    _user, password = await staff_account(ctx, username="qian")
    await client.get("/login")  # the signed cookie is set; the form's value is not sent
    missing = await client.post(
        "/login", data={"username": "qian", "password": password}, allow_redirects=False
    )
    forged = await client.post(
        "/login",
        data={"username": "qian", "password": password, "csrf_token": "abc.def"},
        allow_redirects=False,
    )
    assert missing.status == forged.status == 403
    assert "表单已过期" in await missing.text()
    assert await _sessions(ctx) == []
    # A fresh client with no login cookie: the form's token alone is not enough.
    page_token = form_csrf(await (await client.get("/login")).text())
    client.session.cookie_jar.clear()
    alone = await client.post(
        "/login",
        data={"username": "qian", "password": password, "csrf_token": page_token},
        allow_redirects=False,
    )
    assert alone.status == 403
    assert await _sessions(ctx) == []
    assert await ctx.queue.pool.keys(ctx.limits.key("login", "*")) == []  # no try counted


async def test_logout_needs_the_sessions_csrf_token(client: Client, ctx: Context) -> None:
    _user, password = await staff_account(ctx, username="zhou")
    token = await log_in(client, "zhou", password)
    for sent in ({}, {"csrf_token": "x" * len(token)}):
        refused = await client.post("/logout", data=sent, allow_redirects=False)
        assert refused.status == 403
    [session] = await _sessions(ctx)
    assert session["revoked_at"] is None
    assert (await client.get("/account", allow_redirects=False)).status == 200


async def test_session_expires_on_the_wall_clock(
    client: Client, ctx: Context, clock: ManualClock
) -> None:
    """12 hours of real time end a session; moving the service's (legal) clock does not, as
    the sandbox does to show a period run out (docs/decisions/0033)."""
    ctx.wall_clock = wall = ManualClock(datetime.now(UTC))
    _user, password = await staff_account(ctx, username="wu")
    await log_in(client, "wu", password)
    clock.advance(timedelta(days=30))
    assert (await client.get("/account", allow_redirects=False)).status == 200
    wall.advance(SESSION_TTL - timedelta(seconds=1))
    assert (await client.get("/account", allow_redirects=False)).status == 200
    wall.advance(timedelta(seconds=2))
    assert (await client.get("/account", allow_redirects=False)).status == 302
    expired = await client.get("/api/v1/dispatches")
    assert expired.status == 401
    assert expired.content_type == "application/problem+json"


def test_next_only_follows_local_paths() -> None:
    assert local_path("/queue?state=failed") == "/queue?state=failed"
    for bad in (None, "", "https://evil.example/", "//evil.example/x", "/\\evil.example", "x/y",
                "/login?next=/x", "/logout"):  # fmt: skip
        assert local_path(bad) is None
    assert local_path("/ok\r\nSet-Cookie: x=1") is None


async def test_secure_cookie_when_the_public_url_is_https(
    ctx: Context, aiohttp_client: Callable[..., Any]
) -> None:
    https_ctx = dataclasses.replace(
        ctx, settings=dataclasses.replace(ctx.settings, public_base_url="https://songda.test")
    )
    client = await aiohttp_client(create_app(https_ctx))
    _user, password = await staff_account(ctx, username="zheng")
    page = await client.get("/login")
    assert "Secure" in page.headers["Set-Cookie"]
    # The test client, on http, rightly keeps Secure cookies to itself: send it by hand.
    login_cookie = page.cookies[LOGIN_CSRF_COOKIE].value
    response = await client.post(
        "/login",
        data={
            "csrf_token": form_csrf(await page.text()),
            "username": "zheng",
            "password": password,
        },
        headers={"Cookie": f"{LOGIN_CSRF_COOKIE}={login_cookie}"},
        allow_redirects=False,
    )
    assert response.status == 303
    [cookie] = [h for h in response.headers.getall("Set-Cookie") if h.startswith(SESSION_COOKIE)]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


async def test_helpers_for_staff_pages(ctx: Context, aiohttp_client: Callable[..., Any]) -> None:
    """What other pages build on: require_staff with roles, csrf_token and check_csrf."""
    changed: list[str] = []

    async def approvals(request: web.Request) -> web.Response:
        user = require_staff(request, Role.SUPERVISOR)
        assert current_staff(request) == user
        return web.Response(text=f"{user.username} {csrf_token(request)}")

    async def approve(request: web.Request) -> web.Response:
        user = require_staff(request, Role.SUPERVISOR)
        form = await request.post()
        value = form.get("csrf_token")
        await check_csrf(request, value if isinstance(value, str) else None)
        changed.append(user.actor)
        return web.Response(text="ok")

    async def api_probe(request: web.Request) -> web.Response:
        require_staff(request, Role.SUPERVISOR)
        return web.Response(text="ok")

    app = create_app(ctx)
    app.router.add_get("/approvals", approvals)
    app.router.add_post("/approvals", approve)
    app.router.add_get("/api/v1/probe", api_probe)
    client = await aiohttp_client(app)

    anonymous = await client.get("/approvals?page=2", allow_redirects=False)
    assert anonymous.status == 302 and anonymous.headers["Location"].startswith("/login?next=")
    clerk, clerk_password = await staff_account(ctx, Role.CLERK)
    await log_in(client, clerk.username, clerk_password)
    assert (await client.get("/approvals")).status == 403
    probe = await client.get("/api/v1/probe")
    assert probe.status == 403 and probe.content_type == "application/problem+json"

    client.session.cookie_jar.clear()
    assert (await client.get("/api/v1/probe")).status == 401
    judge, judge_password = await staff_account(ctx, Role.SUPERVISOR)
    token = await log_in(client, judge.username, judge_password)
    page = await client.get("/approvals")
    assert await page.text() == f"{judge.username} {token}"
    assert (await client.post("/approvals", data={})).status == 403
    assert (await client.post("/approvals", data={"csrf_token": token[:-1]})).status == 403
    assert changed == []
    assert (await client.post("/approvals", data={"csrf_token": token})).status == 200
    assert changed == [judge.actor]
