"""Which characters a stored text may hold: the one rule every entry point applies
(docs/decisions/0027).

A name, title, case number, reference, address or note is text a person wrote. None contains a
NUL (PostgreSQL refuses it: a 500 where a 422 belongs), another C0 or C1 control character
(they split headers and CSV rows, and are invisible on a page or a certificate), DEL, or a lone
surrogate (not text at all: it cannot be encoded as UTF-8, stored or canonicalised for the
evidence chain). Only a text that runs over lines — a clerk's note, a notice's body — may hold
line breaks and tabs; a one-line field may not, so no name or subject is ever split in two.
"""

from __future__ import annotations

import re

# C0 controls, DEL, C1 controls and lone surrogates; TAB, LF and CR are the multi-line exception.
_NEVER = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff"
_FORBIDDEN_ONE_LINE = re.compile(f"[{_NEVER}\t\n\r]")
_FORBIDDEN_MULTI_LINE = re.compile(f"[{_NEVER}]")
CONTROL_CHARACTERS = "must not contain control characters"
# Fields that hold prose over several lines, by the name every form and body gives them.
# (``Body``: Twilio's name for the text of an inbound SMS.)
MULTI_LINE_FIELDS = frozenset({"note", "reason", "body", "detail", "Body"})


def text_problem(value: str, *, multi_line: bool = False) -> str | None:
    """Why ``value`` cannot be stored as text (None: it can)."""
    forbidden = _FORBIDDEN_MULTI_LINE if multi_line else _FORBIDDEN_ONE_LINE
    return CONTROL_CHARACTERS if forbidden.search(value) else None


def field_text_problem(field: str, value: str) -> str | None:
    """:func:`text_problem` for the field named ``field`` (its last dotted segment says whether
    it may run over lines: ``actions.note`` may, ``recipient.name`` may not)."""
    last = field.rsplit(".", 1)[-1].split("[", 1)[0]
    return text_problem(value, multi_line=last in MULTI_LINE_FIELDS)
