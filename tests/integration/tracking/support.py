"""Certificates as the tests read them (rows, the issued ones, the proof PDF and its text), and
the environment of a production-like ``songda`` process with court keys."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from conftest import SECRETS_KEY, eventually, settled
from helpers import Api
from pypdf import PdfReader

from delivery.storage.schema import certificates


def text_of(pdf: bytes) -> str:
    """The PDF's text with whitespace removed (long hashes wrap across lines)."""
    reader = PdfReader(io.BytesIO(pdf))
    return "".join("".join(page.extract_text() for page in reader.pages).split())


async def certificate_rows(api: Api, dispatch_id: str) -> list[dict[str, Any]]:
    async with api.ctx.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(certificates)
            .where(certificates.c.dispatch_id == dispatch_id)
            .order_by(certificates.c.chain_seq)
        )
        return [dict(r) for r in rows.mappings()]


async def issued(api: Api, dispatch_id: str, count: int = 1) -> list[dict[str, Any]]:
    """Wait until the worker has issued ``count`` certificates for the dispatch."""

    async def check() -> list[dict[str, Any]] | None:
        rows = await certificate_rows(api, dispatch_id)
        return rows if len(rows) >= count else None

    rows: list[dict[str, Any]] = await eventually(check)
    await settled(api.ctx)
    return rows


async def proof(api: Api, dispatch_id: str, query: str = "", status: int = 200) -> Any:
    response = await api.client.get(
        f"/api/v1/dispatches/{dispatch_id}/proof.pdf{query}", headers=api.auth
    )
    assert response.status == status, await response.text()
    return response


def production_env(tmp_path: Path) -> dict[str, str]:
    return {
        "SONGDA_DATA_DIR": str(tmp_path / "var"),
        "SONGDA_SECRET_KEY": "x" * 40,
        "SONGDA_SECRETS_KEY": SECRETS_KEY,
        "SONGDA_SMTP_HOST": "127.0.0.1",
        "SONGDA_SMTP_SENDER": "service@court.example",
        "SONGDA_COURT_NAME": "杭州市西湖区人民法院",
    }
