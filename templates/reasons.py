"""A stored reason as a person reads it.

Reasons are written by the code that decides (``returned: moved``, ``refused by family``,
``channel_unavailable: <the adapter's words>``, ``no_e_service_consent``) and kept as written: they
are evidence and the case system reads them. A page shows each known part through its label
(templates/labels.py, kinds ``reason`` and ``relation``); a part no table knows — an SMTP server's
message, a carrier's note — is shown as it came, since it is the outside world's own words.
"""

from __future__ import annotations

import re

from templates.i18n import translate
from templates.labels import has_label, label

_REFUSED_BY = re.compile(r"^refused by (?P<who>\S+)$")
_NOT_ENTITLED = re.compile(r"^PM-7: signed by someone not entitled to receive \((?P<who>[^)]*)\)$")


def reason_text(locale: str, reason: object) -> str:
    """``reason`` in ``locale``: a label, a labelled prefix and detail, or the text itself."""
    if reason is None:
        return ""
    text = str(reason).strip()
    if has_label("reason", text):
        return label(locale, "reason", text)
    if match := _REFUSED_BY.match(text):
        who = label(locale, "relation", match["who"])
        return translate(locale, "refused by %(who)s", who=who)
    if match := _NOT_ENTITLED.match(text):
        who = label(locale, "relation", match["who"])
        return translate(
            locale, "PM-7: signed by someone not entitled to receive (%(who)s)", who=who
        )
    what, colon, detail = text.partition(": ")
    if colon and has_label("reason", what):
        return translate(
            locale,
            "%(what)s: %(detail)s",
            what=label(locale, "reason", what),
            detail=reason_text(locale, detail),
        )
    return text
