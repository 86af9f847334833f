"""``songda user``: staff accounts (clerks, supervisors, ...) — create one, list them."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from delivery.cli.language import _, cli_locale, said
from delivery.cli.settings import EXIT_USAGE, courts_or_exit
from delivery.config import DatabaseSettings
from delivery.staff import Role
from templates.i18n import ptranslate


def add_parser(commands: Any) -> None:
    user = commands.add_parser("user", help=_("staff accounts (clerks, supervisors, ...)"))
    user_commands = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    user_create = user_commands.add_parser(
        "create", help=_("create a staff account (a generated password is printed once)")
    )
    user_create.add_argument("--username", required=True, help=_("the login name"))
    user_create.add_argument("--name", required=True, help=_("the name shown to colleagues"))
    user_create.add_argument(
        "--role",
        action="append",
        required=True,
        choices=[r.value for r in Role],
        help=_("a role (repeatable)"),
    )
    user_create.add_argument(
        "--court",
        action="append",
        default=[],
        help=_(
            "a court the account may see (repeatable; default SONGDA_COURT_NAME, in a "
            "sandbox's data directory the sandbox court)"
        ),
    )
    user_create.add_argument(
        "--password-stdin",
        action="store_true",
        help=_("read the password from the first line of standard input instead of generating one"),
    )
    user_commands.add_parser("list", help=_("list staff accounts (no password hashes)"))


async def _user_create(
    settings: DatabaseSettings, args: argparse.Namespace, courts: list[str], password: str
) -> str | None:
    """Create the account; the problems' text when it cannot be created (nothing is stored)."""
    from delivery.clock import SystemClock
    from delivery.services.staff_accounts import AccountError, create_staff_user
    from delivery.storage.engine import create_engine

    engine = create_engine(settings.database_url)
    try:
        await create_staff_user(
            engine,
            SystemClock(),
            username=args.username,
            display_name=args.name,
            roles=args.role,
            courts=courts,
            password=password,
        )
    except AccountError as exc:
        return "\n".join(f"songda: {said(p)}" for p in exc.problems)
    finally:
        await engine.dispose()
    return None


async def _user_list(settings: DatabaseSettings) -> None:
    from delivery.services.staff_accounts import list_staff_users
    from delivery.storage.engine import create_engine

    engine = create_engine(settings.database_url)
    try:
        users = await list_staff_users(engine)
    finally:
        await engine.dispose()
    # The header is for the reader: stderr, so stdout stays one account a line for scripts.
    print(_("username\tname\troles\tcourts\tstatus"), file=sys.stderr)
    for user, state in users:
        status = (
            ptranslate(cli_locale(), "staff account", "active")
            if state["disabled_at"] is None
            else ptranslate(cli_locale(), "staff account", "disabled")
        )
        roles = ",".join(sorted(r.value for r in user.roles))
        print(f"{user.username}\t{user.display_name}\t{roles}\t{','.join(user.courts)}\t{status}")


def run(settings: DatabaseSettings, args: argparse.Namespace) -> int:
    from delivery.services.staff_accounts import account_problems, generate_password

    if args.user_command == "list":
        asyncio.run(_user_list(settings))
        return 0
    generated = not args.password_stdin
    password = generate_password() if generated else sys.stdin.readline().rstrip("\r\n")
    courts = courts_or_exit(settings, args.court)
    problems = account_problems(args.username, args.name, args.role, courts, password)
    if problems:
        for problem in problems:
            print(f"songda: {said(problem)}", file=sys.stderr)
        return EXIT_USAGE
    refused = asyncio.run(_user_create(settings, args, courts, password))
    if refused is not None:
        print(refused, file=sys.stderr)
        return EXIT_USAGE
    if generated:
        print(password)
        print(
            _("(the password is shown once; scoped to: %(courts)s)", courts=", ".join(courts)),
            file=sys.stderr,
        )
    else:
        print(
            _(
                "created %(username)s (scoped to: %(courts)s)",
                username=args.username.strip().lower(),
                courts=", ".join(courts),
            )
        )
    return 0
