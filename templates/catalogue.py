"""Keep the message catalogue in step with the sources: ``make messages`` runs this module.

It extracts every msgid from the Python sources and templates (Babel's extractors, mapping in
babel.cfg), merges them into ``messages.po`` (translations kept, new msgids added untranslated,
msgids no source uses any more dropped) and compiles ``messages.mo``. Neither header carries the
time it was made (the ``.mo``'s date is pinned), so running it again changes nothing and branches
merge without noise.
tests/unit/templates/test_catalogue.py runs the same extraction and fails on a msgid without its
translation or a ``.mo`` that does not match its ``.po``.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from templates.i18n import DOMAIN, LOCALE_DIR

ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIRS = ("delivery", "channels", "templates", "tracking", "escalation")
# The markers of templates/i18n.py and templates/labels.py, with Babel's defaults (_, gettext,
# pgettext, …) that templates use.
KEYWORDS = {
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "pgettext": ((1, "c"), 2),
    "N_": None,
    "L_": ((1, "c"), 2),
    "translate": (2,),
    "ptranslate": ((2, "c"), 3),
    "wording": None,  # templates/texts.py
    "Problem": (3,),  # delivery/api/http/problems.py: the title
    # The bilingual letters' macros (templates/pdf/mail_pieces.html).
    "both": None,
    "both_lines": None,
}
CATALOGUES = {"zh_CN": LOCALE_DIR / "zh_CN" / "LC_MESSAGES"}
# The date every compiled catalogue carries in its header (see mo_bytes).
UNDATED = datetime(2026, 1, 1, tzinfo=UTC)


def extracted() -> Catalog:
    """Every msgid the sources use, without translations."""
    with open(ROOT / "babel.cfg", encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)  # type: ignore[no-untyped-call]
    catalogue = Catalog(project="Songda", domain=DOMAIN, charset="utf-8")
    for folder in SOURCE_DIRS:
        for filename, _line, msgid, _comments, context in extract_from_dir(
            str(ROOT / folder), method_map, options_map, keywords=KEYWORDS
        ):
            catalogue.add(msgid, context=context, locations=[(f"{folder}/{filename}", 0)])
    return catalogue


def read(locale: str) -> Catalog:
    with open(CATALOGUES[locale] / f"{DOMAIN}.po", "rb") as po:
        return read_po(po, locale=locale, domain=DOMAIN)


def merged(locale: str, sources: Catalog) -> Catalog:
    """The catalogue of ``locale`` holding exactly the msgids of ``sources``."""
    old = read(locale)
    new = Catalog(locale=locale, project="Songda", domain=DOMAIN, charset="utf-8", fuzzy=False)
    for message in _messages(sources):
        previous = old.get(message.id, context=message.context)
        new.add(
            message.id,
            previous.string if previous is not None else "",
            context=message.context,
        )
    return new


def po_bytes(catalogue: Catalog) -> bytes:
    out = io.BytesIO()
    write_po(out, catalogue, sort_output=True, omit_header=False, no_location=True, width=100)
    return _without_dates(out.getvalue())


def mo_bytes(catalogue: Catalog) -> bytes:
    """The compiled catalogue, the same bytes for the same ``.po`` whenever it is compiled.

    Babel dates a catalogue it reads "now" and writes that into the ``.mo`` header: every
    ``make messages`` would then change the committed binary, and two branches that both ran it
    would conflict on it. The header's date is pinned instead.
    """
    catalogue.creation_date = UNDATED
    out = io.BytesIO()
    write_mo(out, catalogue, use_fuzzy=False)
    return out.getvalue()


def untranslated(catalogue: Catalog) -> list[str]:
    return [f"{m.context or ''}|{m.id}" for m in _messages(catalogue) if not m.string or m.fuzzy]


def _messages(catalogue: Catalog) -> Iterator[Message]:
    return (m for m in catalogue if m.id)


def _without_dates(po: bytes) -> bytes:
    lines = po.split(b"\n")
    return b"\n".join(
        line
        for line in lines
        if not line.startswith((b'"POT-Creation-Date', b'"PO-Revision-Date', b"# FIRST AUTHOR"))
    )


def main() -> int:
    sources = extracted()
    missing = 0
    for locale, folder in CATALOGUES.items():
        catalogue = merged(locale, sources)
        (folder / f"{DOMAIN}.po").write_bytes(po_bytes(catalogue))
        (folder / f"{DOMAIN}.mo").write_bytes(mo_bytes(read(locale)))
        gaps = untranslated(catalogue)
        missing += len(gaps)
        for gap in gaps:
            print(f"{locale}: no translation for {gap}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
