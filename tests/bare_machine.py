"""A machine with no font installed, as a user's may be: fontconfig pointed at an empty directory;
and a supplementary font, as a court would add for a character the bundled fonts lack.

The whole suite runs this way (``conftest.pytest_configure``), and so does every process it
starts (the render pool's workers, ``songda`` subprocesses): a PDF that needed one of the
machine's fonts would come out with boxes, and the tests that read its text would fail. The
machine this runs on may well have CJK fonts installed; the tests must not depend on them.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from fontTools.fontBuilder import FontBuilder
from fontTools.pens.ttGlyphPen import TTGlyphPen

FONTS_CONF = """<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">
<fontconfig>
  <dir>{fonts}</dir>
  <cachedir>{cache}</cachedir>
</fontconfig>
"""


def fontless_config(root: Path) -> Path:
    """A fontconfig file under ``root`` whose only font directory is empty."""
    (root / "fonts").mkdir(parents=True, exist_ok=True)
    (root / "cache").mkdir(exist_ok=True)
    conf = root / "fonts.conf"
    conf.write_text(FONTS_CONF.format(fonts=root / "fonts", cache=root / "cache"))
    return conf


def hide_installed_fonts() -> Path:
    """Point this process and its children at a font-less fontconfig; the file's path."""
    conf = fontless_config(Path(tempfile.mkdtemp(prefix="songda-no-fonts-")))
    os.environ["FONTCONFIG_FILE"] = str(conf)
    return conf


def supplementary_font(directory: Path, char: str) -> Path:
    """A small TrueType font whose one glyph (a filled square) covers ``char``."""
    builder = FontBuilder(1000, isTTF=True)
    builder.setupGlyphOrder([".notdef", "square"])
    builder.setupCharacterMap({ord(char): "square"})
    pen = TTGlyphPen(None)
    for x, y in ((100, 0), (100, 800), (900, 800), (900, 0)):
        (pen.moveTo if x == 100 and y == 0 else pen.lineTo)((x, y))
    pen.closePath()
    square = pen.glyph()
    builder.setupGlyf({".notdef": TTGlyphPen(None).glyph(), "square": square})
    builder.setupHorizontalMetrics({".notdef": (500, 0), "square": (1000, 100)})
    builder.setupHorizontalHeader(ascent=880, descent=-120)
    builder.setupNameTable({"familyName": "Songda Test Extra", "styleName": "Regular"})
    builder.setupOS2(sTypoAscender=880, sTypoDescender=-120, usWinAscent=880, usWinDescent=120)
    builder.setupPost()
    path = directory / "extra.ttf"
    builder.save(str(path))
    return path
