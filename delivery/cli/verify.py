"""``songda verify``: check an evidence bundle offline, or a dispatch's rows with ``--db``.

Exit 0 valid, 1 invalid, 2 unusable input (message on stderr).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from delivery.cli.language import _, cli_locale
from delivery.cli.settings import EXIT_USAGE, database_settings_or_exit
from delivery.config import keys_dir_from_env


def add_parser(commands: Any) -> None:
    verify = commands.add_parser(
        "verify", help=_("check an evidence bundle offline (or a dispatch's records with --db)")
    )
    verify.add_argument("target", metavar="BUNDLE.zip|DISPATCH_ID")
    verify.add_argument(
        "--keys",
        metavar="URL|FILE",
        help=_(
            "the court's public keys (/.well-known/songda-keys.json, saved or its URL); "
            "default: the local keys directory"
        ),
    )
    verify.add_argument(
        "--tsa-cert",
        metavar="FILE",
        help=_(
            "the time-stamping authority's certificate (PEM) to check the checkpoints' RFC 3161 "
            "tokens with; default: the bundle's tsa/certificate.pem, or SONGDA_TSA_CERT with --db"
        ),
    )
    verify.add_argument(
        "--db",
        action="store_true",
        help=_("check the dispatch DISPATCH_ID's rows in the database instead of a bundle"),
    )
    verify.add_argument(
        "--sandbox",
        action="store_true",
        help=_(
            "with --db: check the tokens under the sandbox's own TSA certificate (the default "
            "in a data directory `songda run --sandbox` made)"
        ),
    )


def run(args: argparse.Namespace) -> int:
    from delivery.infra.keys import KeyStoreError, published_keys
    from tracking.verify import load_keys, tsa_certificates, verify_bundle
    from tracking.verify_chain import UnusableInput

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
                    _(
                        "no court keys in %(dir)s: give --keys URL|FILE "
                        "(the court's /.well-known/songda-keys.json)",
                        dir=keys_dir,
                    )
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
    print(report.render(cli_locale()))
    return 0 if report.valid else 1


def _verify_db(dispatch_id: str, keys: dict[str, Any], tsa_certs: Any, *, sandbox: bool) -> Any:
    """``verify --db``: the TSA certificate from ``--tsa-cert``, else ``SONGDA_TSA_CERT``, else
    the sandbox's own TSA (``--sandbox``, or a sandbox's data directory)."""
    from delivery.sandbox.tsa_standin import sandbox_tsa_certificate
    from delivery.services.evidence import verify_in_database
    from delivery.storage.engine import create_engine
    from tracking.verify import tsa_certificates
    from tracking.verify_chain import UnusableInput

    settings = database_settings_or_exit()
    path = settings.tsa_cert_path
    if path is None and (sandbox or settings.sandbox):
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
        raise UnusableInput(_("no dispatch %(id)s in the database", id=dispatch_id))
    return report
