"""Headers every response carries, whatever made it: a handler, a static file, a problem, an
error page of aiohttp's own (404, 405, 500).

Set when the response is prepared (``on_response_prepare``), the one place every response
passes, so no route can forget them: ``nosniff`` (a stored document or a JSON body is never
run as a script or a page), a ``Server`` that names no version, and for HTML and plain-text
answers without their own a strict CSP and no framing.
"""

from __future__ import annotations

from aiohttp import web

SERVER = "Songda"
NOSNIFF = "nosniff"
# For a page that sets none (aiohttp's error pages, plain-text refusals): nothing may load
# or run, and nobody may frame it.
DEFAULT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"
)
DOCUMENT_TYPES = frozenset({"text/html", "text/plain"})


async def security_headers(_request: web.BaseRequest, response: web.StreamResponse) -> None:
    response.headers["X-Content-Type-Options"] = NOSNIFF
    response.headers["Server"] = SERVER
    if response.content_type in DOCUMENT_TYPES:
        response.headers.setdefault("Content-Security-Policy", DEFAULT_CSP)
        response.headers.setdefault("X-Frame-Options", "DENY")
