"""What a usable address looks like, for every place that accepts one (API, clerk actions).

Phone numbers are read by :mod:`delivery.phones` (a pasted 11-digit mainland number is stored as
E.164); the other kinds are stored as given.
"""

from __future__ import annotations

import re

from delivery.domain import ContactKind
from delivery.phones import parse_phone
from delivery.text import text_problem
from templates.i18n import N_

# ASCII addresses only (no SMTPUTF8 relay is assumed), and nothing a header parser could split:
# no commas, quotes, angle brackets or spaces.
EMAIL_RE = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
MAX_POSTAL = 500


def check_address(kind: ContactKind, value: str) -> tuple[str, str | None]:
    """``value`` as it is stored (a phone number in E.164), and why it cannot be an address of
    ``kind`` (``None`` when it can)."""
    if (problem := text_problem(value)) is not None:
        return value, problem
    if kind == ContactKind.EMAIL and not EMAIL_RE.match(value):
        return value, N_("must be an e-mail address")
    if kind == ContactKind.PHONE:
        phone = parse_phone(value)
        return phone.e164 or value, phone.problem
    if kind == ContactKind.POSTAL and not 0 < len(value) <= MAX_POSTAL:
        return value, f"must be 1 to {MAX_POSTAL} characters"
    return value, None
