"""Evidence photos and videos in a multipart upload, recognised by their first bytes.

Shared by the field server's visit form (``channels/in_person``) and the photo of a public
notice posted at the residence (``channels/public_notice``): both stream a file into the
content-addressed store while hashing it, and neither channel imports the other.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import BodyPartReader

from delivery.api.http.bodies import part_chunks
from delivery.context import Context
from delivery.infra.document_store import JPEG_MAGIC, PNG_MAGIC, StoredFile, UploadRejected

SNIFF = 16


def media_type_of(head: bytes) -> str | None:
    """Photos (JPEG, PNG, WebP) and videos (MP4, QuickTime, WebM) by their magic bytes."""
    if head.startswith(JPEG_MAGIC):
        return "image/jpeg"
    if head.startswith(PNG_MAGIC):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        return "video/quicktime" if head[8:12] == b"qt  " else "video/mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm"
    return None


async def _head_then_rest(head: bytes, part: BodyPartReader) -> AsyncIterator[bytes]:
    yield head
    async for chunk in part_chunks(part):
        yield chunk


async def _read_head(part: BodyPartReader) -> bytes:
    head = b""
    async for chunk in part_chunks(part):
        head += chunk
        if len(head) >= SNIFF:
            break
    return head


async def store_evidence(
    ctx: Context, part: BodyPartReader, *, png_only: bool = False
) -> tuple[StoredFile, str]:
    """Stream one photo or video (or, ``png_only``, a PNG) to the content-addressed store while
    hashing it; refuse an empty file (422), a wrong type (415) or a file over
    ``SONGDA_MAX_MEDIA_BYTES`` (413) before anything is kept. Also used for the photo of a
    public notice posted at the residence (``channels/public_notice/media_routes.py``)."""
    head = await _read_head(part)
    media_type = media_type_of(head) if head else None
    if not head:
        raise UploadRejected("file is empty")
    if media_type is None or (png_only and media_type != "image/png"):
        wanted = "a PNG" if png_only else "a photo (JPEG, PNG, WebP) or video (MP4, MOV, WebM)"
        raise UploadRejected(f"file is not {wanted}", 415)
    stored, _ = await ctx.documents.store_media(
        _head_then_rest(head, part), ctx.settings.max_media_bytes, {head[:SNIFF]: media_type}
    )
    return stored, media_type
