"""Words for a person whose reader is not known where they are made.

A service refusing a clerk's action, or a validation error, is raised far from the page or the
API answer that shows it; it carries a :class:`Text` (msgid and parameters), and the page
translates it into its reader's language while logs and problem details keep the English.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from templates.i18n import SOURCE_LOCALE, translate
from templates.labels import label


@dataclass(frozen=True)
class Code:
    """A code (a state, a channel, a reason) inside a :class:`Text`: shown as its label."""

    kind: str
    value: object


@dataclass(frozen=True)
class Text:
    """Words for a person made where the reader's language is unknown (a service refusing an
    action, a validation error), translated where they are shown: ``text.in_locale(locale)``.

    ``str(text)`` is the English, for logs and the API's problem details. Parameters that are
    :class:`Code` read as their labels; others are shown as they are.
    """

    msgid: str
    params: Mapping[str, object] = field(default_factory=dict)

    def in_locale(self, locale: str) -> str:
        values = {
            name: label(locale, v.kind, v.value) if isinstance(v, Code) else v
            for name, v in self.params.items()
        }
        return translate(locale, self.msgid, **values)

    def __str__(self) -> str:
        return self.in_locale(SOURCE_LOCALE)


def wording(msgid: str, **params: object) -> Text:
    """A :class:`Text`; Babel extracts ``msgid`` (keyword ``wording``)."""
    return Text(msgid, params)
