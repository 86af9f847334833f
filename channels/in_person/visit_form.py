"""The field server's outcome form: read as it streams in, then validated as a whole.

``multipart/form-data`` as the browser sends it: the CSRF token first, then the fields, then
the photos/videos; the drawn signature arrives as a ``data:image/png`` URL in a hidden field, or
as a PNG file. Evidence files are checked by their first bytes and size while they stream in;
the whole form is then validated and only a valid form writes rows.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import BodyPartReader, web

from channels.in_person import visits
from channels.in_person.tasks import TaskView
from channels.in_person.visits import Media, Visit
from delivery.api.http.bodies import multipart_parts, read_text, skip_part
from delivery.api.http.evidence_uploads import store_evidence
from delivery.api.staff.auth import CSRF_FIELD, check_csrf
from delivery.context import Context
from delivery.infra.document_store import PNG_MAGIC, UploadRejected
from templates.i18n import N_

MAX_TEXT = 1000
MAX_FILES = 10
# A signature drawn on a phone's canvas is a few tens of kB: the hidden field (a data: URL, read
# whole into memory before decoding) is capped well below the media limit.
MAX_SIGNATURE_BYTES = 2 * 1024 * 1024
DATA_URL_PREFIX = "data:image/png;base64,"
# Why the form was refused, by the code validation (and the upload) records per field: the page
# shows the message in its reader's language (templates/pages/field_task.html).
PROBLEMS = {
    "required": N_("Required."),
    "witness_or_media": N_("Leaving the documents needs a witness or photos/video."),
    "witness_incomplete": N_("Give the witness's name and organisation."),
    "media_required": N_("A refusal away from home must be photographed or filmed."),
    "mediation_statement": N_(
        "A mediation statement cannot be served by leaving it (CPL-INT-133)."
    ),
    "mediation_receiver": N_(
        "A mediation statement is signed for by the recipient (an entity's legal "
        "representative) or their designated receiver (CPL-INT-133)."
    ),
    "future_time": N_("The visit cannot be in the future."),
    "before_task": N_("The visit cannot be before the task was opened."),
    "invalid_time": N_("Invalid time."),
    "invalid_geolocation": N_("Invalid location data."),
    "file_too_large": N_("The file is too large."),
    "file_type": N_(
        "Only photos (JPEG, PNG, WebP) or videos (MP4, MOV, WebM); the signature must be a PNG."
    ),
    "file_invalid": N_("The file is not valid."),
    "too_long": N_("Too long."),
    "control_characters": N_("Control characters are not allowed."),
    "closed": N_("This task has ended; nothing more can be recorded."),
}


def _purpose(media_type: str) -> str:
    return "visit_video" if media_type.startswith("video/") else "visit_photo"


async def _store_part(ctx: Context, part: BodyPartReader, *, png_only: bool) -> Media:
    stored, media_type = await store_evidence(ctx, part, png_only=png_only)
    return Media(stored, media_type, "signature" if png_only else _purpose(media_type))


async def _store_data_url(ctx: Context, value: str) -> Media:
    """The canvas signature: a ``data:image/png;base64,…`` URL from the hidden field."""
    if not value.startswith(DATA_URL_PREFIX):
        raise UploadRejected("signature must be a PNG image", 415)
    try:
        content = base64.b64decode(value[len(DATA_URL_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise UploadRejected("signature is not valid base64") from None
    if not content.startswith(PNG_MAGIC):
        raise UploadRejected("signature must be a PNG image", 415)

    async def one() -> AsyncIterator[bytes]:
        yield content

    stored, media_type = await ctx.documents.store_media(
        one(), ctx.settings.max_media_bytes, {PNG_MAGIC: "image/png"}
    )
    return Media(stored, media_type, "signature")


@dataclass
class Posted:
    fields: dict[str, str] = field(default_factory=dict)
    media: list[Media] = field(default_factory=list)
    signature: Media | None = None


async def read_form(request: web.Request, ctx: Context) -> Posted:
    """Read the multipart form: the CSRF token must come before any file (it does in the
    browser: it is the form's first field). Raises UploadRejected for a refused file."""
    if not request.content_type.startswith("multipart/"):
        raise web.HTTPUnsupportedMediaType(text="send the form as multipart/form-data")
    posted = Posted()
    checked = False
    async for part in multipart_parts(request):
        if not part.name:
            await skip_part(part)
            continue
        name = part.name
        if name == CSRF_FIELD:
            await check_csrf(request, await read_text(part, 200))
            checked = True
            continue
        if not checked:
            await check_csrf(request, None)  # 403: nothing is read or stored without the token
        if part.filename is not None:
            # A file input left empty, or one the form does not have.
            if part.filename == "" or name not in ("media", "signature"):
                await skip_part(part)
                continue
            if name == "media" and len(posted.media) >= MAX_FILES:
                raise UploadRejected(f"at most {MAX_FILES} photos or videos")
            stored = await _store_part(ctx, part, png_only=name == "signature")
            if name == "signature":
                posted.signature = stored
            else:
                posted.media.append(stored)
            continue
        if name == "signature":
            value = await read_text(part, 4 * MAX_SIGNATURE_BYTES // 3 + 100)
            if value is None:
                raise UploadRejected(
                    f"a signature exceeds the limit of {MAX_SIGNATURE_BYTES} bytes", 413
                )
            if value:
                posted.signature = await _store_data_url(ctx, value)
            continue
        text = await read_text(part, MAX_TEXT)
        if text is None:
            posted.fields[name] = "\x00"  # too long or not UTF-8: reported by validation
        else:
            posted.fields[name] = text.strip()
    if not checked:
        await check_csrf(request, None)
    return posted


def _visited_at(ctx: Context, task: TaskView, raw: str, errors: dict[str, str]) -> datetime:
    now = ctx.clock.now()
    if not raw:
        return now
    try:
        local = datetime.fromisoformat(raw)
    except ValueError:
        errors["visited_at"] = "invalid_time"
        return now
    if local.tzinfo is None:
        local = local.replace(tzinfo=ctx.settings.zone)
    when = local.astimezone(now.tzinfo)
    opened = task.created_at.replace(second=0, microsecond=0)
    if when > now:
        errors["visited_at"] = "future_time"
    elif when < opened:
        errors["visited_at"] = "before_task"
    return when


def _geolocation(fields: dict[str, str], errors: dict[str, str]) -> dict[str, float] | None:
    raw = {k: fields.get(k, "") for k in ("lat", "lon", "accuracy")}
    if not raw["lat"] and not raw["lon"]:
        return None
    try:
        lat, lon = float(raw["lat"]), float(raw["lon"])
        accuracy = float(raw["accuracy"]) if raw["accuracy"] else None
    except ValueError:
        errors["geolocation"] = "invalid_geolocation"
        return None
    values = [lat, lon] + ([accuracy] if accuracy is not None else [])
    if (
        not all(math.isfinite(v) for v in values)
        or not -90 <= lat <= 90
        or not -180 <= lon <= 180
        or (accuracy is not None and accuracy < 0)
    ):
        errors["geolocation"] = "invalid_geolocation"
        return None
    found = {"lat": lat, "lon": lon}
    if accuracy is not None:
        found["accuracy_m"] = accuracy
    return found


def validate(ctx: Context, task: TaskView, posted: Posted) -> tuple[Visit | None, dict[str, str]]:
    """The visit the form describes, or the errors by field (codes the template explains)."""
    f = posted.fields
    errors: dict[str, str] = {}
    for name, value in f.items():
        if value == "\x00":
            errors[name] = "too_long"
    outcome = f.get("outcome", "")
    visited_at = _visited_at(ctx, task, f.get("visited_at", ""), errors)
    geolocation = _geolocation(f, errors)
    note = f.get("note") or None
    visit: dict[str, Any] = {}
    if outcome == "served":
        relation = f.get("relation", "")
        name = f.get("receiver_name", "")
        if relation not in visits.RELATIONS:
            errors["relation"] = "required"
        elif task.has_mediation_statement and relation not in visits.MEDIATION_RECEIVERS:
            errors["relation"] = "mediation_receiver"
        elif relation != "self" and not name:
            errors["receiver_name"] = "required"
        visit = {"relation": relation, "receiver_name": name or task.recipient_name}
    elif outcome == "refused_left":
        if task.has_mediation_statement:
            errors["outcome"] = "mediation_statement"
        witness = {"name": f.get("witness_name", ""), "organisation": f.get("witness_org", "")}
        if any(witness.values()) and not all(witness.values()):
            errors["witness"] = "witness_incomplete"
        elif not all(witness.values()) and not posted.media:
            errors["witness"] = "witness_or_media"
        visit = {"witness": witness if all(witness.values()) else None}
    elif outcome == "refused_filmed":
        place = f.get("place", "")
        if place not in visits.FILMED_PLACES:
            errors["place"] = "required"
        elif place == "away_from_home" and not posted.media:
            errors["media"] = "media_required"
        visit = {"place": place}
    elif outcome == "failed":
        reason = f.get("reason", "")
        if reason not in visits.FAILURE_REASONS:
            errors["reason"] = "required"
        visit = {"reason": reason}
    else:
        errors["outcome"] = "required"
    if errors:
        return None, errors
    return (
        Visit(
            outcome=outcome,
            visited_at=visited_at,
            media=tuple(posted.media),
            signature=posted.signature,
            geolocation=geolocation,
            note=note,
            **visit,
        ),
        errors,
    )
