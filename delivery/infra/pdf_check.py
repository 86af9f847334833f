"""Is a file that starts ``%PDF-`` a PDF: opened the way a reader opens it, within limits
(docs/decisions/0027).

Five bytes name a format; they prove nothing. ``%PDF-`` followed by HTML is a web page a
recipient's viewer may render as one. So every PDF Songda keeps — a court's document, a
scanned proof, a return card — is parsed with pypdf first: its cross-reference table and
trailer must lead to a catalog whose page tree holds at least one page, every page is loaded,
and it must open without a password (an encrypted file cannot be printed, merged or checked
later). Hostile input cannot make this unbounded: the file is already bounded by
``SONGDA_MAX_UPLOAD_BYTES``, the objects and pages are counted before they are walked, and the
walk stops at :data:`CHECK_SECONDS`. Synchronous and CPU-bound: callers run it in a thread.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from pypdf import PdfReader

MAX_OBJECTS = 500_000
MAX_PAGES = 5_000
CHECK_SECONDS = 10.0
UNREADABLE = "not a readable PDF"
TOO_SLOW = f"the PDF takes longer than {CHECK_SECONDS:g} s to open"

# pypdf warns (through logging) about every repair it makes to a damaged file: the answer the
# caller gets says what matters, the log should not fill with a hostile file's details.
logging.getLogger("pypdf").setLevel(logging.ERROR)


def pdf_problem(path: Path) -> str | None:
    """Why the file at ``path`` is not a PDF Songda accepts (None: it is one)."""
    deadline = time.monotonic() + CHECK_SECONDS
    try:
        reader = PdfReader(path)
        if reader.is_encrypted:
            return "the PDF is encrypted: send it without a password"
        objects = sum(len(table) for table in reader.xref.values()) + len(reader.xref_objStm)
        if objects > MAX_OBJECTS:
            return f"the PDF has more than {MAX_OBJECTS} objects"
        pages = reader.pages
        if len(pages) == 0:
            return "the PDF has no pages"
        if len(pages) > MAX_PAGES:
            return f"the PDF has more than {MAX_PAGES} pages"
        for page in pages:
            _ = page.mediabox  # each page resolves to a page object with its box
            if time.monotonic() > deadline:
                return TOO_SLOW
    except Exception:  # any parser failure on hostile input means "not a PDF"
        return UNREADABLE
    return None
