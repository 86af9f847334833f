"""The court's public front door, ``/``: the four things someone arriving at the service's
address may have come for — check a notice code (``/check``), verify a certificate
(``/verify/…``), read the notice board (``/notices``), or log in as staff (``/login``).

Someone holding a paper certificate or letter may not be able to scan its QR code, so the page
also takes the verification address printed beside it (``GET /verify?address=…``) and sends
them to that page on this site. Only the path and the ``h`` of a ``/verify/…`` address are
kept; anything else is answered on the home page itself, so the form cannot be used to send
people elsewhere (docs/decisions/0038-front-door-and-landings.md).
"""

from __future__ import annotations

from urllib.parse import parse_qs, quote, urlencode, urlsplit

from aiohttp import web

from delivery.api.http.request_context import ctx_of, html_page
from templates import locale_or_default

VERIFY_PREFIX = "/verify/"
MAX_ADDRESS = 300  # a verification address is about 130 characters


def _locale(request: web.Request) -> str:
    return locale_or_default(request.query.get("lang") or ctx_of(request).settings.default_locale)


def _page(
    request: web.Request, *, status: int = 200, address_refused: bool = False
) -> web.Response:
    """The home page. Public and the same for everyone, but not cached: a court's links and
    name change with its configuration, and the page is tiny."""
    locale = _locale(request)
    response = html_page(
        "home.html",
        status=status,
        referrer_policy="no-referrer",
        locale=locale,
        court=ctx_of(request).settings.court_name,
        other_locale="zh-CN" if locale == "en" else "en",
        address_refused=address_refused,
    )
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    )
    return response


async def home(request: web.Request) -> web.Response:
    """``GET /``: the front door (``?lang=en`` for English)."""
    return _page(request)


def verify_path(address: str) -> str | None:
    """The local ``/verify/…`` page a printed verification address names, or None.

    Accepts the full address (any host: the certificate names the public URL, which a proxy
    may present differently) or just its path; keeps the reference and ``h`` only."""
    parts = urlsplit(address.strip())
    if not parts.path.startswith(VERIFY_PREFIX):
        return None
    ref = parts.path[len(VERIFY_PREFIX) :]
    if not ref or "/" in ref:
        return None
    hashes = parse_qs(parts.query).get("h", [])
    query = f"?{urlencode({'h': hashes[0]})}" if hashes else ""
    return f"{VERIFY_PREFIX}{quote(ref, safe='.')}{query}"


async def verify_address(request: web.Request) -> web.Response:
    """``GET /verify?address=…``: to the verification page the address names; a malformed
    address gets the home page again with a note (422)."""
    target = verify_path(request.query.get("address", "")[:MAX_ADDRESS])
    if target is None:
        return _page(request, status=422, address_refused=True)
    lang = request.query.get("lang")
    if lang:
        target += f"{'&' if '?' in target else '?'}{urlencode({'lang': locale_or_default(lang)})}"
    raise web.HTTPSeeOther(target)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", home)
    app.router.add_get("/verify", verify_address)
