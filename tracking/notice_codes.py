"""Notice codes: the short code printed on every e-mail, SMS and letter (``/check``).

Eight characters from a 32-symbol alphabet without the look-alikes 0/O and 1/I (40 bits),
shown as ``XXXX-XXXX``. A recipient types it, with the last 4 characters of their phone or
identity number, at the court's own ``/check`` page to learn whether the notice is genuine.
Pure functions only: storage is ``delivery.storage.notice_codes``.
"""

from __future__ import annotations

import secrets
import unicodedata

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
LENGTH = 8
BITS = LENGTH * 5  # 32 symbols: 5 bits each


def new_code() -> str:
    """A random code, stored without its dash."""
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def display(code: str) -> str:
    """``ABCD2345`` → ``ABCD-2345``."""
    half = LENGTH // 2
    return f"{code[:half]}-{code[half:]}"


def normalise(typed: str) -> str | None:
    """What a person typed → the stored form, or None when it cannot be a code.

    Case, spaces and dashes do not matter, and full-width characters (typed with a Chinese
    input method) are folded to ASCII. 0, O, 1 and I are not in the alphabet, so a code never
    has to be told apart from them.
    """
    folded = unicodedata.normalize("NFKC", typed[:64]).upper()
    value = "".join(c for c in folded if c not in " -\u2010\u2011\u2012\u2013\u2014\u2212\t")
    if len(value) != LENGTH or any(c not in ALPHABET for c in value):
        return None
    return value
