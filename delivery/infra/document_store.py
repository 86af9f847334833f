"""Content-addressed document files: each stored once, under its SHA-256, never changed.

Directories are 0700 and files 0600 whatever the umask: court documents are personal data.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from delivery.infra.pdf_check import CHECK_SECONDS, TOO_SLOW, pdf_problem
from delivery.infra.private_files import private_dir

PDF_MAGIC = b"%PDF-"
PDF_TYPE = "application/pdf"
JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class UploadRejected(Exception):
    """An upload that is not stored; ``reason`` is safe to show the caller."""

    def __init__(self, reason: str, status: int = 422) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


# Why a file, written in full at ``path`` as ``media_type``, cannot be kept (None: it can).
FileCheck = Callable[[Path, str], "str | None"]


def opens_as_pdf(path: Path, media_type: str) -> str | None:
    """The check every stored file gets: a PDF must parse as one (delivery/infra/pdf_check.py)."""
    return pdf_problem(path) if media_type == PDF_TYPE else None


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    size: int


class DocumentStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / sha256

    async def store_pdf(self, chunks: AsyncIterator[bytes], max_bytes: int) -> StoredFile:
        """Stream an upload to disk while hashing it; refuse empty, oversized and non-PDF files.

        File I/O runs in a thread so a 50 MB upload does not stall the event loop.
        """
        stored, _media_type = await self.store_media(
            chunks, max_bytes, {PDF_MAGIC: PDF_TYPE}, "file is not a PDF"
        )
        return stored

    async def store_media(
        self,
        chunks: AsyncIterator[bytes],
        max_bytes: int,
        allowed: Mapping[bytes, str],
        refusal: str = "file type not accepted",
        check: FileCheck = opens_as_pdf,
    ) -> tuple[StoredFile, str]:
        """Any evidence file (a scan, a photo), content-addressed like documents: its type is
        recognised by its first bytes (``allowed``: magic → media type), never by its name,
        and the whole file must then pass ``check`` (in a thread, for at most
        :data:`CHECK_SECONDS`) before it is kept: 422 with the check's reason otherwise."""
        digest = hashlib.sha256()
        size = 0
        head = b""
        sniff = max(len(m) for m in allowed)
        temp = await asyncio.to_thread(self._open_temp)
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise UploadRejected(f"file exceeds the limit of {max_bytes} bytes", 413)
                if len(head) < sniff:
                    head += chunk[: sniff - len(head)]
                digest.update(chunk)
                await asyncio.to_thread(temp.write, chunk)
            await asyncio.to_thread(temp.close)
            if size == 0:
                raise UploadRejected("file is empty")
            media_type = next((t for m, t in allowed.items() if head.startswith(m)), None)
            if media_type is None:
                raise UploadRejected(refusal, 415)
            await _passes(check, Path(temp.name), media_type)
            stored = StoredFile(digest.hexdigest(), size)
            await asyncio.to_thread(self._commit, temp.name, stored.sha256)
            return stored, media_type
        finally:
            await asyncio.to_thread(_discard, temp)

    async def store_bytes(self, data: bytes) -> StoredFile:
        """A file Songda made itself (a certificate PDF), stored under its SHA-256; storing the
        same bytes again changes nothing."""
        stored = StoredFile(hashlib.sha256(data).hexdigest(), len(data))
        await asyncio.to_thread(self._write_once, data, stored.sha256)
        return stored

    def read(self, sha256: str) -> bytes:
        return self.path_for(sha256).read_bytes()

    def render_path(self, key: str) -> Path:
        return self.root / "renders" / key[:2] / key

    async def read_render(self, key: str) -> bytes | None:
        """A stored render of public content (``delivery.infra.public_pdfs``) by its key, if any."""
        path = self.render_path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            return None

    async def store_render(self, key: str, data: bytes) -> None:
        """Keep a render under its key (whole or not at all: written aside, then renamed)."""
        await asyncio.to_thread(self._write, data, self.render_path(key))

    def _write_once(self, data: bytes, sha256: str) -> None:
        if not self.path_for(sha256).exists():
            self._write(data, self.path_for(sha256))

    def _write(self, data: bytes, target: Path) -> None:
        temp = self._open_temp()
        try:
            temp.write(data)
            temp.close()
            _place(temp.name, target)
        finally:
            _discard(temp)

    def _open_temp(self) -> BinaryIO:
        # mkstemp makes the file 0600 whatever the umask; it keeps that mode when renamed.
        fd, name = tempfile.mkstemp(dir=private_dir(self.root), prefix=".upload-")
        os.close(fd)
        return open(name, "wb")

    def _commit(self, temp_name: str, sha256: str) -> None:
        _place(temp_name, self.path_for(sha256))


def _place(temp_name: str, target: Path) -> None:
    private_dir(target.parent)
    os.replace(temp_name, target)


async def _passes(check: FileCheck, path: Path, media_type: str) -> None:
    try:
        problem = await asyncio.wait_for(asyncio.to_thread(check, path, media_type), CHECK_SECONDS)
    except TimeoutError:
        problem = TOO_SLOW
    if problem is not None:
        raise UploadRejected(problem)


def _discard(temp: BinaryIO) -> None:
    temp.close()
    if os.path.exists(temp.name):
        os.unlink(temp.name)


@dataclass(frozen=True)
class EvidenceFile:
    """A photo or video already in the content-addressed store, not yet recorded."""

    stored: StoredFile
    media_type: str
