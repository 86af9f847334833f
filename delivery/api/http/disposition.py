"""``Content-Disposition`` for a file named after its title (RFC 6266 with RFC 5987/8187).

A recipient saves ``传票.pdf``, not ``01M967TXT7MA3W3RJ2PK1J0T45.pdf``. The title comes from
the case system, so it is made safe as a file name first: no path separators, no control or
format characters (a right-to-left override could disguise the extension), no leading dots,
bounded length. The name travels as ``filename*=UTF-8''…`` (percent-encoded, so quotes and
semicolons cannot break the header) with a plain ASCII ``filename`` for clients that read
only that one.
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum
from urllib.parse import quote

MAX_STEM = 120  # characters: file systems allow 255 bytes, and CJK takes 3 a character
FALLBACK_STEM = "document"
UNSAFE = re.compile(r'[/\\:*?"<>|]')
NOT_ASCII_SAFE = re.compile(r"[^A-Za-z0-9._ -]")


class Disposition(StrEnum):
    INLINE = "inline"  # shown in the browser
    ATTACHMENT = "attachment"  # saved


def safe_stem(title: str) -> str:
    """``title`` as a file name without extension, or ``document`` when nothing is left."""
    kept = "".join(
        " " if unicodedata.category(c) in {"Cc", "Cf", "Zl", "Zp"} else c
        for c in unicodedata.normalize("NFC", title)
    )
    stem = " ".join(UNSAFE.sub("_", kept).split()).lstrip(".").strip()
    return stem[:MAX_STEM].strip() or FALLBACK_STEM


def content_disposition(disposition: Disposition, title: str, extension: str) -> str:
    """The header value for a file called ``<title><extension>`` (``extension`` with its dot)."""
    stem = safe_stem(title)
    name = stem + extension
    # Clients that read only ``filename`` get the title where it is plain ASCII, else a neutral
    # name: a title stripped of its CJK characters would name nothing.
    fallback = (FALLBACK_STEM if NOT_ASCII_SAFE.search(stem) else stem) + extension
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
