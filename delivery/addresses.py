"""What a usable address looks like, for every place that accepts one (API, clerk actions)."""

from __future__ import annotations

import re

from delivery.domain import ContactKind
from delivery.text import text_problem

# ASCII addresses only (no SMTPUTF8 relay is assumed), and nothing a header parser could split:
# no commas, quotes, angle brackets or spaces.
EMAIL_RE = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
PHONE_RE = re.compile(r"^\+[1-9][0-9]{6,14}$")
MAX_POSTAL = 500


def address_problem(kind: ContactKind, value: str) -> str | None:
    """Why ``value`` cannot be an address of ``kind``, or ``None`` when it can."""
    if (problem := text_problem(value)) is not None:
        return problem
    if kind == ContactKind.EMAIL and not EMAIL_RE.match(value):
        return "must be an e-mail address"
    if kind == ContactKind.PHONE and not PHONE_RE.match(value):
        return "must be an E.164 number (+86...)"
    if kind == ContactKind.POSTAL and not 0 < len(value) <= MAX_POSTAL:
        return f"must be 1 to {MAX_POSTAL} characters"
    return None
