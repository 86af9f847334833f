"""``songda keys``: the court's signing keys (Ed25519 + an X.509 certificate for PDFs).

Reads only the keys directory from the environment, so keys can be made before the rest of the
configuration is complete.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from delivery.cli.language import _, cli_locale
from delivery.cli.settings import EXIT_USAGE
from delivery.config import data_dir_from_env, keys_dir_from_env

PASSPHRASE_ENV = "SONGDA_KEY_PASSPHRASE"


def add_parser(commands: Any) -> None:
    keys = commands.add_parser(
        "keys", help=_("the court's signing keys (Ed25519 + an X.509 certificate for PDFs)")
    )
    keys_commands = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    keys_commands.add_parser(
        "create",
        help=_(
            "create a key set issued by the court root (made if none) and make it the active "
            "one (old keys stay published)"
        ),
    )
    key_import = keys_commands.add_parser(
        "import",
        help=_("make a key set around a PDF-signing key and chain from the court's CA (active)"),
    )
    key_import.add_argument("--key", metavar="KEY.pem", help=_("the private key (PEM)"))
    key_import.add_argument(
        "--chain",
        metavar="CHAIN.pem",
        help=_("its certificate and every issuer up to the root"),
    )
    key_import.add_argument(
        "--pkcs12", metavar="FILE.p12", help=_("key and chain in one PKCS#12 file instead")
    )
    key_import.add_argument(
        "--passphrase-stdin",
        action="store_true",
        help=_(
            "read the passphrase from standard input's first line (else $%(variable)s)",
            variable=PASSPHRASE_ENV,
        ),
    )
    keys_commands.add_parser(
        "list", help=_("list the keys (kid, created, PDF certificate, active or retired)")
    )


def run(args: argparse.Namespace) -> int:
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
            print(describe(created, keys_dir, cli_locale()))
            print(
                _("(the active court key now; private keys in %(dir)s, mode 0600)", dir=keys_dir),
                file=sys.stderr,
            )
            return 0
        listed = published_keys(keys_dir)
    except (KeyStoreError, CertificateError, OSError) as exc:
        print(f"songda: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not listed:
        print(
            "songda: " + _("no keys in %(dir)s: run `songda keys create`", dir=keys_dir),
            file=sys.stderr,
        )
        return EXIT_USAGE
    for key in listed:
        print(describe(key, keys_dir, cli_locale()))
    return 0


def _court_from_env() -> str:
    """The court the root and certificates name (SONGDA_COURT_NAME). Required: the court root
    is made once and names its court for good, so a root named after the sandbox court (or
    anything guessed) would stay with a production install — except in a sandbox's own data
    directory, whose root already names the sandbox court."""
    from delivery.config_checks import SANDBOX_COURT, is_sandbox_data_dir
    from delivery.infra.keys import KeyStoreError

    court = os.environ.get("SONGDA_COURT_NAME", "").strip()
    if not court and is_sandbox_data_dir(data_dir_from_env()):
        court = SANDBOX_COURT
    if not court:
        raise KeyStoreError(
            _(
                "SONGDA_COURT_NAME is not set: the court root and certificates name the court, "
                "and the root is made once — set it and run `songda keys create` again"
            )
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
        raise certs.CertificateError(_("give --key and --chain (PEM), or --pkcs12"))
    return import_key(keys_dir, SystemClock(), key, chain)
