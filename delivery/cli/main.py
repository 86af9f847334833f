"""The ``songda`` command line.

Bad input gets a message on stderr and exit code 2; a check that finds problems exits 2 too.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import uvloop

from delivery.cli.report import add_parser as add_report_parser
from delivery.cli.report import run as run_report
from delivery.cli.secrets import add_parser as add_secrets_parser
from delivery.cli.secrets import print_new_key
from delivery.cli.secrets import run as run_secrets
from delivery.config import (
    ConfigError,
    Settings,
    advisories,
    calendar_file_in,
    data_dir_from_env,
    deployment_warnings,
    keys_dir_from_env,
    load_settings,
)
from delivery.infra.data_dir_lock import DataDirBusy, holding_data_dir
from delivery.infra.keys import key_problems
from delivery.infra.private_files import PROCESS_UMASK, private_dir
from delivery.jobs.job_queue import QueueKind
from delivery.logs import configure_logging
from delivery.services.api_keys import SCOPES
from delivery.staff import Role

EXIT_USAGE = 2
PASSPHRASE_ENV = "SONGDA_KEY_PASSPHRASE"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="songda", description="Electronic service of process")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="web + worker + embedded Redis in one process")
    run.add_argument(
        "--sandbox",
        action="store_true",
        help="add the local stand-ins (SMTP sink and mailbox page); never in production",
    )
    commands.add_parser("web", help="the HTTP server only")
    worker = commands.add_parser("worker", help="the job workers only")
    worker.add_argument(
        "--queues",
        type=_queue_kinds,
        default=tuple(QueueKind),
        metavar="KIND[,KIND]",
        help="the queues to work: send (sends, advances, webhooks, tracking polls) and/or render "
        "(certificates, timestamps); default: both",
    )

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_commands.add_parser("upgrade", help="apply all migrations")

    apikey = commands.add_parser("apikey", help="API keys for case systems")
    apikey_commands = apikey.add_subparsers(dest="apikey_command", required=True, metavar="ACTION")
    create = apikey_commands.add_parser("create", help="create a key; it is printed once")
    create.add_argument("--name", required=True, help="who the key is for")
    create.add_argument(
        "--court",
        action="append",
        default=[],
        help="a court the key may use (repeatable; default SONGDA_COURT_NAME)",
    )
    create.add_argument(
        "--scope",
        action="append",
        default=[],
        choices=sorted(SCOPES),
        help="a power beyond the court's dispatches (repeatable): bounces = may report bounces, "
        "which reverse service (only the court's bounce processor)",
    )

    user = commands.add_parser("user", help="staff accounts (clerks, supervisors, ...)")
    user_commands = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    user_create = user_commands.add_parser(
        "create", help="create a staff account (a generated password is printed once)"
    )
    user_create.add_argument("--username", required=True, help="the login name")
    user_create.add_argument("--name", required=True, help="the name shown to colleagues")
    user_create.add_argument(
        "--role",
        action="append",
        required=True,
        choices=[r.value for r in Role],
        help="a role (repeatable)",
    )
    user_create.add_argument(
        "--court",
        action="append",
        default=[],
        help="a court the account may see (repeatable; default SONGDA_COURT_NAME)",
    )
    user_create.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input instead of generating one",
    )
    user_commands.add_parser("list", help="list staff accounts (no password hashes)")

    calendar = commands.add_parser("calendar", help="the holiday data periods are counted with")
    calendar_commands = calendar.add_subparsers(
        dest="calendar_command", required=True, metavar="ACTION"
    )
    calendar_import = calendar_commands.add_parser(
        "import",
        help="merge holiday data into the court's file (default: the chinese-calendar package)",
    )
    calendar_import.add_argument(
        "--file", help="a TOML file with [years.YYYY] holidays = [...] workdays = [...]"
    )

    keys = commands.add_parser(
        "keys", help="the court's signing keys (Ed25519 + an X.509 certificate for PDFs)"
    )
    keys_commands = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    keys_commands.add_parser(
        "create",
        help="create a key set issued by the court root (made if none) and make it the active "
        "one (old keys stay published)",
    )
    key_import = keys_commands.add_parser(
        "import",
        help="make a key set around a PDF-signing key and chain from the court's CA (active)",
    )
    key_import.add_argument("--key", metavar="KEY.pem", help="the private key (PEM)")
    key_import.add_argument(
        "--chain", metavar="CHAIN.pem", help="its certificate and every issuer up to the root"
    )
    key_import.add_argument(
        "--pkcs12", metavar="FILE.p12", help="key and chain in one PKCS#12 file instead"
    )
    key_import.add_argument(
        "--passphrase-stdin",
        action="store_true",
        help=f"read the passphrase from standard input's first line (else ${PASSPHRASE_ENV})",
    )
    keys_commands.add_parser(
        "list", help="list the keys (kid, created, PDF certificate, active or retired)"
    )

    verify = commands.add_parser(
        "verify", help="check an evidence bundle offline (or a dispatch's records with --db)"
    )
    verify.add_argument("target", metavar="BUNDLE.zip|DISPATCH_ID")
    verify.add_argument(
        "--keys",
        metavar="URL|FILE",
        help="the court's public keys (/.well-known/songda-keys.json, saved or its URL); "
        "default: the local keys directory",
    )
    verify.add_argument(
        "--tsa-cert",
        metavar="FILE",
        help="the time-stamping authority's certificate (PEM) to check the checkpoints' RFC 3161 "
        "tokens with; default: the bundle's tsa/certificate.pem, or SONGDA_TSA_CERT with --db",
    )
    verify.add_argument(
        "--db",
        action="store_true",
        help="check the dispatch DISPATCH_ID's rows in the database instead of a bundle",
    )
    verify.add_argument(
        "--sandbox",
        action="store_true",
        help="with --db: the sandbox's settings (`songda run --sandbox`) and its TSA certificate",
    )

    add_report_parser(commands)
    add_secrets_parser(commands)

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
    return parser


def _queue_kinds(text: str) -> tuple[QueueKind, ...]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    known = {kind.value: kind for kind in QueueKind}
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"name one or more of {', '.join(known)}, comma-separated (got {text!r})"
        )
    return tuple(dict.fromkeys(known[name] for name in names))


def _settings(sandbox: bool = False) -> Settings:
    try:
        return load_settings(sandbox=sandbox)
    except ConfigError as exc:
        print("songda: the configuration is not usable:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        print("Run `songda config check` after fixing it.", file=sys.stderr)
        raise SystemExit(EXIT_USAGE) from None


def _config_check(args: argparse.Namespace) -> int:
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


def _calendar_import(file: str | None) -> int:
    """Merge years into the court's holiday file; years in the import replace the same years."""
    from escalation.calendar import (
        CalendarError,
        from_chinese_calendar_package,
        load_calendar,
        parse_calendar,
        render_calendar,
    )

    target = calendar_file_in(data_dir_from_env())
    try:
        if file is None:
            incoming = from_chinese_calendar_package()
        else:
            incoming = parse_calendar(Path(file).read_text(encoding="utf-8"), file)
        merged = load_calendar(target).merged(incoming)
    except (CalendarError, OSError) as exc:
        print(f"songda: {exc}", file=sys.stderr)
        return EXIT_USAGE
    private_dir(target.parent)
    target.write_text(render_calendar(merged), encoding="utf-8")
    print(f"{target}: years {', '.join(str(y) for y in sorted(merged.years))}")
    return 0


async def _db_upgrade(settings: Settings) -> None:
    from delivery.services.webhook_secrets import migrate_and_seal
    from delivery.storage.engine import create_engine

    engine = create_engine(settings.database_url)
    try:
        await migrate_and_seal(engine, settings.secret_box)
    finally:
        await engine.dispose()


async def _apikey_create(
    settings: Settings, name: str, courts: list[str], scopes: frozenset[str]
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


async def _user_create(settings: Settings, args: argparse.Namespace, password: str) -> str | None:
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
            courts=args.court or [settings.court_name],
            password=password,
        )
    except AccountError as exc:
        return "\n".join(f"songda: {p}" for p in exc.problems)
    finally:
        await engine.dispose()
    return None


async def _user_list(settings: Settings) -> None:
    from delivery.services.staff_accounts import list_staff_users
    from delivery.storage.engine import create_engine

    engine = create_engine(settings.database_url)
    try:
        users = await list_staff_users(engine)
    finally:
        await engine.dispose()
    for user, state in users:
        status = "active" if state["disabled_at"] is None else "disabled"
        roles = ",".join(sorted(r.value for r in user.roles))
        print(f"{user.username}\t{user.display_name}\t{roles}\t{','.join(user.courts)}\t{status}")


def _user(settings: Settings, args: argparse.Namespace) -> int:
    from delivery.services.staff_accounts import account_problems, generate_password

    if args.user_command == "list":
        asyncio.run(_user_list(settings))
        return 0
    generated = not args.password_stdin
    password = generate_password() if generated else sys.stdin.readline().rstrip("\r\n")
    courts = args.court or [settings.court_name]
    problems = account_problems(args.username, args.name, args.role, courts, password)
    if problems:
        for problem in problems:
            print(f"songda: {problem}", file=sys.stderr)
        return EXIT_USAGE
    refused = asyncio.run(_user_create(settings, args, password))
    if refused is not None:
        print(refused, file=sys.stderr)
        return EXIT_USAGE
    if generated:
        print(password)
        print(f"(the password is shown once; scoped to: {', '.join(courts)})", file=sys.stderr)
    else:
        print(f"created {args.username.strip().lower()} (scoped to: {', '.join(courts)})")
    return 0


def _keys(args: argparse.Namespace) -> int:
    from delivery.clock import SystemClock
    from delivery.infra.keys import KeyStoreError, create_key, describe, published_keys
    from tracking.court_certificates import CertificateError

    keys_dir = keys_dir_from_env()
    try:
        if args.keys_command in ("create", "import"):
            if args.keys_command == "create":
                created = create_key(keys_dir, SystemClock(), _court_from_env())
            else:
                created = _import_key(keys_dir, args)
            print(describe(created, keys_dir))
            print(
                f"(the active court key now; private keys in {keys_dir}, mode 0600)",
                file=sys.stderr,
            )
            return 0
        listed = published_keys(keys_dir)
    except (KeyStoreError, CertificateError, OSError) as exc:
        print(f"songda: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not listed:
        print(f"songda: no keys in {keys_dir}: run `songda keys create`", file=sys.stderr)
        return EXIT_USAGE
    for key in listed:
        print(describe(key, keys_dir))
    return 0


def _court_from_env() -> str:
    """The court the root and certificates name (SONGDA_COURT_NAME). Required: the court root
    is made once and names its court for good, so a root named after the sandbox court (or
    anything guessed) would stay with a production install."""
    from delivery.infra.keys import KeyStoreError

    court = os.environ.get("SONGDA_COURT_NAME", "").strip()
    if not court:
        raise KeyStoreError(
            "SONGDA_COURT_NAME is not set: the court root and certificates name the court, "
            "and the root is made once — set it and run `songda keys create` again"
        )
    return court


def _import_key(keys_dir: Path, args: argparse.Namespace) -> Any:
    """Import --key/--chain PEM files or a --pkcs12 file; the passphrase never on the command
    line (stdin or the environment), so it is not in the shell history or the process list."""
    from delivery.clock import SystemClock
    from delivery.infra.keys import import_key
    from tracking import court_certificates as certs

    if args.passphrase_stdin:
        passphrase = sys.stdin.readline().rstrip("\r\n").encode()
    else:
        passphrase = os.environ.get(PASSPHRASE_ENV, "").encode()
    if args.pkcs12 and not (args.key or args.chain):
        key, chain = certs.load_pkcs12(Path(args.pkcs12).read_bytes(), passphrase)
    elif args.key and args.chain and not args.pkcs12:
        key = certs.load_pem_key(Path(args.key).read_bytes(), passphrase or None)
        chain = certs.load_pem_chain(Path(args.chain).read_bytes())
    else:
        raise certs.CertificateError("give --key and --chain (PEM), or --pkcs12")
    return import_key(keys_dir, SystemClock(), key, chain)


def _verify(args: argparse.Namespace) -> int:
    """Exit 0 valid, 1 invalid, 2 unusable input (message on stderr)."""
    from delivery.infra.keys import KeyStoreError, published_keys
    from tracking.verify import UnusableInput, load_keys, tsa_certificates, verify_bundle

    try:
        if args.keys:
            keys = load_keys(args.keys)
        else:
            keys_dir = keys_dir_from_env()
            try:
                keys = {k.kid: k for k in published_keys(keys_dir)}
            except KeyStoreError as exc:
                raise UnusableInput(str(exc)) from None
            if not keys:
                raise UnusableInput(
                    f"no court keys in {keys_dir}: give --keys URL|FILE "
                    "(the court's /.well-known/songda-keys.json)"
                )
        tsa_certs = None
        if args.tsa_cert:
            try:
                tsa_certs = tsa_certificates(Path(args.tsa_cert).read_bytes(), args.tsa_cert)
            except OSError as exc:
                raise UnusableInput(f"{args.tsa_cert}: {exc.strerror}") from None
        if args.db:
            report = _verify_db(args.target, keys, tsa_certs, sandbox=args.sandbox)
        else:
            try:
                data = Path(args.target).read_bytes()
            except OSError as exc:
                raise UnusableInput(f"{args.target}: {exc.strerror}") from None
            report = verify_bundle(data, keys, tsa_certs)
    except UnusableInput as exc:
        print(f"songda verify: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(report.render())
    return 0 if report.valid else 1


def _verify_db(dispatch_id: str, keys: dict[str, Any], tsa_certs: Any, *, sandbox: bool) -> Any:
    """``verify --db``: the TSA certificate from ``--tsa-cert``, else from configuration (the
    sandbox's own TSA with ``--sandbox``)."""
    from delivery.sandbox.tsa_standin import sandbox_tsa_certificate
    from delivery.services.evidence import verify_in_database
    from delivery.storage.engine import create_engine
    from tracking.verify import UnusableInput, tsa_certificates

    settings = _settings(sandbox=sandbox)
    path = settings.tsa_cert_path
    if path is None and sandbox:
        path = sandbox_tsa_certificate(settings.data_dir)
    if tsa_certs is None and path is not None and path.exists():
        tsa_certs = tsa_certificates(path.read_bytes(), str(path))

    async def check() -> Any:
        engine = create_engine(settings.database_url)
        try:
            return await verify_in_database(engine, dispatch_id, keys, tsa_certs)
        finally:
            await engine.dispose()

    report = asyncio.run(check())
    if report is None:
        raise UnusableInput(f"no dispatch {dispatch_id} in the database")
    return report


def main(argv: Sequence[str] | None = None) -> int:
    # Whatever the operator's umask, what Songda writes in the data directory (database,
    # documents, keys, generated secrets) is readable by its own user only.
    os.umask(PROCESS_UMASK)
    args = build_parser().parse_args(argv)
    if args.command == "secrets" and args.secrets_command == "new-key":
        return print_new_key()
    if args.command == "config":
        return _config_check(args)
    if args.command == "keys":
        return _keys(args)
    if args.command == "verify":
        return _verify(args)
    if args.command == "calendar":
        return _calendar_import(args.file)
    configure_logging()
    if args.command in ("run", "web", "worker"):
        from delivery.server import serve

        settings = _settings(sandbox=getattr(args, "sandbox", False))
        problems = deployment_warnings(settings, args.command)
        if not settings.sandbox:  # the sandbox creates its key on first start
            problems += key_problems(settings.keys_dir)
        if problems:
            for problem in problems:
                print(f"songda: {problem}", file=sys.stderr)
            return EXIT_USAGE
        for advice in advisories(settings):
            print(f"songda: warning: {advice}", file=sys.stderr)
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
    settings = _settings()
    if args.command == "user":
        return _user(settings, args)
    if args.command == "report":
        return run_report(settings, args)
    if args.command == "secrets":
        return run_secrets(settings, args)
    if args.command == "db":
        asyncio.run(_db_upgrade(settings))
        print("database is at the newest migration")
        return 0
    courts = args.court or [settings.court_name]
    if not args.name.strip() or any(not c.strip() for c in courts):
        print("songda: --name and --court must not be empty", file=sys.stderr)
        return EXIT_USAGE
    scopes = frozenset(args.scope)
    token = asyncio.run(
        _apikey_create(settings, args.name.strip(), [c.strip() for c in courts], scopes)
    )
    print(token)
    granted = f"; may: {', '.join(sorted(scopes))}" if scopes else ""
    print(f"(shown once; scoped to: {', '.join(courts)}{granted})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
