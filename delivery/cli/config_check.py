"""``songda config check``: name every missing or invalid setting, then what is merely unwise.

Errors (exit 2) are what would stop the command the settings are meant for (``--for``); warnings
are advice that does not. Both are said in the operator's language (delivery/cli/language.py);
the settings' names, values and paths in them are printed as they are.
"""

from __future__ import annotations

import argparse
from typing import Any

from delivery.cli.language import _, ngettext, said
from delivery.cli.settings import EXIT_USAGE
from delivery.config import (
    ConfigError,
    Settings,
    advisories,
    deployment_warnings,
    load_settings,
)
from delivery.infra.keys import key_problems
from templates.fonts import cmap_of, font_name


def add_parser(commands: Any) -> None:
    config = commands.add_parser("config", help=_("configuration"))
    config_commands = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    check = config_commands.add_parser("check", help=_("name every missing or invalid setting"))
    check.add_argument(
        "--sandbox", action="store_true", help=_("check as `songda run --sandbox` would")
    )
    check.add_argument(
        "--for",
        dest="for_command",
        choices=["run", "web", "worker"],
        default="run",
        help=_("the command the settings are meant for"),
    )


def run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(sandbox=args.sandbox)
    except ConfigError as exc:
        for problem in exc.wordings:
            print(_("error: %(problem)s", problem=said(problem)))
        print(_("%(n)s problem(s) found", n=len(exc.wordings)))
        return EXIT_USAGE
    warnings = deployment_warnings(settings, args.for_command)
    if not args.sandbox:  # the sandbox creates its key on first start
        warnings += key_problems(settings.keys_dir)
    for warning in warnings:
        print(_("error: %(problem)s", problem=said(warning)))
    if warnings:
        return EXIT_USAGE
    for advice in advisories(settings):
        print(_("warning: %(advice)s", advice=said(advice)))
    print(
        _(
            "configuration OK (database %(database)s, redis %(redis)s, court %(court)s, "
            "time zone %(zone)s, third-party time %(tsa)s)",
            database=settings.database_url.split(":", 1)[0],
            redis=_("embedded") if settings.redis_url is None else _("external"),
            court=repr(settings.court_name),
            zone=settings.time_zone,
            tsa=_tsa_summary(settings),
        )
    )
    print(_fonts(settings))
    return 0


def _fonts(settings: Settings) -> str:
    """The fonts PDFs are made with (what start-up logs in English as ``fonts.report()``)."""
    lines = [_("PDF fonts (only these; no font of the machine is used):")]
    for font in settings.fonts.fonts:
        characters = len(cmap_of(font.path))
        kind = _("bundled") if font.bundled else _("supplementary")
        count = f"{characters:,}"
        lines.append(
            "  "
            + ngettext(
                "%(font)s (%(kind)s, %(count)s character): %(path)s",
                "%(font)s (%(kind)s, %(count)s characters): %(path)s",
                characters,
                font=font_name(font.path),
                kind=kind,
                count=count,
                path=font.path,
            )
        )
    return "\n".join(lines)


def _tsa_summary(settings: Settings) -> str:
    if settings.tsa_url:
        return settings.tsa_url
    return _("the sandbox's own TSA, started with it") if settings.sandbox else _("none")
