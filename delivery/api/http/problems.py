"""RFC 9457 problem details: every API error is ``application/problem+json``."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from templates.fonts import MissingGlyphs, code_point

PROBLEM_TYPE = "urn:songda:problem:"


class Problem(Exception):
    """An error to show the caller, with its HTTP status and a stable type slug."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or title)
        self.headers = headers or {}
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.extra = extra

    def response(self, instance: str | None = None) -> web.Response:
        body: dict[str, Any] = {
            "type": PROBLEM_TYPE + self.slug,
            "title": self.title,
            "status": self.status,
        }
        if self.detail:
            body["detail"] = self.detail
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return web.Response(
            status=self.status,
            text=json.dumps(body, ensure_ascii=False),
            content_type="application/problem+json",
            headers=self.headers,
        )


def validation_problem(errors: list[dict[str, str]]) -> Problem:
    return Problem(
        422,
        "validation-error",
        "The request is not valid",
        f"{len(errors)} field(s) are wrong; see errors",
        errors=errors,
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
