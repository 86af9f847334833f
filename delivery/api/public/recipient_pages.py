"""The recipient's pages behind a signed link: identity check, document list, download.

Tampered and foreign tokens get a plain 403 page, expired or withdrawn links a plain 410 page;
neither reveals anything about the dispatch. A passed check is remembered in a cookie bound to
the link's issuance, so re-issuing the link also ends the session.
"""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Any

from aiohttp import web

from delivery.api.http.bodies import read_form
from delivery.api.http.disposition import Disposition, content_disposition
from delivery.api.http.rate_limit import refusal, retry_after
from delivery.api.http.request_context import ctx_of, html_page
from delivery.ids import looks_like_id
from delivery.infra.rate_limits import LimitsUnavailable
from delivery.services import recipient
from delivery.services.recipient import CheckResult, LinkGone, LinkView, VisitorInfo
from delivery.services.sending import check_url
from templates import locale_or_default
from tracking.identity_check import LockState
from tracking.links import BadToken, session_value

COOKIE_PREFIX = "songda_r_"
SESSION_SECONDS = 3600


def visitor_of(request: web.Request) -> VisitorInfo:
    return VisitorInfo(ip=request.remote, user_agent=request.headers.get("User-Agent"))


def _page(name: str, *, status: int = 200, **context: object) -> web.Response:
    # The link's token is in the URL: never send it on as a referrer.
    return html_page(name, status=status, referrer_policy="no-referrer", **context)


def _common(request: web.Request, token: str, view: LinkView, locale: str) -> dict[str, Any]:
    """What every recipient page shows: the link's view, and how to reach the court — the
    configured contact only on a dispatch of the court this deployment is configured for."""
    settings = ctx_of(request).settings
    own_court = view.court == settings.court_name
    return {
        "view": view,
        "token": token,
        "locale": locale_or_default(locale),
        "zone": settings.time_zone,
        "contact": settings.court_contact if own_court else None,
        "check_url": check_url(ctx_of(request)),
    }


def _check_page(
    request: web.Request,
    token: str,
    view: LinkView,
    locale: str,
    *,
    status: int = 200,
    failed_method: str | None = None,
    code_sent_to: str | None = None,
    code_limited: bool = False,
    code_unavailable: bool = False,
) -> web.Response:
    """The identity check: first "send me a code" (where a code can be sent) or the last 4
    characters; once a code went out (or a code was wrong), only the code field."""
    return _page(
        "recipient_check.html",
        status=status,
        **_common(request, token, view, locale),
        lock=view.lock,
        failed_method=failed_method,
        code_sent_to=code_sent_to,
        code_limited=code_limited,
        code_unavailable=code_unavailable,
    )


def checked_redirect(
    request: web.Request, path: str, query: str, cookie: str, value: str
) -> web.HTTPSeeOther:
    """Back to the link's page after a passed check, remembering it in a cookie for that
    link's pages only (``path``), never sent from another site."""
    response = web.HTTPSeeOther(f"{path}{query}")
    response.set_cookie(
        cookie,
        value,
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="Strict",
        secure=ctx_of(request).settings.public_base_url.startswith("https://"),
        path=path,
    )
    return response


def link_error(request: web.Request, status: int) -> web.Response:
    """A bad link's page says nothing of the dispatch, so not its language either: the one asked
    for (``?lang=``), else the court's, with a switch to the other."""
    locale = locale_or_default(request.query.get("lang") or ctx_of(request).settings.default_locale)
    return _page("link_error.html", status=status, status_code=status, locale=locale)


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
        view = await recipient.open_link(ctx, token, visitor_of(request), record=True)
    except BadToken:
        return link_error(request, 403)
    except LinkGone:
        return link_error(request, 410)
    locale = request.query.get("lang", view.locale)
    if _verified(request, view):
        return _page("recipient_documents.html", **_common(request, token, view, locale))
    return _check_page(request, token, view, locale)


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
        result, lock = await recipient.check_identity(ctx, token, visitor_of(request), **answer)
        view = await recipient.open_link(ctx, token, visitor_of(request), record=False)
    except BadToken:
        return link_error(request, 403)
    except LinkGone:
        return link_error(request, 410)
    locale = str(form.get("lang", view.locale))
    if result == CheckResult.VERIFIED:
        # Back to the page, in the language the recipient chose when it is not the dispatch's.
        chosen = locale_or_default(locale)
        query = "" if chosen == view.locale else f"?lang={chosen}"
        value = session_value(
            ctx.settings.secret_key, view.claims.attempt_id, view.claims.issued_at
        )
        raise checked_redirect(
            request, f"/r/{token}", query, COOKIE_PREFIX + view.claims.attempt_id, value
        )
    status = 429 if result == CheckResult.LOCKED else 401
    failed = next(iter(answer)) if result == CheckResult.FAILED else None
    response = _check_page(request, token, view, locale, status=status, failed_method=failed)
    return when_unlocked(response, lock, ctx.clock.now())


def when_unlocked(response: web.Response, lock: LockState, now: datetime) -> web.Response:
    """A locked link's answer says when to try again (``Retry-After``) when its lock ends by
    itself — not when it holds until the court re-issues the link."""
    if lock.locked and lock.until is not None:
        response.headers["Retry-After"] = retry_after(lock.until - now)
    return response


async def request_code(request: web.Request) -> web.Response:
    """ "Send me a one-time code": on the other channel, then the same check page asks for it
    (429 with ``Retry-After`` once the link has had its codes for the day)."""
    ctx = ctx_of(request)
    token = request.match_info["token"]
    form = await read_form(request)
    limited = None
    try:
        sent_to = await recipient.send_code(ctx, token, visitor_of(request))
        status = 200
    except recipient.CodeNotAvailable:
        sent_to, status = None, 409
    except recipient.CodeLimitReached as reached:
        sent_to, status, limited = None, 429, retry_after(reached.wait)
    except LimitsUnavailable:
        return refusal(request, None)
    except BadToken:
        return link_error(request, 403)
    except LinkGone:
        return link_error(request, 410)
    view = await recipient.open_link(ctx, token, visitor_of(request), record=False)
    response = _check_page(
        request,
        token,
        view,
        str(form.get("lang", view.locale)),
        status=status,
        code_sent_to=sent_to,
        code_limited=limited is not None,
        code_unavailable=status == 409,
    )
    if limited is not None:
        response.headers["Retry-After"] = limited
    return response


async def download(request: web.Request) -> web.StreamResponse:
    """A document, shown in the browser, or saved with ``?download=1``; named by its title."""
    ctx = ctx_of(request)
    token = request.match_info["token"]
    document_id = request.match_info["document_id"]
    try:
        view = await recipient.open_link(ctx, token, visitor_of(request), record=False)
        if not _verified(request, view):
            raise web.HTTPSeeOther(f"/r/{token}")
        if not looks_like_id(document_id):
            raise KeyError(document_id)
        document, path = await recipient.download(ctx, token, document_id, visitor_of(request))
    except BadToken:
        return link_error(request, 403)
    except LinkGone:
        return link_error(request, 410)
    except KeyError:
        return link_error(request, 404)
    response = web.FileResponse(
        path,
        headers={
            "Content-Type": document.media_type,
            "Content-Disposition": content_disposition(
                Disposition.ATTACHMENT if "download" in request.query else Disposition.INLINE,
                document.title,
                ".pdf",
            ),
            "Cache-Control": "no-store",
        },
    )
    return response
