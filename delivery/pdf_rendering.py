"""PDF rendering off the event loop: WeasyPrint is CPU-bound and synchronous.

Renders run in a small bounded thread pool (WeasyPrint releases the GIL in its C libraries for
part of the work; a process pool would not share the font cache). Callers await
:func:`render_pdf`; at most :data:`MAX_RENDERS` renders run at once per process.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from templates.pdf import html_to_pdf

MAX_RENDERS = 2
_pool: ThreadPoolExecutor | None = None


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=MAX_RENDERS, thread_name_prefix="songda-pdf")
    return _pool


async def render_pdf(html: str) -> bytes:
    """The PDF of a self-contained HTML document (see ``templates.pdf.html_to_pdf``)."""
    return await asyncio.get_running_loop().run_in_executor(_executor(), html_to_pdf, html)
