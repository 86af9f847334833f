"""``songda config check``: name every missing or invalid setting, then what is merely unwise.

Errors (exit 2) are what would stop the command the settings are meant for (``--for``); warnings
are advice that does not.
"""

from __future__ import annotations

import argparse
from typing import Any

from delivery.cli.settings import EXIT_USAGE
from delivery.config import (
    ConfigError,
    Settings,
    advisories,
    deployment_warnings,
    load_settings,
)
from delivery.infra.keys import key_problems


def add_parser(commands: Any) -> None:
    config = commands.add_parser("config", help="configuration")
    config_commands = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    check = config_commands.add_parser("check", help="name every missing or invalid setting")
    check.add_argument(
        "--sandbox", action="store_true", help="check as `songda run --sandbox` would"
    )
    check.add_argument(
        "--for",
        dest="for_command",
        choices=["run", "web", "worker"],
        default="run",
        help="the command the settings are meant for",
    )


def run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(sandbox=args.sandbox)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"error: {problem}")
        print(f"{len(exc.problems)} problem(s) found")
        return EXIT_USAGE
    warnings = deployment_warnings(settings, args.for_command)
    if not args.sandbox:  # the sandbox creates its key on first start
        warnings += key_problems(settings.keys_dir)
    for warning in warnings:
        print(f"error: {warning}")
    if warnings:
        return EXIT_USAGE
    for advice in advisories(settings):
        print(f"warning: {advice}")
    print(
        f"configuration OK (database {settings.database_url.split(':', 1)[0]}, "
        f"redis {'embedded' if settings.redis_url is None else 'external'}, "
        f"court {settings.court_name!r}, time zone {settings.time_zone}, "
        f"third-party time {_tsa_summary(settings)})"
    )
    print(settings.fonts.report())
    return 0


def _tsa_summary(settings: Settings) -> str:
    if settings.tsa_url:
        return settings.tsa_url
    return "the sandbox's own TSA, started with it" if settings.sandbox else "none"
