"""The language ``songda`` speaks: the operator's locale, chosen as gettext chooses it.

A command line has no Accept-Language; its reader's language is the process's locale. gettext's
convention is the first of ``LC_ALL``, ``LC_MESSAGES`` and ``LANG`` that is set, so an operator
with ``LANG=zh_CN.UTF-8`` reads Chinese, and ``LC_ALL=C`` (scripts, CI) reads English. Anything
Songda does not speak, or nothing at all, is English: the CLI's words were English before the
catalogue, and scripts written against them keep working (docs/decisions/0040-cli-language.md).

What a person reads goes through :func:`_` (gettext's name: Babel extracts it) or :func:`said`
for a :class:`~templates.texts.Text` made elsewhere; what a program reads (JSON, CSV, tokens,
ids, paths, ``SONGDA_*`` names, commands and options) is printed as it is.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from templates.i18n import SOURCE_LOCALE, translate, translations
from templates.texts import Text, shown

LOCALE_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG")
# POSIX language (and territory) names Songda speaks, as its BCP 47 locale names.
_SPOKEN = {"zh_CN": "zh-CN", "zh": "zh-CN"}


def locale_from(env: Mapping[str, str]) -> str:
    """The locale of the first of ``LC_ALL``, ``LC_MESSAGES``, ``LANG`` that is set and not
    empty: ``zh_CN.UTF-8``, ``zh_CN`` or ``zh`` read Chinese, anything else English."""
    for variable in LOCALE_VARIABLES:
        value = env.get(variable, "")
        if value:
            name = value.split(".", 1)[0].split("@", 1)[0]
            return _SPOKEN.get(name, SOURCE_LOCALE)
    return SOURCE_LOCALE


def cli_locale() -> str:
    """The locale of this process (read when asked, so it follows the environment)."""
    return locale_from(os.environ)


def _(msgid: str, **params: object) -> str:
    """``msgid`` in the operator's language, with its ``%(name)s`` parameters filled in."""
    return translate(cli_locale(), msgid, **params)


def ngettext(singular: str, plural: str, n: int, **params: object) -> str:
    """``singular`` or ``plural`` by ``n`` in the operator's language (``%(n)s`` is ``n``)."""
    return translations(cli_locale()).ngettext(singular, plural, n) % {"n": n, **params}


def said(message: str | Text) -> str:
    """A message made where the reader was unknown (a setting's problem, an account refused),
    in the operator's language."""
    return shown(cli_locale(), message)
