"""The recipient's pages behind a signed link: identity check, document list, download.

Tampered and foreign tokens get a plain 403 page, expired or withdrawn links a plain 410 page;
neither reveals anything about the dispatch. A passed check is remembered in a cookie bound to
the link's issuance, so re-issuing the link also ends the session.
"""

from __future__ import annotations

import hmac
from typing import Any

from aiohttp import web

from delivery.api.http.bodies import read_form
from delivery.api.http.rate_limit import refusal, retry_after
from delivery.api.http.request_context import ctx_of, html_page
from delivery.ids import looks_like_id
from delivery.infra.rate_limits import LimitsUnavailable
from delivery.services import recipient
from delivery.services.recipient import CheckResult, LinkGone, LinkView, VisitorInfo
from templates import locale_or_default
from tracking.links import BadToken, session_value

COOKIE_PREFIX = "songda_r_"
SESSION_SECONDS = 3600


def _visitor(request: web.Request) -> VisitorInfo:
    return VisitorInfo(ip=request.remote, user_agent=request.headers.get("User-Agent"))


def _page(name: str, *, status: int = 200, **context: object) -> web.Response:
    # The link's token is in the URL: never send it on as a referrer.
    return html_page(name, status=status, referrer_policy="no-referrer", **context)


def _error(status: int) -> web.Response:
    return _page("link_error.html", status=status, status_code=status, locale="zh-CN")


def _verified(request: web.Request, view: LinkView) -> bool:
    cookie = request.cookies.get(COOKIE_PREFIX + view.claims.attempt_id)
    expected = session_value(
        ctx_of(request).settings.secret_key, view.claims.attempt_id, view.claims.issued_at
    )
    return cookie is not None and hmac.compare_digest(cookie, expected)


async def landing(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    token = request.match_info["token"]
    try:
        view = await recipient.open_link(ctx, token, _visitor(request), record=True)
    except BadToken:
        return _error(403)
    except LinkGone:
        return _error(410)
    locale = locale_or_default(request.query.get("lang", view.locale))
    common: dict[str, Any] = {
        "view": view,
        "token": token,
        "locale": locale,
        "zone": ctx.settings.time_zone,
    }
    if _verified(request, view):
        return _page("recipient_documents.html", **common)
    return _page("recipient_check.html", **common, failed=False, lock=view.lock, code_sent_to=None)


async def verify(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    token = request.match_info["token"]
    form = await read_form(request)
    answer = (
        {"code": str(form["code"])[:20]}
        if "code" in form
        else {"last4": str(form.get("last4", ""))[:20]}
    )
    try:
        result, lock = await recipient.check_identity(ctx, token, _visitor(request), **answer)
        view = await recipient.open_link(ctx, token, _visitor(request), record=False)
    except BadToken:
        return _error(403)
    except LinkGone:
        return _error(410)
    locale = locale_or_default(str(form.get("lang", view.locale)))
    if result == CheckResult.VERIFIED:
        response = web.HTTPSeeOther(f"/r/{token}")
        response.set_cookie(
            COOKIE_PREFIX + view.claims.attempt_id,
            session_value(ctx.settings.secret_key, view.claims.attempt_id, view.claims.issued_at),
            max_age=SESSION_SECONDS,
            httponly=True,
            samesite="Strict",
            secure=ctx.settings.public_base_url.startswith("https://"),
            path=f"/r/{token}",
        )
        raise response
    status = 429 if result == CheckResult.LOCKED else 401
    return _page(
        "recipient_check.html",
        status=status,
        view=view,
        token=token,
        locale=locale,
        zone=ctx.settings.time_zone,
        failed=result == CheckResult.FAILED,
        lock=lock,
        code_sent_to=None,
    )


async def request_code(request: web.Request) -> web.Response:
    """ "Send me a one-time code": on the other channel, then the same check page asks for it
    (429 with ``Retry-After`` once the link has had its codes for the day)."""
    ctx = ctx_of(request)
    token = request.match_info["token"]
    form = await read_form(request)
    limited = None
    try:
        sent_to = await recipient.send_code(ctx, token, _visitor(request))
        status = 200
    except recipient.CodeNotAvailable:
        sent_to, status = None, 409
    except recipient.CodeLimitReached as reached:
        sent_to, status, limited = None, 429, retry_after(reached.wait)
    except LimitsUnavailable:
        return refusal(request, None)
    except BadToken:
        return _error(403)
    except LinkGone:
        return _error(410)
    view = await recipient.open_link(ctx, token, _visitor(request), record=False)
    response = _page(
        "recipient_check.html",
        status=status,
        view=view,
        token=token,
        locale=locale_or_default(str(form.get("lang", view.locale))),
        zone=ctx.settings.time_zone,
        failed=False,
        lock=view.lock,
        code_sent_to=sent_to,
        code_limited=limited is not None,
    )
    if limited is not None:
        response.headers["Retry-After"] = limited
    return response


async def download(request: web.Request) -> web.StreamResponse:
    ctx = ctx_of(request)
    token = request.match_info["token"]
    document_id = request.match_info["document_id"]
    try:
        view = await recipient.open_link(ctx, token, _visitor(request), record=False)
        if not _verified(request, view):
            raise web.HTTPSeeOther(f"/r/{token}")
        if not looks_like_id(document_id):
            raise KeyError(document_id)
        document, path = await recipient.download(ctx, token, document_id, _visitor(request))
    except BadToken:
        return _error(403)
    except LinkGone:
        return _error(410)
    except KeyError:
        return _error(404)
    response = web.FileResponse(
        path,
        headers={
            "Content-Type": document.media_type,
            "Content-Disposition": f'attachment; filename="{document.id}.pdf"',
            "Cache-Control": "no-store",
        },
    )
    return response
