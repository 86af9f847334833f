"""What the clerk workspace's form handlers share: reading a form (its text fields, its files).

Upload forms (a new dispatch with its documents, a CSV batch with its documents) arrive as
``multipart/form-data`` the way a browser sends them: the CSRF token first — nothing after it is
read without it (403) —, then text fields and files in the page's order. Each file is handed to
the caller as it streams in, so a large upload is never held in memory here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import BodyPartReader, web
from multidict import MultiDict, MultiDictProxy

from delivery.api.http.bodies import multipart_parts, read_text, skip_part
from delivery.api.staff.auth import CSRF_FIELD, check_csrf
from delivery.infra.document_store import UploadRejected

MAX_FIELD_BYTES = 4000
# Text fields per form: the largest (a new dispatch with its documents' titles and kinds, the
# ids of documents kept from an earlier try) has a few dozen. More is not a browser's form, and
# each would be held in memory (a streamed multipart body escapes aiohttp's client_max_size).
MAX_FIELDS = 200
FileHandler = Callable[[BodyPartReader], Awaitable[None]]


def text_field(form: MultiDictProxy[Any] | MultiDict[str], name: str) -> str | None:
    value = form.get(name)
    return value[:MAX_FIELD_BYTES] if isinstance(value, str) else None


async def multipart_form(
    request: web.Request,
    on_file: FileHandler,
    max_field: int = MAX_FIELD_BYTES,
    *,
    csrf: bool = True,
) -> MultiDict[str]:
    """The text fields of a multipart form (CSRF checked first); every chosen file goes to
    ``on_file`` (an empty file input — nothing chosen — is skipped). UploadRejected, its reason
    naming the field, for a form that is not multipart, a text field longer than ``max_field``
    bytes or more than :data:`MAX_FIELDS` text fields — or, from ``delivery.api.http.bodies``,
    ``MalformedBody`` (400) for a body that is not multipart at all and ``RefusedText`` (422)
    for a field holding control characters. ``csrf=False`` for the API, whose
    middleware checks a session's ``X-CSRF-Token`` (an API key needs none)."""
    fields: MultiDict[str] = MultiDict()
    checked = not csrf
    async for part in multipart_parts(request):
        if not part.name:
            await skip_part(part)
            continue
        if part.name == CSRF_FIELD and csrf:
            await check_csrf(request, await read_text(part, MAX_FIELD_BYTES))
            checked = True
            continue
        if not checked:
            await check_csrf(request, None)
        if part.filename is not None:
            if part.filename == "":
                await skip_part(part)
            else:
                await on_file(part)
            continue
        if len(fields) == MAX_FIELDS:
            raise UploadRejected(f"too many fields (at most {MAX_FIELDS})", 413)
        value = await read_text(part, max_field)
        if value is None:
            raise UploadRejected(f"{part.name}: too long or not UTF-8")
        fields.add(part.name, value)
    if not checked:
        await check_csrf(request, None)
    return fields
