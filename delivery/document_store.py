"""Content-addressed document files: each stored once, under its SHA-256, never changed."""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

PDF_MAGIC = b"%PDF-"
JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class UploadRejected(Exception):
    """An upload that is not stored; ``reason`` is safe to show the caller."""

    def __init__(self, reason: str, status: int = 422) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


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
            chunks, max_bytes, {PDF_MAGIC: "application/pdf"}, "file is not a PDF"
        )
        return stored

    async def store_media(
        self,
        chunks: AsyncIterator[bytes],
        max_bytes: int,
        allowed: Mapping[bytes, str],
        refusal: str = "file type not accepted",
    ) -> tuple[StoredFile, str]:
        """Any evidence file (a scan, a photo), content-addressed like documents: its type is
        recognised by its first bytes (``allowed``: magic → media type), never by its name."""
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
        """A stored render of public content (``delivery.public_pdfs``) by its key, if any."""
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
        self.root.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self.root, prefix=".upload-")
        os.close(fd)
        return open(name, "wb")

    def _commit(self, temp_name: str, sha256: str) -> None:
        _place(temp_name, self.path_for(sha256))


def _place(temp_name: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(temp_name, target)


def _discard(temp: BinaryIO) -> None:
    temp.close()
    if os.path.exists(temp.name):
        os.unlink(temp.name)
