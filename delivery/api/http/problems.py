"""RFC 9457 problem details: every API error is ``application/problem+json``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from delivery.domain import LOCALES
from templates.fonts import MissingGlyphs, code_point
from templates.i18n import translate
from templates.texts import Text

PROBLEM_TYPE = "urn:songda:problem:"


class Problem(Exception):
    """An error to show the caller, with its HTTP status and a stable type slug.

    The title is a msgid of the message catalogue (Babel extracts it: keyword ``Problem``), the
    detail a msgid or a :class:`~templates.texts.Text`; both are translated into the language
    the caller asked for (:func:`problem_locale`) when the response is made.
    """

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str | Text | None = None,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(str(detail or title))
        self.headers = headers or {}
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.extra = extra

    def response(self, instance: str | None = None, locale: str = "en") -> web.Response:
        body: dict[str, Any] = {
            "type": PROBLEM_TYPE + self.slug,
            "title": translate(locale, self.title),
            "status": self.status,
        }
        if isinstance(self.detail, Text):
            body["detail"] = self.detail.in_locale(locale)
        elif self.detail:
            body["detail"] = translate(locale, self.detail)
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return web.Response(
            status=self.status,
            text=json.dumps(body, ensure_ascii=False),
            content_type="application/problem+json",
            headers=self.headers,
        )


def problem_locale(request: web.Request) -> str:
    """The language of a problem's words: ``?lang=`` when given, else the first language of
    ``Accept-Language`` Songda speaks (``zh``, ``zh-CN``, ``zh-Hans`` read as zh-CN), else English
    — an integrator's program, which sends neither, gets the stable English titles."""
    chosen = request.query.get("lang")
    if chosen in LOCALES:
        return chosen
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate(request.headers.get("Accept-Language", "").split(",")[:20]):
        tag, _, q = part.strip().partition(";q=")
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            continue
        ranked.append((-weight, i, tag.strip().lower()))
    for _weight, _i, tag in sorted(ranked):
        if tag == "zh" or tag.startswith(("zh-cn", "zh-hans", "zh-sg")):
            return "zh-CN"
        if tag == "en" or tag.startswith("en-"):
            return "en"
    return "en"


def field_error(field: str, message: str, **params: object) -> dict[str, str]:
    """One field's error: ``message`` (a msgid, ``%(name)s`` parameters) in English for the API,
    and — when it has parameters — its msgid and their values, kept so that a page (or a batch
    report read later) can show it in its reader's language (:func:`field_message`)."""
    if not params:
        return {"field": field, "message": message}
    values = {name: str(value) for name, value in params.items()}
    return {
        "field": field,
        "message": message % values,
        "msgid": message,
        "params": json.dumps(values, ensure_ascii=False),
    }


def field_message(locale: str, error: Mapping[str, str]) -> str:
    """A field error's message in ``locale`` (as it came when the catalogue does not know it)."""
    if "msgid" in error:
        return translate(locale, error["msgid"], **json.loads(error.get("params", "{}")))
    return translate(locale, error["message"])


def validation_problem(errors: list[dict[str, str]]) -> Problem:
    return Problem(
        422,
        "validation-error",
        "The request is not valid",
        f"{len(errors)} field(s) are wrong; see errors",
        # The API's errors are each a field and its English message.
        errors=[{k: v for k, v in e.items() if k not in ("msgid", "params")} for e in errors],
    )


def unprintable(error: MissingGlyphs) -> Problem:
    """A PDF that would need a character no font covers: not drawn (never a box instead)."""
    return Problem(
        409,
        "unprintable-text",
        "The PDF cannot be made: a character is outside the fonts",
        f"{error}; a supplementary font in SONGDA_FONTS_DIR that covers it fixes this",
        errors=[
            {"field": field, "characters": [code_point(c) for c in chars]}
            for field, chars in error.fields.items()
        ],
    )


def not_found(what: str = "resource") -> Problem:
    return Problem(404, "not-found", "Not found", f"no such {what}")
