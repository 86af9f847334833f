"""Secrets Songda must read back (webhook signing secrets), encrypted at rest (docs/decisions/0028).

``SONGDA_SECRETS_KEY`` holds one or more Fernet keys, newest first: new secrets are sealed under
the first, every key opens, and ``songda secrets rotate`` re-seals everything under the first so
an old key can then be dropped. A database dump or backup alone no longer lets anyone sign
webhooks a case system would trust.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from delivery.infra.private_files import generated_once


class SecretKeyError(ValueError):
    """The configured key list is unusable; the message names why (never a key)."""


class SecretBox:
    def __init__(self, keys: tuple[str, ...]) -> None:
        if not keys:
            raise SecretKeyError("no key given")
        try:
            self._fernets = [Fernet(k.encode("ascii")) for k in keys]
        except (ValueError, UnicodeEncodeError):
            raise SecretKeyError(
                "each key must be a Fernet key (32 url-safe base64-encoded bytes; "
                "`songda secrets new-key` prints one)"
            ) from None
        self._all = MultiFernet(self._fernets)

    def seal(self, secret: str) -> str:
        return self._all.encrypt(secret.encode()).decode("ascii")

    def open(self, sealed: str) -> str:
        """The secret; :class:`InvalidToken` when no configured key opens it."""
        return self._all.decrypt(sealed.encode("ascii")).decode()

    def is_current(self, sealed: str) -> bool:
        """Sealed under the newest key already (rotation leaves it alone)."""
        try:
            self._fernets[0].decrypt(sealed.encode("ascii"))
        except InvalidToken:
            return False
        return True

    def reseal(self, sealed: str) -> str:
        """The same secret sealed under the newest key; :class:`InvalidToken` if unreadable."""
        return self._all.rotate(sealed.encode("ascii")).decode("ascii")


def parse_keys(text: str) -> tuple[str, ...]:
    """The keys of a ``SONGDA_SECRETS_KEY`` value: comma-separated, newest first."""
    return tuple(k.strip() for k in text.split(",") if k.strip())


def new_key() -> str:
    return Fernet.generate_key().decode("ascii")


SANDBOX_KEY_FILE = "sandbox_secrets_key"


def sandbox_key(data_dir: Path) -> str:
    """The sandbox's key, generated once into an owner-only file in the data directory."""
    return generated_once(data_dir / SANDBOX_KEY_FILE, new_key)
