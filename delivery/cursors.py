"""Page cursors: the id of the last item of a page, opaque to the caller.

Lists are newest first by id (ULIDs sort by creation time), so "the items before this id" is a
stable next page however many are added meanwhile. The API and the workspace pages share this
encoding; a cursor that does not decode to an id is ``None`` (each caller says what that means).
"""

from __future__ import annotations

import base64

from delivery.ids import looks_like_id


def encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def decode_cursor(raw: str) -> str | None:
    """The id a cursor names, or ``None`` when it is not one of ours."""
    try:
        value = base64.urlsafe_b64decode(raw.encode() + b"==").decode()
    except (ValueError, UnicodeDecodeError):
        return None
    return value if looks_like_id(value) else None
