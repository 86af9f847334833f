"""Is an uploaded scan what its first bytes say it is: a PDF a reader can open, or a JPEG or PNG
that decodes?

The first bytes (``SCAN_TYPES``) only name a format; a file that starts ``%PDF-`` and then stops
is not a proof anyone can read. A scan that goes into the case file as the signed paper proof
(CPL-87) is therefore opened here the way a reader would: a PDF as every stored PDF is
(:func:`delivery.infra.pdf_check.pdf_problem`), Pillow must verify and fully decode the image.
Synchronous and CPU-bound: the document store runs it in a thread, as the ``check`` of the file
it is about to keep (the file is bounded by ``SONGDA_MAX_UPLOAD_BYTES``).
"""

from __future__ import annotations

import warnings
from pathlib import Path

from PIL import Image

from delivery.infra.document_store import JPEG_MAGIC, PDF_MAGIC, PDF_TYPE, PNG_MAGIC
from delivery.infra.pdf_check import pdf_problem

SCAN_TYPES: dict[bytes, str] = {
    PDF_MAGIC: PDF_TYPE,
    JPEG_MAGIC: "image/jpeg",
    PNG_MAGIC: "image/png",
}
WANTED = "a PDF, JPEG or PNG"


def scan_problem(path: Path, media_type: str) -> str | None:
    """Why the stored file at ``path`` cannot be read as ``media_type`` (None: it can)."""
    if media_type == PDF_TYPE:
        return pdf_problem(path)
    try:
        return _image_problem(path)
    except Exception:  # any parser failure on hostile input means "unreadable"
        return "not a readable image"


def _image_problem(path: Path) -> str | None:
    with warnings.catch_warnings():
        # A picture of more pixels than Pillow's bound is refused, not decoded into memory.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(path) as image:
            image.verify()  # PNG chunk checksums, structure
        with Image.open(path) as image:
            image.load()  # every pixel decodes: a truncated file fails here
    return None
