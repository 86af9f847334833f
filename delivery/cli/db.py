"""``songda db upgrade``: apply every migration (and seal webhook secrets stored in plain)."""

from __future__ import annotations

import asyncio
from typing import Any

from delivery.cli.language import _
from delivery.config import Settings


def add_parser(commands: Any) -> None:
    db = commands.add_parser("db", help=_("database maintenance"))
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_commands.add_parser("upgrade", help=_("apply all migrations"))


async def _db_upgrade(settings: Settings) -> None:
    from delivery.services.database_setup import prepare_database
    from delivery.storage.engine import create_engine

    engine = create_engine(settings.database_url)
    try:
        await prepare_database(engine, settings)
    finally:
        await engine.dispose()


def run(settings: Settings) -> int:
    asyncio.run(_db_upgrade(settings))
    print(_("database is at the newest migration"))
    return 0
