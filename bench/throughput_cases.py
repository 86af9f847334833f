"""The case system of the throughput benches: the dispatches it creates through the API.

One shared uploaded PDF and N dispatches, each to its own recipient-confirmed address
(:func:`address`), so the sink can tell when every one of them has been served by e-mail.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from typing import Any

import aiohttp
from pypdf import PdfWriter
from throughput_service import COURT, Options

CASE_NUMBER = "(2026)浙0106民初1234号"
RECIPIENT = "张三"
DOCUMENT_TITLE = "民事起诉状"


def one_page_pdf() -> bytes:
    """A blank one-page PDF: uploads are parsed as PDFs (delivery/infra/pdf_check.py)."""
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    _written, out = writer.write(io.BytesIO())
    assert isinstance(out, io.BytesIO)
    return out.getvalue()


def address(i: int) -> str:
    return f"r{i:06d}@example.com"


async def upload_pdf(session: aiohttp.ClientSession, base: str, auth: dict[str, str]) -> str:
    form = aiohttp.FormData()
    form.add_field("title", DOCUMENT_TITLE)
    form.add_field("kind", "complaint")
    form.add_field("file", one_page_pdf(), filename="doc.pdf", content_type="application/pdf")
    async with session.post(f"{base}/api/v1/documents", data=form, headers=auth) as response:
        if response.status != 201:
            raise RuntimeError(f"upload failed: {response.status} {await response.text()}")
        return str((await response.json())["id"])


def dispatch_body(i: int, document_id: str) -> dict[str, Any]:
    return {
        "court": COURT,
        "case_number": CASE_NUMBER,
        "reference": f"bench-{i:06d}",
        "policy": "cn-civil",
        "documents": [document_id],
        "recipient": {
            "name": RECIPIENT,
            "role": "defendant",
            "id_number": "33010619900101123X",
            "e_service_consent": {"given": True, "basis": "express"},
            "emails": [{"address": address(i), "source": "recipient_confirmed"}],
        },
    }


async def create_dispatches(
    session: aiohttp.ClientSession,
    base: str,
    auth: dict[str, str],
    document_id: str,
    opts: Options,
) -> list[str]:
    """POST N dispatches from C concurrent clients; returns a line per request that failed."""
    failures: list[str] = []
    indexes: Iterator[int] = iter(range(opts.n))

    async def client() -> None:
        for i in indexes:
            body = dispatch_body(i, document_id)
            async with session.post(f"{base}/api/v1/dispatches", json=body, headers=auth) as r:
                text = await r.text()
                if r.status != 201:
                    failures.append(f"dispatch {i}: HTTP {r.status} {text[:200]}")

    await asyncio.gather(*(client() for _ in range(opts.clients)))
    return failures
