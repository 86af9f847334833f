"""Public pages, no login: ``/verify`` (the QR codes on certificates and letters) and ``/check``
("is this notice genuine?").

- ``GET /verify/{dispatch_id}?h=<hash>``: the certificate's QR target; the hash must match a
  service of the dispatch (current or superseded);
- ``GET /verify/{dispatch_id}.{tag}``: the letter's QR target; the tag is checked with
  :func:`tracking.verification.check_tag`;
- ``GET /check`` (the form), ``POST /check`` (code + last 4 digits), rate-limited per client.

An unknown dispatch, a malformed address, a wrong tag or a hash that matches nothing all get
one and the same "no such record" page (404), so the pages cannot be used to learn which ids
exist. ``/check`` answers an unknown code and wrong digits identically. Nothing here logs
codes, digits or hashes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from multidict import MultiDictProxy

from delivery.api.http.bodies import read_form
from delivery.api.http.rate_limit import client_address, refusal, retry_after
from delivery.api.http.request_context import ctx_of, html_page
from delivery.ids import looks_like_id
from delivery.infra.rate_limits import LimitsUnavailable, Rule
from delivery.services import verification
from templates import locale_or_default
from tracking.verification import TAG_CHARS, check_tag

CHECK_WINDOW = timedelta(minutes=15)
MAX_FIELD = 64


def _locale(request: web.Request, chosen: str | None = None) -> str:
    return locale_or_default(
        chosen or request.query.get("lang") or ctx_of(request).settings.default_locale
    )


def _page(name: str, *, status: int = 200, **context: object) -> web.Response:
    # Public, but about one case: not cached, not framed; the hash or tag in the address is
    # not sent on as a referrer.
    response = html_page(name, status=status, referrer_policy="no-referrer", **context)
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    )
    return response


def _no_record(locale: str) -> web.Response:
    return _page("verify_none.html", status=404, locale=locale)


def _split(ref: str) -> tuple[str, str | None] | None:
    """``{id}`` or ``{id}.{tag}`` → (id, tag), or None when malformed."""
    dispatch_id, dot, tag = ref.partition(".")
    if not looks_like_id(dispatch_id):
        return None
    if dot and (len(tag) != TAG_CHARS or not all(c in "0123456789abcdef" for c in tag)):
        return None
    return dispatch_id, (tag if dot else None)


async def verify(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    locale = _locale(request)
    parsed = _split(request.match_info["ref"])
    if parsed is None:
        return _no_record(locale)
    dispatch_id, tag = parsed
    head: str | None = None
    if tag is not None:
        if not check_tag(ctx.settings.secret_key, dispatch_id, tag):
            return _no_record(locale)
    else:
        head = verification.normalise_hash(request.query.get("h", "")[:100])
        if head is None:
            return _no_record(locale)
    record = await verification.verify_record(ctx, dispatch_id, head)
    if record is None:
        return _no_record(locale)
    other = {"lang": "zh-CN" if locale == "en" else "en"}
    if head is not None:
        other = {"h": head, **other}
    return _page(
        "verify.html",
        locale=locale,
        record=record,
        head=head,
        other_lang_url=f"{request.path}?{urlencode(other)}",
        zone=ctx.settings.time_zone,
    )


async def check_form(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    return _page(
        "check.html",
        locale=_locale(request),
        outcome=None,
        owner=None,
        limit=ctx.settings.limits.checks_per_15_minutes,
        window_minutes=int(CHECK_WINDOW.total_seconds() // 60),
        court=ctx.settings.court_name,
    )


def _field(form: MultiDictProxy[Any], name: str) -> str:
    value = form.get(name)
    return value[:MAX_FIELD] if isinstance(value, str) else ""


async def check(request: web.Request) -> web.Response:
    """``POST /check``: every try counts against the client's limit, right or wrong; when the
    limit cannot be checked the lookup is refused (503), never run unlimited."""
    ctx = ctx_of(request)
    form = await read_form(request)
    locale = _locale(request, _field(form, "lang"))
    common: dict[str, Any] = {
        "locale": locale,
        "limit": ctx.settings.limits.checks_per_15_minutes,
        "window_minutes": int(CHECK_WINDOW.total_seconds() // 60),
        "court": ctx.settings.court_name,
    }
    rule = Rule(
        f"check:{client_address(request, ctx.settings)}",
        ctx.settings.limits.checks_per_15_minutes,
        CHECK_WINDOW,
    )
    try:
        wait = await ctx.limits.hit(rule)
    except LimitsUnavailable:
        return refusal(request, None)
    if wait is not None:
        response = _page("check.html", status=429, outcome="limited", owner=None, **common)
        response.headers["Retry-After"] = retry_after(wait)
        return response
    owner = await verification.check_notice(ctx, _field(form, "code"), _field(form, "last4"))
    outcome = "genuine" if owner is not None else "unknown"
    return _page("check.html", outcome=outcome, owner=owner, **common)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/verify/{ref}", verify)
    r.add_get("/check", check_form)
    r.add_post("/check", check)
