"""The ``songda`` command line: the parser and the dispatch to each command's module.

Bad input gets a message on stderr and exit code 2; a check that finds problems exits 2 too.
Each command lives in its own module with an ``add_parser(commands)`` and a ``run``; only the
server commands (``run``, ``web``, ``worker``) are here, being the program itself.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext

import uvloop

from delivery.cli import (
    apikey,
    config_check,
    db,
    holidays,
    keys,
    report,
    secrets,
    sms,
    staff,
    verify,
)
from delivery.cli.language import _, said
from delivery.cli.settings import EXIT_USAGE, database_settings_or_exit, settings_or_exit
from delivery.config import advisories, deployment_warnings
from delivery.infra.data_dir_lock import DataDirBusy, holding_data_dir
from delivery.infra.keys import key_problems
from delivery.infra.private_files import PROCESS_UMASK
from delivery.jobs.job_queue import QueueKind
from delivery.logs import configure_logging


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="songda", description=_("Electronic service of process"))
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help=_("web + worker + embedded Redis in one process"))
    run.add_argument(
        "--sandbox",
        action="store_true",
        help=_("add the local stand-ins (SMTP sink and mailbox page); never in production"),
    )
    commands.add_parser("web", help=_("the HTTP server only"))
    worker = commands.add_parser("worker", help=_("the job workers only"))
    worker.add_argument(
        "--queues",
        type=_queue_kinds,
        default=tuple(QueueKind),
        metavar="KIND[,KIND]",
        help=_(
            "the queues to work: send (sends, advances, webhooks, tracking polls) and/or render "
            "(certificates, timestamps); default: both"
        ),
    )
    for command in (db, apikey, staff, holidays, keys, verify, report, sms, secrets, config_check):
        command.add_parser(commands)
    return parser


def _queue_kinds(text: str) -> tuple[QueueKind, ...]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    known = {kind.value: kind for kind in QueueKind}
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            _(
                "name one or more of %(kinds)s, comma-separated (got %(text)s)",
                kinds=", ".join(known),
                text=repr(text),
            )
        )
    return tuple(dict.fromkeys(known[name] for name in names))


def _serve(args: argparse.Namespace) -> int:
    """``run``, ``web`` or ``worker``: refuse settings that would not work, then serve."""
    from delivery.server import serve

    settings = settings_or_exit(sandbox=getattr(args, "sandbox", False))
    problems = deployment_warnings(settings, args.command)
    if not settings.sandbox:  # the sandbox creates its key on first start
        problems += key_problems(settings.keys_dir)
    if problems:
        for problem in problems:
            print(f"songda: {said(problem)}", file=sys.stderr)
        return EXIT_USAGE
    for advice in advisories(settings):
        print("songda: " + _("warning: %(advice)s", advice=said(advice)), file=sys.stderr)
    queues = () if args.command == "web" else getattr(args, "queues", tuple(QueueKind))
    # One `songda run` per data directory: its private Redis and SQLite file are its own.
    held: AbstractContextManager[None] = (
        holding_data_dir(settings.data_dir) if args.command == "run" else nullcontext()
    )
    try:
        # uvloop: the service spends a fifth of its CPU in the event loop itself.
        with held, asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(
                serve(
                    settings,
                    web_server=args.command != "worker",
                    queues=queues,
                    migrate=args.command == "run",
                )
            )
    except DataDirBusy as busy:
        print(f"songda: {busy}", file=sys.stderr)
        return EXIT_USAGE
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    # Whatever the operator's umask, what Songda writes in the data directory (database,
    # documents, keys, generated secrets) is readable by its own user only.
    os.umask(PROCESS_UMASK)
    args = build_parser().parse_args(argv)
    if args.command == "secrets" and args.secrets_command == "new-key":
        return secrets.print_new_key()
    if args.command == "config":
        return config_check.run(args)
    if args.command == "keys":
        return keys.run(args)
    if args.command == "verify":
        return verify.run(args)
    if args.command == "calendar":
        return holidays.run(args.file)
    configure_logging()
    if args.command in ("run", "web", "worker"):
        return _serve(args)
    if args.command in ("apikey", "user", "report", sms.COMMAND):
        return _database_command(args)
    settings = settings_or_exit()
    if args.command == "secrets":
        return secrets.run(settings, args)
    return db.run(settings)


def _database_command(args: argparse.Namespace) -> int:
    """The commands that need the database alone (``verify --db`` reads it the same way)."""
    settings = database_settings_or_exit()
    if args.command == "user":
        return staff.run(settings, args)
    if args.command == "report":
        return report.run(settings, args)
    if args.command == sms.COMMAND:
        return sms.run(settings)
    return apikey.run(settings, args)


if __name__ == "__main__":
    sys.exit(main())
