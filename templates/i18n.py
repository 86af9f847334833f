"""The message catalogue: every word Songda shows a person, in zh-CN and en, through gettext.

Why gettext (Babel + Jinja2's i18n extension) rather than ``'A' if en else 'B'`` in templates or
zh/en dicts in code: one catalogue a translator can read and a test can check (every message has
its Chinese; nothing is shown untranslated), and one way for pages, e-mails, SMS, PDFs, the CLI and
problem details to speak the reader's language (docs/decisions/0030-message-catalogue.md).

How to write text for people:

- The msgid is the English text. The Chinese lives in
  ``templates/locale/zh_CN/LC_MESSAGES/messages.po``; ``make messages`` extracts new msgids from
  the sources into it and compiles ``messages.mo`` (both are committed; a test checks they agree
  and that no msgid lacks its translation).
- Templates: ``{{ _("Case number") }}``, with parameters ``{{ _("Visit %(n)s of %(max)s", n=i,
  max=m) }}`` (values are escaped; the msgid is not), or ``{% trans %}…{% endtrans %}`` for a
  paragraph. A word that needs a context reads ``{{ pgettext("attempt state", "sent") }}``.
- Enum values a person sees (states, channels, roles, reasons, event types…) go through
  ``label(kind, value)`` in templates and :func:`templates.labels.label` in Python: never show a
  raw code.
- Python: ``translate(locale, "English text", name=value)`` and ``ptranslate(locale, context,
  "English text")``; mark a msgid defined ahead of use with :func:`N_` (a no-op Babel sees).
  Where the reader's language is not known yet (a service refusing an action, a validation
  error), carry ``wording("The dispatch is %(state)s", state=Code("dispatch_state", s))`` and
  translate it where it is shown (templates/texts.py).
"""

from __future__ import annotations

import gettext
from functools import cache
from pathlib import Path

from delivery.domain import LOCALES

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"
SOURCE_LOCALE = "en"

# Songda's locale names are BCP 47 (what pages and the API carry); gettext's are POSIX.
_GETTEXT_NAMES = {"zh-CN": "zh_CN", "en": "en"}


def N_(msgid: str) -> str:
    """Mark ``msgid`` for extraction without translating it here (it is translated when shown)."""
    return msgid


# Each language by its own name (an autonym), as a language switch offers it: never translated.
LANGUAGE_NAMES = {"zh-CN": "中文", "en": "English"}


def language_name(locale: str) -> str:
    return LANGUAGE_NAMES[supported(locale)]


def L_(kind: str, msgid: str) -> str:
    """Mark ``msgid`` (with context ``kind``) for the catalogue; translated by
    :func:`templates.labels.label`."""
    return msgid


def supported(locale: str) -> str:
    """``locale`` when Songda speaks it, else the court's first language (zh-CN)."""
    return locale if locale in LOCALES else LOCALES[0]


def translations(locale: str) -> gettext.NullTranslations:
    """The compiled catalogue of ``locale``; English needs none (its msgids are its text)."""
    return _catalogue(supported(locale))


@cache
def _catalogue(locale: str) -> gettext.NullTranslations:
    """Loaded once per language. A missing catalogue for a language Songda claims to speak is an
    installation fault: it fails loudly rather than show English on a Chinese page."""
    if locale == SOURCE_LOCALE:
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[_GETTEXT_NAMES[locale]])


def translate(locale: str, msgid: str, **params: object) -> str:
    """``msgid`` in ``locale``, with ``%(name)s`` parameters filled in."""
    text = translations(locale).gettext(msgid)
    return text % params if params else text


def ptranslate(locale: str, context: str, msgid: str, **params: object) -> str:
    """Like :func:`translate` for a msgid whose meaning depends on ``context``."""
    text = translations(locale).pgettext(context, msgid)
    return text % params if params else text
