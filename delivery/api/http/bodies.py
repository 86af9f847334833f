"""Reading what a client sends: the one JSON reader, the one multipart reader and the one
urlencoded-form reader every handler uses (docs/decisions/0027).

A body is hostile until read: nested ten thousand deep, larger than any dispatch, cut off
mid-part, with no boundary, or with a NUL in a title. Each reader refuses such a body with a
4xx naming what is wrong — never a 500, never something stored half-read. aiohttp's own
parsers do the reading; the errors they raise on malformed input (``ValueError``,
``AssertionError``, ``RuntimeError``, ``BadHttpMessage``, a recursion too deep, a stream cut
short) are caught here, in one place, and become :class:`MalformedBody` (400). Every text value
is held to :func:`delivery.text.field_text_problem` (422 naming the field).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any, NoReturn

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError
from multidict import MultiDictProxy

from delivery.api.http.problems import Problem, validation_problem
from delivery.infra.document_store import UploadRejected
from delivery.text import field_text_problem

JSON_TYPE = "application/json"
MAX_JSON_BYTES = 1024 * 1024
# The deepest dispatch body is 4 levels (recipient → postal_addresses → [i] → lines); 32 leaves
# room for any detail object a case system sends, and keeps every later walk (canonical JSON
# for the evidence chain, json.dumps) far from Python's recursion limit.
MAX_JSON_DEPTH = 32
# Parts per multipart body, files and fields together: the largest form (a new dispatch with
# its documents) has a few dozen. Parts a handler skips are counted too.
MAX_PARTS = 500
CHUNK_BYTES = 256 * 1024
# What aiohttp's parsers raise on a malformed body.
_PARSER_ERRORS = (
    ValueError,
    AssertionError,
    RuntimeError,
    LookupError,
    HttpProcessingError,
    asyncio.IncompleteReadError,
)


class MalformedBody(Exception):
    """A body that cannot be read as what its Content-Type says (400); ``reason`` says why.
    Not an ``UploadRejected``: nothing that handles a refused file may take it for one — the
    request is over, there is no form to read on."""

    status = 400

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RefusedText(UploadRejected):
    """A form field whose text cannot be stored (422); ``field`` names it."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{safe_name(field)}: {problem}", 422)
        self.field = safe_name(field)
        self.problem = problem


def refused_body(refused: UploadRejected | MalformedBody, file_field: str | None = None) -> Problem:
    """The API's problem for a body or file refused while it was read: a field's text is a
    validation error naming it, a malformed body a 400, a refused file (in ``file_field``,
    when the handler knows it) an ``upload-rejected`` naming that field."""
    if isinstance(refused, RefusedText):
        return validation_problem([{"field": refused.field, "message": refused.problem}])
    if isinstance(refused, MalformedBody):
        return Problem(400, "malformed-body", "The body cannot be read", refused.reason)
    problem = Problem(
        refused.status, "upload-rejected", "The upload was not accepted", refused.reason
    )
    if file_field is not None:
        problem.extra["errors"] = [{"field": file_field, "message": refused.reason}]
    return problem


def safe_name(name: str) -> str:
    """A client-chosen name, fit to be shown back: a lone surrogate (which no response can
    encode) is written as its escape."""
    return name.encode("utf-8", "backslashreplace").decode("utf-8")


def _malformed(what: str, exc: BaseException) -> NoReturn:
    raise MalformedBody(f"the body is not valid {what}") from exc


# --- JSON ---


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request's JSON object: 415 unless ``application/json``, 413 over
    :data:`MAX_JSON_BYTES`, 400 unless it parses (with no NaN or Infinity) within
    :data:`MAX_JSON_DEPTH`, 422 unless an object whose every text (names included) may be stored
    (:func:`delivery.text.field_text_problem`, naming the field by its path)."""
    if request.content_type != JSON_TYPE:
        raise Problem(
            415, "unsupported-media-type", "Send JSON", f"Content-Type must be {JSON_TYPE}"
        )
    raw = await bounded_body(request)
    try:
        body = json.loads(raw, parse_constant=_no_constant)
    except RecursionError:
        raise _too_deep() from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise Problem(400, "malformed-json", "The body is not valid JSON", str(exc)) from None
    if not isinstance(body, dict):
        raise validation_problem([{"field": "", "message": "the body must be a JSON object"}])
    errors = _json_text_errors(body)
    if errors:
        raise validation_problem(errors)
    return body


async def bounded_body(
    request: web.Request, limit: int = MAX_JSON_BYTES, what: str = "JSON"
) -> bytes:
    """The whole body, however it arrives (chunked, in segments), read until its end: 413 past
    ``limit`` bytes, 400 if the stream breaks. One ``read(n)`` returns only what has arrived."""
    too_large = Problem(
        413, "too-large", "The body is too large", f"at most {limit} bytes of {what}"
    )
    if (request.content_length or 0) > limit:
        raise too_large
    raw = bytearray()
    try:
        while chunk := await request.content.read(CHUNK_BYTES):
            raw += chunk
            if len(raw) > limit:
                raise too_large
    except _PARSER_ERRORS as exc:
        _malformed(what, exc)
    return bytes(raw)


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


def _too_deep() -> Problem:
    return Problem(
        400,
        "json-too-deep",
        "The JSON is nested too deeply",
        f"at most {MAX_JSON_DEPTH} levels of objects and arrays",
    )


def _json_text_errors(body: dict[str, Any]) -> list[dict[str, str]]:
    """Every text in ``body`` (keys and values) that cannot be stored, by its path; 400 past
    :data:`MAX_JSON_DEPTH`. Iterative: the walk itself must not recurse on hostile depth."""
    errors: list[dict[str, str]] = []
    stack: list[tuple[Any, str, int]] = [(body, "", 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, dict):
            if depth > MAX_JSON_DEPTH:
                raise _too_deep()
            for key, child in value.items():
                where = f"{path}.{key}" if path else key
                if (problem := field_text_problem("", key)) is not None:
                    errors.append({"field": safe_name(where), "message": f"name {problem}"})
                stack.append((child, where, depth + 1))
        elif isinstance(value, list):
            if depth > MAX_JSON_DEPTH:
                raise _too_deep()
            stack.extend((child, f"{path}[{i}]", depth + 1) for i, child in enumerate(value))
        elif isinstance(value, str) and (problem := field_text_problem(path, value)):
            errors.append({"field": safe_name(path), "message": problem})
    return sorted(errors, key=lambda e: e["field"])


# --- multipart/form-data ---


async def multipart_parts(request: web.Request) -> AsyncIterator[BodyPartReader]:
    """The parts of a multipart body, in order (a nested multipart part is skipped).

    415 (as ``UploadRejected``) unless the body is ``multipart/*``; :class:`MalformedBody` for
    a missing or wrong boundary, a body cut short or more than :data:`MAX_PARTS` parts. Read a
    part's bytes with :func:`part_chunks` (or the helpers on it) so its errors are caught too.
    """
    if not request.content_type.startswith("multipart/"):
        raise UploadRejected("send the form as multipart/form-data", 415)
    try:
        reader = await request.multipart()
    except _PARSER_ERRORS as exc:
        _malformed("multipart/form-data (its boundary)", exc)
    count = 0
    while True:
        try:
            part = await reader.next()
        except _PARSER_ERRORS as exc:
            _malformed("multipart/form-data", exc)
        if part is None:
            return
        count += 1
        if count > MAX_PARTS:
            raise MalformedBody(f"too many parts (at most {MAX_PARTS})")
        if isinstance(part, BodyPartReader):
            yield part
        else:
            await _release(part)


async def _release(part: Any) -> None:
    try:
        await part.release()
    except _PARSER_ERRORS as exc:
        _malformed("multipart/form-data", exc)


async def part_chunks(part: BodyPartReader) -> AsyncIterator[bytes]:
    """A part's bytes as they arrive; :class:`MalformedBody` if the body is cut short.

    aiohttp hands out the bytes up to the end of the stream as the part's when its closing
    boundary never comes, and only a later read fails; a part ends properly only where its
    boundary is found (``at_eof``), so no data is taken for whole that the client never
    finished sending."""
    while not part.at_eof():
        try:
            chunk = await part.read_chunk(CHUNK_BYTES)
        except _PARSER_ERRORS as exc:
            _malformed("multipart/form-data", exc)
        if chunk:
            yield chunk
        elif not part.at_eof():
            raise MalformedBody("the body ends inside a part: it was cut short")


async def skip_part(part: BodyPartReader) -> None:
    """Read past a part nobody wants (an empty file input, a field the form does not have)."""
    async for _chunk in part_chunks(part):
        pass


async def read_bounded(part: BodyPartReader, limit: int) -> bytes | None:
    """A part's bytes, or None once they grow past ``limit`` (the rest is not read): for what
    must be whole in memory (a text field, a CSV), where a client could send without end."""
    value = b""
    async for chunk in part_chunks(part):
        value += chunk
        if len(value) > limit:
            return None
    return value


async def read_text(part: BodyPartReader, limit: int) -> str | None:
    """A text part, or None once it grows past ``limit`` bytes or is not UTF-8;
    :class:`RefusedText` if it holds what no stored text may (:mod:`delivery.text`)."""
    value = await read_bounded(part, limit)
    if value is None:
        return None
    try:
        text = value.decode()
    except UnicodeDecodeError:
        return None
    _check_field(part.name or "", text)
    return text


def _check_field(name: str, value: str) -> None:
    if (problem := field_text_problem(name, value)) is not None:
        raise RefusedText(name, problem)
    if (problem := field_text_problem("", name)) is not None:
        raise RefusedText(name, f"name {problem}")


# --- the query string ---


def check_query(request: web.Request) -> None:
    """Every query parameter held to :mod:`delivery.text` (:class:`RefusedText`): a filter
    value reaches the database as text just as a stored field does (a NUL there is a 500)."""
    for name, value in request.query.items():
        _check_field(name, value)


# --- application/x-www-form-urlencoded (and a browser's multipart form without files) ---


async def read_form(
    request: web.Request,
) -> MultiDictProxy[str | bytes | bytearray | web.FileField]:
    """``request.post()`` (which aiohttp bounds by the application's ``client_max_size``), with
    a malformed body or more than :data:`MAX_PARTS` fields refused (:class:`MalformedBody`) and
    every text field held to :mod:`delivery.text` (:class:`RefusedText`)."""
    try:
        form = await request.post()
    except _PARSER_ERRORS as exc:
        _malformed("form data", exc)
    if len(form) > MAX_PARTS:
        raise MalformedBody(f"too many fields (at most {MAX_PARTS})")
    for name, value in form.items():
        if isinstance(value, str):
            _check_field(name, value)
    return form
