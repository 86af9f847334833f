"""Staff accounts created: the fields checked, the sandbox's demo accounts, and ``songda user``
(create and list) on the command line."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cli_runner import songda, sqlite_cli_env
from conftest import COURT
from helpers import staff_account

from delivery.context import Context
from delivery.server import sandbox_staff_accounts
from delivery.services.staff_accounts import (
    AccountError,
    check_password,
    create_staff_user,
    set_password,
)
from delivery.staff import Role
from delivery.storage.schema import staff_users


async def test_account_fields_are_checked_and_nothing_is_stored(ctx: Context) -> None:
    cases: list[dict[str, Any]] = [
        {"roles": [], "courts": [COURT], "password": "long enough password"},
        {"roles": ["judge"], "courts": [COURT], "password": "long enough password"},
        {"roles": ["clerk"], "courts": [], "password": "long enough password"},
        {"roles": ["clerk"], "courts": [" "], "password": "long enough password"},
        {"roles": ["clerk"], "courts": [COURT], "password": "short"},
    ]
    for case in cases:
        with pytest.raises(AccountError):
            await create_staff_user(
                ctx.engine, ctx.clock, username="chen", display_name="陈", **case
            )
    with pytest.raises(AccountError):
        await create_staff_user(
            ctx.engine,
            ctx.clock,
            username="has space",
            display_name="陈",
            roles=["clerk"],
            courts=[COURT],
            password="long enough password",
        )
    async with ctx.engine.connect() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(staff_users)) == 0
    await staff_account(ctx, username="chen")
    with pytest.raises(AccountError, match="taken"):
        await staff_account(ctx, username="Chen")


async def test_sandbox_demo_accounts_survive_restarts(ctx: Context) -> None:
    sandbox_ctx = dataclasses.replace(
        ctx, settings=dataclasses.replace(ctx.settings, court_name="沙箱人民法院")
    )
    sandbox_ctx.settings.data_dir.mkdir(parents=True, exist_ok=True)
    first = await sandbox_staff_accounts(sandbox_ctx)
    assert set(first) == {"clerk", "supervisor", "field", "admin"}
    path = ctx.settings.data_dir / "sandbox_staff_passwords"
    assert path.stat().st_mode & 0o777 == 0o600
    assert await sandbox_staff_accounts(sandbox_ctx) == first
    roles = {}
    for username, password in first.items():
        user = await check_password(ctx.engine, username, password)
        assert user is not None and user.courts == ("沙箱人民法院",)
        roles[username] = set(user.roles)
    assert roles == {
        "clerk": {Role.CLERK},
        "supervisor": {Role.SUPERVISOR},
        "field": {Role.FIELD_SERVER},
        "admin": {Role.ADMIN},
    }
    await set_password(ctx.engine, "clerk", "someone changed it!")
    assert await sandbox_staff_accounts(sandbox_ctx) == first
    assert await check_password(ctx.engine, "clerk", first["clerk"]) is not None


def test_cli_user_create_and_list(tmp_path: Path) -> None:
    db = tmp_path / "songda.db"
    env = sqlite_cli_env(tmp_path)
    assert songda("db", "upgrade", env=env).returncode == 0
    create = ("user", "create", "--username", "wang", "--name", "王书记员", "--role", "clerk")
    piped = songda(
        *create, "--role", "supervisor", "--court", "A court", "--court", "B court",
        "--password-stdin", env=env, stdin="correct horse battery\n",
    )  # fmt: skip
    assert piped.returncode == 0, piped.stderr
    assert "correct horse battery" not in piped.stdout + piped.stderr

    generated = songda("user", "create", "--username", "li", "--name", "李", "--role",
                        "field_server", env=env)  # fmt: skip
    assert generated.returncode == 0, generated.stderr
    password = generated.stdout.strip()
    assert len(password) >= 16

    taken = songda(*create, "--password-stdin", env=env, stdin="another long password\n")
    short = songda("user", "create", "--username", "zhao", "--name", "赵", "--role", "clerk",
                    "--password-stdin", env=env, stdin="short\n")  # fmt: skip
    bad_role = songda("user", "create", "--username", "zhao", "--name", "赵", "--role",
                       "judge", env=env)  # fmt: skip
    no_role = songda("user", "create", "--username", "zhao", "--name", "赵", env=env)
    for refused in (taken, short, bad_role, no_role):
        assert refused.returncode == 2
    assert "taken" in taken.stderr and "at least 12" in short.stderr

    listed = songda("user", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert [line.split("\t")[0] for line in lines] == ["li", "wang"]
    assert "clerk,supervisor\tA court,B court\tactive" in lines[1]
    assert "argon2" not in listed.stdout

    async def verify() -> tuple[bool, bool]:
        from delivery.storage.engine import create_engine

        engine = create_engine(f"sqlite+aiosqlite:///{db}")
        try:
            wang = await check_password(engine, "wang", "correct horse battery")
            li = await check_password(engine, "li", password)
        finally:
            await engine.dispose()
        return wang is not None, li is not None

    assert asyncio.run(verify()) == (True, True)
