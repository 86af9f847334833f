"""``songda apikey create``: an API key for a case system, printed once."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from delivery.cli.language import _
from delivery.cli.settings import EXIT_USAGE, courts_or_exit
from delivery.config import DatabaseSettings
from delivery.services.api_keys import SCOPES


def add_parser(commands: Any) -> None:
    apikey = commands.add_parser("apikey", help=_("API keys for case systems"))
    apikey_commands = apikey.add_subparsers(dest="apikey_command", required=True, metavar="ACTION")
    create = apikey_commands.add_parser("create", help=_("create a key; it is printed once"))
    create.add_argument("--name", required=True, help=_("who the key is for"))
    create.add_argument(
        "--court",
        action="append",
        default=[],
        help=_(
            "a court the key may use (repeatable; default SONGDA_COURT_NAME, in a sandbox's "
            "data directory the sandbox court)"
        ),
    )
    create.add_argument(
        "--scope",
        action="append",
        default=[],
        choices=sorted(SCOPES),
        help=_(
            "a power beyond the court's dispatches (repeatable): bounces = may report bounces, "
            "which reverse service (only the court's bounce processor)"
        ),
    )


async def _apikey_create(
    settings: DatabaseSettings, name: str, courts: list[str], scopes: frozenset[str]
) -> str:
    from delivery.clock import SystemClock
    from delivery.services.api_keys import create_api_key
    from delivery.storage.engine import create_engine

    engine = create_engine(settings.database_url)
    try:
        _key, token = await create_api_key(engine, SystemClock(), name, courts, scopes)
    finally:
        await engine.dispose()
    return token


def run(settings: DatabaseSettings, args: argparse.Namespace) -> int:
    courts = courts_or_exit(settings, args.court)
    if not args.name.strip() or any(not c.strip() for c in courts):
        print("songda: " + _("--name and --court must not be empty"), file=sys.stderr)
        return EXIT_USAGE
    scopes = frozenset(args.scope)
    token = asyncio.run(
        _apikey_create(settings, args.name.strip(), [c.strip() for c in courts], scopes)
    )
    print(token)
    scoped = ", ".join(courts)
    if scopes:
        note = _(
            "(shown once; scoped to: %(courts)s; may: %(scopes)s)",
            courts=scoped,
            scopes=", ".join(sorted(scopes)),
        )
    else:
        note = _("(shown once; scoped to: %(courts)s)", courts=scoped)
    print(note, file=sys.stderr)
    return 0
