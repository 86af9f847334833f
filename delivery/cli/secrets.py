"""``songda secrets``: the key webhook signing secrets are encrypted with (SONGDA_SECRETS_KEY).

Rotation: put a new key first in SONGDA_SECRETS_KEY (``new-key`` prints one), keep the old one
after it, restart, run ``rotate``; once it reports nothing left under an old key (and nothing
unreadable), drop the old key from the setting. Only counts and endpoint ids are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from delivery.cli.language import _
from delivery.config import Settings
from delivery.infra.secret_box import new_key
from delivery.services import webhook_secrets

EXIT_UNREADABLE = 1


def add_parser(commands: Any) -> None:
    secrets = commands.add_parser(
        "secrets",
        help=_("the key webhook signing secrets are encrypted with (SONGDA_SECRETS_KEY)"),
    )
    actions = secrets.add_subparsers(dest="secrets_command", required=True, metavar="ACTION")
    actions.add_parser("new-key", help=_("print a new key (put it first in SONGDA_SECRETS_KEY)"))
    actions.add_parser(
        "rotate",
        help=_("re-encrypt every stored webhook secret under the first key of SONGDA_SECRETS_KEY"),
    )


def print_new_key() -> int:
    print(new_key())
    return 0


def run(settings: Settings, _args: argparse.Namespace) -> int:
    from delivery.storage.engine import create_engine

    async def rotate() -> webhook_secrets.Rotation:
        engine = create_engine(settings.database_url)
        try:
            return await webhook_secrets.rotate(engine, settings.secret_box)
        finally:
            await engine.dispose()

    done = asyncio.run(rotate())
    print(
        _(
            "webhook secrets: %(resealed)s re-encrypted under the newest key, %(sealed)s "
            "plaintext encrypted, %(current)s already under the newest key, %(unreadable)s "
            "unreadable",
            resealed=done.resealed,
            sealed=done.sealed_plaintext,
            current=done.already_current,
            unreadable=len(done.unreadable),
        )
    )
    if done.unreadable:
        print(
            "songda secrets rotate: "
            + _(
                "no key in SONGDA_SECRETS_KEY opens the secret of endpoint(s) %(endpoints)s: "
                "put the key they were encrypted with back in the setting (after the newest) "
                "and run again",
                endpoints=", ".join(done.unreadable),
            ),
            file=sys.stderr,
        )
        return EXIT_UNREADABLE
    return 0
