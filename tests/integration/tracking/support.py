"""Certificates as the tests read them (rows, the issued ones, the proof PDF and its text), the
environment of a production-like ``songda`` process with court keys, and evidence bundles (a
served dispatch with a stand-in certificate, the zip downloaded and opened)."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from api_client import Api
from conftest import SECRETS_KEY, eventually, settled
from pypdf import PdfReader

from delivery.context import Context
from delivery.ids import new_id
from delivery.storage.schema import certificates, events
from tracking.chain import canonical
from tracking.evidence import write_zip
from tracking.signing import PublicKey, parse_key_set

CERT_PDF = b"%PDF-1.4\n% certificate of service\n%%EOF\n"


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


async def served_dispatch(api: Api) -> str:
    """A dispatch served at once: e-mail to an address the recipient confirmed (CPL-INT-135)."""
    created = await api.new_dispatch()
    await api.until_state(created["id"], "served")
    await settled(api.ctx)
    # The renderer issued the real certificate; these tests put stand-ins (known bytes, shifted
    # fields) in its place; test_evidence_bundle.py checks a real one in its bundle.
    async with api.ctx.engine.begin() as conn:
        await conn.execute(certificates.delete().where(certificates.c.dispatch_id == created["id"]))
    return str(created["id"])


async def add_certificate(
    ctx: Context,
    dispatch_id: str,
    content: bytes = CERT_PDF,
    *,
    superseded: bool = False,
    supersedes_id: str | None = None,
    served_at_shift: bool = False,
) -> str:
    """A certificate row pinning the dispatch_served event, its PDF in the document store
    (what the certificate renderer stores; stand-in bytes here)."""
    digest = hashlib.sha256(content).hexdigest()
    path = ctx.documents.path_for(digest)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    async with ctx.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(events).where(
                events.c.dispatch_id == dispatch_id, events.c.type == "dispatch_served"
            )
        )
        served = list(rows.mappings())[-1]  # the service now standing
    data = json.loads(served["data"])
    cert_id = new_id()
    async with ctx.engine.begin() as conn:
        await conn.execute(
            certificates.insert().values(
                id=cert_id,
                dispatch_id=dispatch_id,
                locale="zh-CN",
                sha256=digest,
                size=len(content),
                chain_head=served["hash"],
                chain_seq=served["seq"],
                served_at=ctx.clock.now() if served_at_shift else served["occurred_at"],
                service_date=date.fromisoformat(data["service_date"]),
                legal_basis=data["legal_basis"],
                created_at=ctx.clock.now(),
                superseded_at=ctx.clock.now() if superseded else None,
                supersedes_id=supersedes_id,
            )
        )
    return cert_id


async def download(api: Api, dispatch_id: str, query: str = "") -> bytes:
    response = await api.client.get(
        f"/api/v1/dispatches/{dispatch_id}/evidence.zip{query}", headers=api.auth
    )
    assert response.status == 200, await response.text()
    assert response.content_type == "application/zip"
    return await response.read()


async def court_keys(api: Api) -> dict[str, PublicKey]:
    response = await api.client.get("/.well-known/songda-keys.json")
    assert response.status == 200
    return parse_key_set(await response.json())


def unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def chain_of(files: dict[str, bytes]) -> list[dict[str, Any]]:
    return list(json.loads(files["events.json"]))


def with_events(files: dict[str, bytes], chain: list[dict[str, Any]]) -> bytes:
    return write_zip({**files, "events.json": canonical(chain)})
