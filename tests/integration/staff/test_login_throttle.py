"""Login throttling (issue 12, "5 wrong passwords for a known username"): wrong passwords slow
down the address that typed them, with a doubling delay; nobody can lock an account from one
address; unknown usernames are throttled the same way; Argon2 is never reached faster than the
throttle allows; the counts live in Redis, shared by every web process."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from helpers import behind_proxy, form_csrf, from_address, staff_account, without_redis

from delivery.api.app import create_app
from delivery.clock import ManualClock
from delivery.context import Context
from delivery.services import staff_accounts
from delivery.services.login_throttle import ADDRESS, ADDRESS_SHARE, PAIR, USERNAME
from delivery.staff import Role

ATTACKER, OFFICE, HOME = "203.0.113.66", "198.51.100.10", "192.0.2.7"


class LoginForm:
    """The login page of one browser (its cookie jar) on an app behind a proxy, so each post
    comes from the address it names."""

    def __init__(self, client: TestClient[Any, Any]) -> None:
        self.client = client
        self.token: str | None = None

    async def post(self, username: str, password: str, address: str) -> ClientResponse:
        if self.token is None:
            self.token = form_csrf(await (await self.client.get("/login")).text())
        form = {"csrf_token": self.token, "username": username, "password": password}
        response = await self.client.post(
            "/login", data=form, headers=from_address(address), allow_redirects=False
        )
        if response.status == 303:  # logged in: the login cookie is spent
            self.client.session.cookie_jar.clear()
            self.token = None
        return response

    async def statuses(self, username: str, address: str, tries: int) -> list[int]:
        return [
            (await self.post(username, f"wrong password {i}", address)).status for i in range(tries)
        ]


class Verifications:
    """Counts the Argon2 verifications against an account's real hash."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self._real = staff_accounts._verify
        self.against_hash = 0
        self.total = 0
        monkeypatch.setattr(staff_accounts, "_verify", self._verify)

    async def _verify(self, stored_hash: str | None, password: str) -> bool:
        self.total += 1
        self.against_hash += stored_hash is not None
        return await self._real(stored_hash, password)


@pytest.fixture
async def login_form(ctx: Context, aiohttp_client: Callable[..., Any]) -> LoginForm:
    return LoginForm(await aiohttp_client(create_app(behind_proxy(ctx))))


async def test_wrong_passwords_from_one_address_never_lock_the_account_for_another(
    ctx: Context, login_form: LoginForm, monkeypatch: pytest.MonkeyPatch
) -> None:
    _judge, password = await staff_account(ctx, Role.SUPERVISOR, username="judge")
    verified = Verifications(monkeypatch)
    statuses = await login_form.statuses("judge", ATTACKER, 30)
    assert statuses == [200] * PAIR.free + [429] * (30 - PAIR.free)
    assert verified.total == PAIR.free  # the throttled tries never reached Argon2
    refused = await login_form.post("judge", password, ATTACKER)
    assert refused.status == 429  # that address waits, even with the right password
    assert (await login_form.post("judge", password, OFFICE)).status == 303  # the judge does not


async def test_the_delay_doubles_after_each_failure_up_to_its_cap(
    ctx: Context, login_form: LoginForm, clock: ManualClock
) -> None:
    await staff_account(ctx, username="sun")
    assert await login_form.statuses("sun", ATTACKER, PAIR.free) == [200] * PAIR.free
    waits = []
    for _ in range(12):
        throttled = await login_form.post("sun", "wrong password!!", ATTACKER)
        assert throttled.status == 429
        assert "本机输错次数过多" in await throttled.text()
        wait = int(throttled.headers["Retry-After"])
        waits.append(wait)
        clock.advance(timedelta(seconds=wait - 1))
        assert (await login_form.post("sun", "wrong password!!", ATTACKER)).status == 429
        clock.advance(timedelta(seconds=1))
        assert (await login_form.post("sun", "wrong password!!", ATTACKER)).status == 200
    cap = int(PAIR.cap.total_seconds())
    assert waits == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, cap, cap]


async def test_unknown_usernames_are_throttled_the_same_way(
    ctx: Context, login_form: LoginForm, monkeypatch: pytest.MonkeyPatch
) -> None:
    await staff_account(ctx, username="zhao")
    verified = Verifications(monkeypatch)
    answers = {}
    for username, address in (("zhao", ATTACKER), ("nobody", HOME)):
        responses = [await login_form.post(username, "wrong password!!", address) for _ in range(5)]
        answers[username] = [
            (r.status, r.headers.get("Retry-After"), (await r.text()).replace(username, "NAME"))
            for r in responses
        ]
    assert answers["zhao"] == answers["nobody"]
    assert [status for status, _, _ in answers["zhao"]] == [200] * PAIR.free + [429] * 2
    assert verified.total == 2 * PAIR.free  # each refusal costs one Argon2, each throttle none


async def test_parallel_tries_cannot_get_past_the_throttle(
    ctx: Context, login_form: LoginForm, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    await staff_account(ctx, username="feng")
    await login_form.post("feng", "first, to get the form's token", OFFICE)
    verified = Verifications(monkeypatch)
    burst = [login_form.post("feng", f"wrong password {i}", ATTACKER) for i in range(20)]
    statuses = sorted(r.status for r in await asyncio.gather(*burst))
    assert statuses == [200] * PAIR.free + [429] * (20 - PAIR.free)
    assert verified.against_hash == PAIR.free


async def test_the_username_slows_down_only_across_many_addresses_and_not_for_its_own(
    ctx: Context, login_form: LoginForm
) -> None:
    _user, password = await staff_account(ctx, username="wei")
    assert (await login_form.post("wei", password, OFFICE)).status == 303  # a known address
    # Each address adds only its first failures to the username's count.
    needed = -(-USERNAME.free // ADDRESS_SHARE)
    for i in range(needed):
        await login_form.statuses("wei", f"203.0.113.{i + 1}", ADDRESS_SHARE + 2)
    assert (await login_form.post("wei", password, HOME)).status == 429  # a new address waits
    assert (await login_form.post("wei", password, OFFICE)).status == 303  # the usual desk not


async def test_one_address_trying_many_usernames_slows_down(
    ctx: Context, login_form: LoginForm
) -> None:
    _user, password = await staff_account(ctx, username="chu")
    for i in range(ADDRESS.free):
        assert (await login_form.post(f"guess{i}", "wrong password!!", ATTACKER)).status == 200
    assert (await login_form.post("chu", password, ATTACKER)).status == 429
    assert (await login_form.post("chu", password, OFFICE)).status == 303


async def test_an_office_behind_one_address_logs_in_all_morning(
    ctx: Context, login_form: LoginForm
) -> None:
    """A right password gives the address its try back: many clerks behind one NAT address."""
    _user, password = await staff_account(ctx, username="clerk")
    for _ in range(ADDRESS.free + 5):
        assert (await login_form.post("clerk", password, OFFICE)).status == 303


async def test_a_clock_set_back_never_asks_to_wait_beyond_the_cap(
    ctx: Context, login_form: LoginForm, clock: ManualClock
) -> None:
    """The sandbox moves its clock forward and forgets the move at restart: a delay set on the
    moved clock must not block for the whole move."""
    await staff_account(ctx, username="qian")
    clock.advance(timedelta(days=30))
    await login_form.statuses("qian", ATTACKER, PAIR.free + 12)
    clock.advance(timedelta(days=-30))
    throttled = await login_form.post("qian", "wrong password!!", ATTACKER)
    assert throttled.status == 429
    assert int(throttled.headers["Retry-After"]) <= PAIR.cap.total_seconds()


async def test_the_throttle_is_shared_by_every_web_process(
    ctx: Context, aiohttp_client: Callable[..., Any]
) -> None:
    await staff_account(ctx, username="han")
    one = LoginForm(await aiohttp_client(create_app(behind_proxy(ctx))))
    other = LoginForm(await aiohttp_client(create_app(behind_proxy(ctx))))
    assert await one.statuses("han", ATTACKER, PAIR.free) == [200] * PAIR.free
    assert await other.statuses("han", ATTACKER, 1) == [429]


async def test_without_redis_login_answers_503_and_checks_no_password(
    ctx: Context, aiohttp_client: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    _user, password = await staff_account(ctx, username="lu")
    verified = Verifications(monkeypatch)
    async with without_redis(ctx) as down:
        form = LoginForm(await aiohttp_client(create_app(behind_proxy(down))))
        response = await form.post("lu", password, OFFICE)
    assert response.status == 503
    assert int(response.headers["Retry-After"]) > 0
    assert "登录暂时不可用" in await response.text()
    assert verified.total == 0
