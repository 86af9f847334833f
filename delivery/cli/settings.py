"""The settings a command runs with, or exit 2 naming every problem.

Commands that run the service (or change its secrets) need the whole configuration; commands
that only read or write the database (``apikey``, ``user``, ``report``, ``verify --db``) need
only the database's settings, so they work with just ``SONGDA_DATA_DIR`` (or
``SONGDA_DATABASE_URL``), a sandbox's data directory included. Commands that only need a
directory (``keys``, ``calendar``) read it alone so they work before the rest is configured.
"""

from __future__ import annotations

import sys
from typing import NoReturn

from delivery.cli.language import _, said
from delivery.config import (
    ConfigError,
    DatabaseSettings,
    Settings,
    load_database_settings,
    load_settings,
)

EXIT_USAGE = 2


def settings_or_exit(sandbox: bool = False) -> Settings:
    try:
        return load_settings(sandbox=sandbox)
    except ConfigError as exc:
        _refuse(exc)


def database_settings_or_exit() -> DatabaseSettings:
    try:
        return load_database_settings()
    except ConfigError as exc:
        _refuse(exc)


def courts_or_exit(settings: DatabaseSettings, given: list[str]) -> list[str]:
    """The ``--court`` options given, else the configured court (the sandbox court in a
    sandbox's data directory); exit 2 when there is neither."""
    if given:
        return given
    if settings.court_name is None:
        print(
            "songda: "
            + _("give --court, or set SONGDA_COURT_NAME (the court this deployment serves)"),
            file=sys.stderr,
        )
        raise SystemExit(EXIT_USAGE)
    return [settings.court_name]


def _refuse(exc: ConfigError) -> NoReturn:
    print("songda: " + _("the configuration is not usable:"), file=sys.stderr)
    for problem in exc.wordings:
        print(f"  - {said(problem)}", file=sys.stderr)
    print(_("Run `songda config check` after fixing it."), file=sys.stderr)
    raise SystemExit(EXIT_USAGE) from None
