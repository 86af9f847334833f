"""The field server's pages (mobile first, server-rendered, no build step).

- ``GET /field``: the logged-in field server's open tasks (a clerk or supervisor sees every
  open task of their courts, with its assignee);
- ``GET /field/tasks/{task_id}``: one task and its outcome form;
- ``POST /field/tasks/{task_id}``: the outcome, ``multipart/form-data`` as the browser sends it
  (CSRF token first, then the fields, then the photos/videos; the drawn signature arrives as a
  ``data:image/png`` URL in a hidden field, or as a PNG file).

A field server sees and records only their own tasks: another's is 403 (not 404 — the task
exists in their court, they are just not the one sent; docs/decisions/0008-field-tasks.md). A
clerk may look at the form but not record. Evidence files are checked by their first bytes and
size while they stream in; the whole form is then validated and only a valid form writes rows.
"""

from __future__ import annotations

import base64
import binascii
import math
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import BodyPartReader, web

from channels.in_person import tasks as field_tasks
from channels.in_person import visits
from channels.in_person.tasks import TaskView
from channels.in_person.visits import Media, Visit
from delivery.api.http.bodies import RefusedText, multipart_parts, part_chunks, read_text, skip_part
from delivery.api.http.handlers import ctx_of, path_id
from delivery.api.staff.auth import CSRF_FIELD, check_csrf, csrf_token, require_staff, staff_page
from delivery.context import Context
from delivery.infra.document_store import JPEG_MAGIC, PNG_MAGIC, StoredFile, UploadRejected
from delivery.staff import Role, StaffUser
from templates import locale_or_default

VIEW_ROLES = (Role.FIELD_SERVER, Role.CLERK, Role.SUPERVISOR)
MAX_TEXT = 1000
MAX_FILES = 10
# A signature drawn on a phone's canvas is a few tens of kB: the hidden field (a data: URL, read
# whole into memory before decoding) is capped well below the media limit.
MAX_SIGNATURE_BYTES = 2 * 1024 * 1024
DATA_URL_PREFIX = "data:image/png;base64,"
SNIFF = 16


# --- Evidence files: recognised by their first bytes ---


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


def _purpose(media_type: str) -> str:
    return "visit_video" if media_type.startswith("video/") else "visit_photo"


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


# --- The form ---


@dataclass
class Posted:
    fields: dict[str, str] = field(default_factory=dict)
    media: list[Media] = field(default_factory=list)
    signature: Media | None = None


async def _read_form(request: web.Request, ctx: Context) -> Posted:
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


# --- Handlers ---


def _locale(request: web.Request, fields: dict[str, str] | None = None) -> str:
    chosen = (fields or {}).get("lang") or request.query.get("lang")
    return locale_or_default(chosen or ctx_of(request).settings.default_locale)


def _page(name: str, *, status: int = 200, **context: Any) -> web.Response:
    """A staff page whose only script is the inline one carrying this response's nonce."""
    nonce = secrets.token_urlsafe(16)
    response = staff_page(name, status=status, nonce=nonce, **context)
    policy = response.headers["Content-Security-Policy"]
    response.headers["Content-Security-Policy"] = policy.replace(
        "script-src 'self';", f"script-src 'self' 'nonce-{nonce}';", 1
    )
    return response


async def _task(request: web.Request, user: StaffUser) -> TaskView:
    ctx = ctx_of(request)
    task_id = path_id(request, "task_id", "field task")
    try:
        task = await field_tasks.task_for(ctx, task_id, user.courts)
    except field_tasks.TaskNotFound:
        raise web.HTTPNotFound(text="404: no such field task") from None
    if not field_tasks.may_view(user, task):
        raise web.HTTPForbidden(text="403: this task is assigned to another field server")
    return task


async def task_list(request: web.Request) -> web.Response:
    """``GET /field``: the open tasks, soonest deadline first."""
    user = require_staff(request, *VIEW_ROLES)
    ctx = ctx_of(request)
    own = user.has(Role.FIELD_SERVER)
    tasks = await field_tasks.open_tasks(ctx, user.courts, user.id if own else None)
    return _page(
        "field_tasks.html",
        locale=_locale(request),
        user=user,
        own=own,
        tasks=tasks,
        zone=ctx.settings.time_zone,
        done=request.query.get("done"),
    )


def _form(
    request: web.Request,
    user: StaffUser,
    task: TaskView,
    *,
    locale: str,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> web.Response:
    ctx = ctx_of(request)
    now_local = ctx.clock.now().astimezone(ctx.settings.zone)
    return _page(
        "field_task.html",
        status=status,
        locale=locale,
        user=user,
        task=task,
        may_record=field_tasks.may_record(user, task) and task.open,
        csrf_token=csrf_token(request),
        zone=ctx.settings.time_zone,
        now_local=now_local.strftime("%Y-%m-%dT%H:%M"),
        opened_local=(task.created_at.astimezone(ctx.settings.zone)).strftime("%Y-%m-%dT%H:%M"),
        relations=(
            visits.MEDIATION_RECEIVERS if task.has_mediation_statement else visits.RELATIONS
        ),
        places=visits.FILMED_PLACES,
        reasons=visits.FAILURE_REASONS,
        errors=errors or {},
        values=values or {},
        max_media_mb=max(1, ctx.settings.max_media_bytes // (1024 * 1024)),
    )


async def task_page(request: web.Request) -> web.Response:
    """``GET /field/tasks/{task_id}``: the task and its outcome form."""
    user = require_staff(request, *VIEW_ROLES)
    task = await _task(request, user)
    return _form(request, user, task, locale=_locale(request))


async def record(request: web.Request) -> web.Response:
    """``POST /field/tasks/{task_id}``: record the visit's outcome (the assigned field server)."""
    user = require_staff(request, Role.FIELD_SERVER)
    ctx = ctx_of(request)
    task = await _task(request, user)
    if not field_tasks.may_record(user, task):
        raise web.HTTPForbidden(text="403: this task is assigned to another field server")
    locale = _locale(request)
    if not task.open:
        return _form(request, user, task, locale=locale, status=409, errors={"task": "closed"})
    try:
        posted = await _read_form(request, ctx)
    except RefusedText as exc:
        errors = {exc.field: "control_characters"}
        return _form(request, user, task, locale=locale, status=422, errors=errors)
    except UploadRejected as exc:
        code = {413: "file_too_large", 415: "file_type"}.get(exc.status, "file_invalid")
        return _form(request, user, task, locale=locale, status=exc.status, errors={"media": code})
    locale = _locale(request, posted.fields)
    visit, errors = validate(ctx, task, posted)
    if visit is None:
        return _form(
            request, user, task, locale=locale, status=422, errors=errors, values=posted.fields
        )
    try:
        await visits.record_visit(ctx, task.id, visit, user)
    except field_tasks.NotYourTask:
        raise web.HTTPForbidden(text="403: this task is assigned to another field server") from None
    except field_tasks.TaskClosed:
        return _form(request, user, task, locale=locale, status=409, errors={"task": "closed"})
    except visits.MediationStatement:
        errors = {"outcome": "mediation_statement"}
        return _form(
            request, user, task, locale=locale, status=422, errors=errors, values=posted.fields
        )
    lang = "&lang=en" if locale == "en" else ""
    raise web.HTTPSeeOther(f"/field?done={task.id}{lang}")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/field", task_list)
    app.router.add_get("/field/tasks/{task_id}", task_page)
    app.router.add_post("/field/tasks/{task_id}", record)
