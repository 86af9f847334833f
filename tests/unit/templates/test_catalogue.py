"""The message catalogue is complete and compiled: every msgid the sources use has its Chinese,
and the committed ``messages.mo`` is the compilation of the committed ``messages.po``.

A failure here means: run ``make messages`` and fill in the empty ``msgstr`` it reports.
"""

from __future__ import annotations

from datetime import UTC, datetime

from babel.messages.mofile import read_mo

from templates import catalogue
from templates.i18n import DOMAIN, translate, translations


def test_every_msgid_of_the_sources_has_its_chinese() -> None:
    merged = catalogue.merged("zh_CN", catalogue.extracted())
    assert catalogue.untranslated(merged) == []


def test_the_committed_po_holds_exactly_the_msgids_of_the_sources() -> None:
    sources = catalogue.extracted()
    committed = (catalogue.CATALOGUES["zh_CN"] / f"{DOMAIN}.po").read_bytes()
    assert committed == catalogue.po_bytes(catalogue.merged("zh_CN", sources)), (
        "messages.po is not in step with the sources: run `make messages`"
    )


def _plain(value: object) -> object:
    """A plural message's forms (a list from the .mo, a tuple from the .po) compare as a tuple."""
    return tuple(value) if isinstance(value, list | tuple) else value


def test_the_committed_mo_is_the_compiled_po() -> None:
    folder = catalogue.CATALOGUES["zh_CN"]
    with open(folder / f"{DOMAIN}.mo", "rb") as mo:
        compiled = {(m.context, _plain(m.id)): _plain(m.string) for m in read_mo(mo) if m.id}
    expected = {
        (m.context, _plain(m.id)): _plain(m.string) for m in catalogue.read("zh_CN") if m.id
    }
    assert compiled == expected, "messages.mo is stale: run `make messages`"


def test_make_messages_writes_the_committed_mo_again_byte_for_byte() -> None:
    """Compiling is a function of the ``.po`` alone: running ``make messages`` on a clean
    checkout (at any time) leaves ``messages.mo`` unchanged, so branches do not conflict on it."""
    folder = catalogue.CATALOGUES["zh_CN"]
    earlier = catalogue.read("zh_CN")
    earlier.creation_date = datetime(2020, 5, 17, 8, 30, tzinfo=UTC)
    assert catalogue.mo_bytes(earlier) == catalogue.mo_bytes(catalogue.read("zh_CN"))
    assert (folder / f"{DOMAIN}.mo").read_bytes() == catalogue.mo_bytes(catalogue.read("zh_CN"))


def test_chinese_comes_from_the_catalogue_and_english_is_the_msgid() -> None:
    assert translations("zh-CN").pgettext("channel", "SMS") == "短信"
    assert translate("en", "%(n)s pages", n=3) == "3 pages"
    # An unknown language reads as the court's first one, never as a crash.
    assert translations("fr") is translations("zh-CN")
