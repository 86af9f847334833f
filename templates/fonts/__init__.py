"""The fonts every PDF is drawn with: shipped inside the package, never the machine's.

WeasyPrint draws a character that no available font covers as an empty box and says nothing, and
which fonts are "available" depends on what the machine happens to have installed — so a
certificate that read well on a developer's machine was a page of boxes on a bare one. Songda
therefore brings its own fonts (decision 0019) and every PDF template loads exactly these through
``@font-face`` (the URL scheme ``songda-font:`` that ``templates.pdf`` serves from this package,
never the file system), and before a PDF is made every character of its text is checked against
the fonts' coverage (:func:`uncovered`). A court that must print a character none of them covers
(a rare name character, 生僻字) adds a supplementary font file to ``SONGDA_FONTS_DIR``; it is
loaded after the bundled ones, in file-name order, and counts for coverage.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from fontTools.ttLib import TTFont, TTLibError

FONT_DIR = Path(__file__).parent
FONT_SCHEME = "songda-font"
SANS = "Songda Sans"
MONO = "Songda Mono"
EXTRA = "Songda Extra"
EXTRA_NAMES = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
FONT_SUFFIXES = (".otf", ".ttf")
# Characters that are never drawn, so need no glyph: line breaks and tabs (layout, not text).
LAYOUT = frozenset("\n\r\t\f")


class FontError(ValueError):
    """A font file that cannot be used (unreadable, not a font, no Unicode cmap)."""


@dataclass(frozen=True)
class FontFile:
    """One font file and the CSS family it is loaded under."""

    family: str
    path: Path
    bundled: bool

    @property
    def media_type(self) -> str:
        return "font/otf" if self.path.suffix.lower() == ".otf" else "font/ttf"


@dataclass(frozen=True)
class FontSet:
    """The fonts a PDF may use, in fallback order. Pickles cheaply (paths only), so it travels
    to the render pool's worker processes with each render."""

    fonts: tuple[FontFile, ...]

    def url(self, index: int) -> str:
        return f"{FONT_SCHEME}:{index}"

    @property
    def css(self) -> str:
        """The ``@font-face`` rules: one per file, every weight and style from the same file
        (no synthetic faces from elsewhere)."""
        return "\n".join(
            f'@font-face {{ font-family: "{f.family}"; src: url("{self.url(i)}"); }}'
            for i, f in enumerate(self.fonts)
        )

    @property
    def sans(self) -> str:
        """The ``font-family`` value for text: the CJK face, then supplementary fonts."""
        return _stack([SANS, *self._extra_families])

    @property
    def mono(self) -> str:
        """For hashes and ids: the monospaced face, falling back to the text stack."""
        return _stack([MONO, SANS, *self._extra_families])

    @property
    def _extra_families(self) -> list[str]:
        return [f.family for f in self.fonts if not f.bundled]

    def coverage(self) -> frozenset[int]:
        """Every code point some font of the set has a glyph for."""
        return _coverage(self)

    def describe(self) -> list[str]:
        """One line per font, for ``songda config check`` and start-up."""
        return [
            f"{font_name(f.path)} ({'bundled' if f.bundled else 'supplementary'}, "
            f"{len(cmap_of(f.path)):,} character{'' if len(cmap_of(f.path)) == 1 else 's'}): "
            f"{f.path}"
            for f in self.fonts
        ]

    def report(self) -> str:
        """What start-up and ``songda config check`` print about the fonts."""
        lines = "".join(f"\n  {line}" for line in self.describe())
        return f"PDF fonts (only these; no font of the machine is used):{lines}"

    def file(self, url: str) -> FontFile | None:
        """The font a ``songda-font:`` URL names, or None for anything else."""
        prefix = f"{FONT_SCHEME}:"
        if not url.startswith(prefix) or not url[len(prefix) :].isdigit():
            return None
        index = int(url[len(prefix) :])
        return self.fonts[index] if index < len(self.fonts) else None


@cache
def _coverage(fonts: FontSet) -> frozenset[int]:
    return frozenset().union(*(cmap_of(f.path) for f in fonts.fonts))


def _stack(families: Iterable[str]) -> str:
    return ", ".join(f'"{f}"' for f in families)


BUNDLED = (
    FontFile(SANS, FONT_DIR / "NotoSansCJKsc-Regular.otf", bundled=True),
    FontFile(MONO, FONT_DIR / "DejaVuSansMono.ttf", bundled=True),
)


@cache
def font_set(extra_dir: Path | None = None) -> FontSet:
    """The bundled fonts, plus every ``.otf``/``.ttf`` in ``extra_dir`` (in name order).

    Raises :class:`FontError` naming a file that is not a usable font — a broken supplementary
    font must stop start-up, not be skipped quietly."""
    extra: list[FontFile] = []
    if extra_dir is not None:
        if not extra_dir.is_dir():
            raise FontError(f"{extra_dir}: not a directory")
        files = sorted(p for p in extra_dir.iterdir() if p.suffix.lower() in FONT_SUFFIXES)
        if len(files) > len(EXTRA_NAMES):
            raise FontError(f"{extra_dir}: more than {len(EXTRA_NAMES)} font files")
        # Letters, not numbers: Pango reads a trailing number in a family name as a size.
        extra = [
            FontFile(f"{EXTRA} {EXTRA_NAMES[i]}", p, bundled=False) for i, p in enumerate(files)
        ]
    fonts = FontSet((*BUNDLED, *extra))
    for f in fonts.fonts:
        cmap_of(f.path)
    return fonts


@cache
def cmap_of(path: Path) -> frozenset[int]:
    """The code points ``path`` has glyphs for (read once per process: the CJK font's cmap
    has some 45,000 entries)."""
    try:
        font = TTFont(path, lazy=True, fontNumber=0)
        cmap = font.getBestCmap()
    except (OSError, TTLibError, AssertionError, KeyError) as error:
        raise FontError(f"{path}: not a usable font ({error})") from None
    if not cmap:
        raise FontError(f"{path}: the font has no Unicode character map")
    return frozenset(cmap)


@cache
def font_name(path: Path) -> str:
    """The font's full name and version, e.g. "Noto Sans CJK SC 2.004"."""
    names = TTFont(path, lazy=True, fontNumber=0)["name"]
    full = names.getDebugName(4) or path.stem
    version = (names.getDebugName(5) or "").removeprefix("Version ").split(";")[0].strip()
    return f"{full} {version}".strip()


def _needs_glyph(char: str) -> bool:
    """Layout characters and default-ignorable marks (format characters such as a zero-width
    joiner, variation selectors) are not drawn as glyphs of their own."""
    if char in LAYOUT:
        return False
    if unicodedata.category(char) == "Cf":
        return False
    code = ord(char)
    return not (0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF)


def uncovered(text: str, fonts: FontSet) -> list[str]:
    """The characters of ``text`` no font of ``fonts`` covers, each once, in order of use."""
    covered = fonts.coverage()
    missing = (c for c in dict.fromkeys(text) if _needs_glyph(c) and ord(c) not in covered)
    return list(missing)


def code_point(char: str) -> str:
    return f"U+{ord(char):04X}"


class MissingGlyphs(Exception):
    """Text that no font of the set can draw: the PDF is not made (never a box instead).

    ``fields`` maps where the text comes from (a certificate's field, or ``text`` for the whole
    page) to the characters no font covers there."""

    def __init__(self, fields: dict[str, list[str]]) -> None:
        super().__init__(fields)
        self.fields = fields

    def __str__(self) -> str:
        return "; ".join(
            "no font covers " + ", ".join(f"{c} ({code_point(c)})" for c in chars) + f" in {field}"
            for field, chars in self.fields.items()
        )


def check_fields(fields: Mapping[str, str], fonts: FontSet) -> None:
    """Raise :class:`MissingGlyphs` naming every field with a character no font covers."""
    missing = {name: chars for name, text in fields.items() if (chars := uncovered(text, fonts))}
    if missing:
        raise MissingGlyphs(missing)
