"""Per-address limits on every endpoint anyone may call without logging in, and the answers a
limited or unlimitable request gets (docs/decisions/0026-shared-limits.md).

The notice board and its PDFs, ``/verify``, ``/check``, the recipient link pages (``/r/…``,
and the address confirmation form's ``/c/…``), the login page and ``/.well-known/…`` count
against ``SONGDA_PUBLIC_REQUESTS_PER_MINUTE`` per address; notice PDFs also against
``SONGDA_PUBLIC_PDFS_PER_MINUTE``. These limits only spread load, so when Redis is down they
let the request through (the notice board stays readable);
the limits that guard a secret (login, ``/check``'s guesses, one-time codes) refuse with 503.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from math import ceil

from aiohttp import web
from aiohttp.typedefs import Handler

from delivery.api.http.problems import Problem
from delivery.api.http.request_context import ctx_of, html_page
from delivery.config import LimitSettings, Settings
from delivery.infra.rate_limits import LimitsUnavailable, Rule
from templates import locale_or_default

log = logging.getLogger(__name__)

MINUTE = timedelta(minutes=1)
# How long a client is asked to wait while the limits cannot be checked.
UNAVAILABLE_RETRY = timedelta(seconds=30)
PUBLIC_PREFIXES = ("/notices", "/verify/", "/check", "/r/", "/c/", "/.well-known/", "/login")
NOTICE_PDF = ("/notices/", ".pdf")
MAX_ADDRESS = 64


def client_address(request: web.Request, settings: Settings) -> str:
    """The client's IP: the peer's address, or — only when ``SONGDA_TRUST_X_FORWARDED_FOR`` is
    set because a reverse proxy that appends it sits in front — the last ``X-Forwarded-For``
    entry (the address that proxy saw; entries to its left are whatever the client wrote)."""
    if settings.trust_x_forwarded_for:
        forwarded = request.headers.getall("X-Forwarded-For", [])
        entries = [e.strip() for h in forwarded for e in h.split(",") if e.strip()]
        if entries:
            return entries[-1][:MAX_ADDRESS]
    return (request.remote or "unknown")[:MAX_ADDRESS]


def public_rules(path: str, address: str, limits: LimitSettings) -> list[Rule]:
    """The limits a request to ``path`` from ``address`` counts against (none: not public)."""
    if not path.startswith(PUBLIC_PREFIXES):
        return []
    rules = [Rule(f"public:{address}", limits.public_per_minute, MINUTE)]
    if path.startswith(NOTICE_PDF[0]) and path.endswith(NOTICE_PDF[1]):
        rules.append(Rule(f"pdf:{address}", limits.pdfs_per_minute, MINUTE))
    return rules


def retry_after(wait: timedelta) -> str:
    """``Retry-After`` in whole seconds, at least 1."""
    return str(max(1, ceil(wait.total_seconds())))


def _wants_page(request: web.Request) -> bool:
    """A person's page (HTML), rather than a PDF, JSON or an API call."""
    return not (
        request.path.startswith(("/api/", "/.well-known/")) or request.path.endswith(".pdf")
    )


def refusal(request: web.Request, wait: timedelta | None) -> web.Response:
    """429 (``wait`` until the next try is allowed) or, with ``wait`` None, 503 (the limits
    cannot be checked): a short page for a person, a problem for a program; ``Retry-After``."""
    status = 503 if wait is None else 429
    seconds = retry_after(wait or UNAVAILABLE_RETRY)
    headers = {"Retry-After": seconds}
    if _wants_page(request):
        locale = locale_or_default(
            request.query.get("lang") or ctx_of(request).settings.default_locale
        )
        response = html_page(
            "limited.html",
            status=status,
            referrer_policy="no-referrer",
            locale=locale,
            status_code=status,
            seconds=int(seconds),
        )
        response.headers.update(headers)
        return response
    if wait is None:
        problem = Problem(
            503, "limits-unavailable", "Try again shortly", "rate limits cannot be checked now"
        )
    else:
        problem = Problem(429, "too-many-requests", "Too many requests", f"retry after {seconds} s")
    problem.headers.update(headers)
    return problem.response(request.path)


@web.middleware
async def public_limits(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count every request to a public endpoint against its address's limits, before anything
    else (no database work for a refused request)."""
    ctx = ctx_of(request)
    rules = public_rules(request.path, client_address(request, ctx.settings), ctx.settings.limits)
    if rules:
        try:
            wait = await ctx.limits.hit(*rules)
        except LimitsUnavailable as exc:
            # Load spreading only: serve rather than refuse (the path may hold a link token,
            # so it is not logged).
            log.warning("public rate limits unavailable; request served", extra={"error": str(exc)})
            wait = None
        if wait is not None:
            return refusal(request, wait)
    return await handler(request)
