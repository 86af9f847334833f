"""PDFs for anonymous requests (the public notice): rendered once per content, stored, and
never allowed to crowd out the renders staff and certificate issuing wait for.

A render's key is the SHA-256 of everything that decides its bytes: the HTML (which embeds the
text, the QR code and the fonts' CSS), the fonts (family, version, file) and the WeasyPrint
version. The first request for a key renders and stores the PDF in the document store; every
later one — in this process or another sharing the store — reads it back, and concurrent
requests for the same key wait for the one render in progress. The key is the response's
strong ``ETag``, so a browser's ``If-None-Match`` is answered 304 without reading the file.
A change of content is a new key: a new render.

At most :data:`PUBLIC_RENDERS` public renders are in the render pool at once (of its
``MAX_RENDERS``), the rest wait here: a crowd of anonymous clients asking for different notices
leaves the other renderer to staff and issuing (docs/decisions/0025).
"""

from __future__ import annotations

import asyncio
import hashlib
from importlib.metadata import version

from delivery.infra.document_store import DocumentStore
from delivery.infra.pdf_rendering import render_pdf
from templates.fonts import FontSet

PUBLIC_RENDERS = 1
RENDERER = f"weasyprint {version('weasyprint')}"


def render_key(html: str, fonts: FontSet) -> str:
    digest = hashlib.sha256()
    for part in (RENDERER, fonts.report(), html):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


class PublicPdfs:
    """One per web application: its renders in flight and its share of the render pool."""

    def __init__(self, store: DocumentStore) -> None:
        self.store = store
        self._slots = asyncio.Semaphore(PUBLIC_RENDERS)
        self._rendering: dict[str, asyncio.Task[bytes]] = {}

    async def pdf(self, key: str, html: str, fonts: FontSet) -> bytes:
        """The PDF of ``html`` (whose :func:`render_key` is ``key``): stored, or rendered
        now — once, however many ask at the same time."""
        stored = await self.store.read_render(key)
        if stored is not None:
            return stored
        task = self._rendering.get(key)
        if task is None:
            task = asyncio.create_task(self._render(key, html, fonts))
            self._rendering[key] = task
            task.add_done_callback(lambda _done: self._rendering.pop(key, None))
        # Shielded: a client that goes away does not cancel the render the others wait for.
        return await asyncio.shield(task)

    async def _render(self, key: str, html: str, fonts: FontSet) -> bytes:
        async with self._slots:
            pdf = await render_pdf(html, fonts)
        await self.store.store_render(key, pdf)
        return pdf
