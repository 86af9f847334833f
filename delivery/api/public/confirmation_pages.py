"""The address confirmation form behind its signed link (``/c/{token}``): the identity check, the
form, the signed form's page and its PDF. Only HTTP here; the rules are
delivery/services/address_confirmation.py.

As for the service link (recipient_pages.py), a tampered or foreign token gets a plain 403 page
and an expired or re-issued one a plain 410 page, neither saying anything of the dispatch; a
passed check is remembered in a cookie bound to the link's issuance.
"""

from __future__ import annotations

import hmac
from typing import Any

from aiohttp import web

from delivery.api.http.bodies import read_form
from delivery.api.http.disposition import Disposition, content_disposition
from delivery.api.http.request_context import ctx_of, html_page
from delivery.api.public.recipient_pages import (
    checked_redirect,
    link_error,
    visitor_of,
    when_unlocked,
)
from delivery.identity import mask_address
from delivery.services import address_confirmation
from delivery.services.address_confirmation import ConfirmationPage, FormRejected
from delivery.services.recipient import CheckResult, LinkGone
from delivery.services.sending import check_url
from templates import locale_or_default
from templates.i18n import ptranslate
from tracking.links import BadToken, session_value

COOKIE_PREFIX = "songda_c_"
MAX_FIELD = 500


def _session(request: web.Request, page: ConfirmationPage) -> str:
    return session_value(
        ctx_of(request).settings.secret_key,
        page.claims.attempt_id,
        page.claims.issued_at,
        address_confirmation.SESSION_PURPOSE,
    )


def _verified(request: web.Request, page: ConfirmationPage) -> bool:
    cookie = request.cookies.get(COOKIE_PREFIX + page.claims.attempt_id)
    return cookie is not None and hmac.compare_digest(cookie, _session(request, page))


def _render(
    request: web.Request,
    name: str,
    token: str,
    page: ConfirmationPage,
    locale: str,
    *,
    status: int = 200,
    **context: Any,
) -> web.Response:
    settings = ctx_of(request).settings
    return html_page(
        name,
        status=status,
        referrer_policy="no-referrer",  # the token is in the URL
        page=page,
        token=token,
        locale=locale_or_default(locale),
        zone=settings.time_zone,
        contact=settings.court_contact if page.court == settings.court_name else None,
        check_url=check_url(ctx_of(request)),
        # The court's contact section (pages/recipient_court.html) of a link with no notice code.
        view={"facts": {"notice_code": None}},
        **context,
    )


def _form(
    request: web.Request,
    token: str,
    page: ConfirmationPage,
    locale: str,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    posted: dict[str, str] | None = None,
    unavailable: bool = False,
) -> web.Response:
    # What the court has, masked: the check is only 4 characters, so the page shows enough to
    # recognise an address, never to learn one. A field starts empty (empty keeps them).
    known = {
        field: [mask_address(c.kind.value, c.value) for c in found]
        for field, found in page.known.items()
    }
    return _render(
        request,
        "confirmation_form.html",
        token,
        page,
        locale,
        status=status,
        errors=errors or {},
        posted=posted or {},
        known=known,
        unavailable=unavailable,
    )


async def _opened(request: web.Request) -> tuple[str, ConfirmationPage] | web.Response:
    token = request.match_info["token"]
    try:
        return token, await address_confirmation.open_form(ctx_of(request), token)
    except BadToken:
        return link_error(request, 403)
    except LinkGone:
        return link_error(request, 410)


async def landing(request: web.Request) -> web.Response:
    opened = await _opened(request)
    if isinstance(opened, web.Response):
        return opened
    token, page = opened
    locale = request.query.get("lang", page.locale)
    if not _verified(request, page):
        return _render(request, "confirmation_check.html", token, page, locale)
    if page.signed is not None:
        return _render(request, "confirmation_done.html", token, page, locale)
    return _form(request, token, page, locale)


async def _posted(
    request: web.Request,
) -> tuple[Any, str, ConfirmationPage, str] | web.Response:
    """(form, token, page, locale) of a form posted to a genuine link, or the error page."""
    form = await read_form(request)
    opened = await _opened(request)
    if isinstance(opened, web.Response):
        return opened
    token, page = opened
    return form, token, page, locale_or_default(str(form.get("lang", page.locale)))


async def verify(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    posted = await _posted(request)
    if isinstance(posted, web.Response):
        return posted
    form, token, page, locale = posted
    try:
        result, lock = await address_confirmation.check_identity(
            ctx, token, visitor_of(request), str(form.get("last4", ""))[:20]
        )
    except BadToken:
        return link_error(request, 403)
    except LinkGone:
        return link_error(request, 410)
    if result == CheckResult.VERIFIED:
        query = "" if locale == page.locale else f"?lang={locale}"
        cookie = COOKIE_PREFIX + page.claims.attempt_id
        raise checked_redirect(request, f"/c/{token}", query, cookie, _session(request, page))
    page = await address_confirmation.open_form(ctx, token)
    status = 429 if result == CheckResult.LOCKED else 401
    response = _render(
        request,
        "confirmation_check.html",
        token,
        page,
        locale,
        status=status,
        failed=result == CheckResult.FAILED,
    )
    return when_unlocked(response, lock, ctx.clock.now())


async def submit(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    posted_form = await _posted(request)
    if isinstance(posted_form, web.Response):
        return posted_form
    form, token, page, locale = posted_form
    query = "" if locale == page.locale else f"?lang={locale}"
    if not _verified(request, page):
        raise web.HTTPSeeOther(f"/c/{token}{query}")
    posted = {f: str(form.get(f, ""))[:MAX_FIELD] for f in address_confirmation.FIELDS}
    try:
        await address_confirmation.submit(ctx, token, visitor_of(request), posted)
    except FormRejected as rejected:
        return _form(
            request, token, page, locale, status=422, errors=rejected.errors, posted=posted
        )
    except address_confirmation.FormUnavailable:
        return _form(request, token, page, locale, status=503, posted=posted, unavailable=True)
    except BadToken:
        return link_error(request, 403)
    except LinkGone:
        return link_error(request, 410)
    raise web.HTTPSeeOther(f"/c/{token}{query}")


async def signed_form(request: web.Request) -> web.StreamResponse:
    """The signed form's PDF, for the recipient who signed it (behind the identity check)."""
    opened = await _opened(request)
    if isinstance(opened, web.Response):
        return opened
    token, page = opened
    if not _verified(request, page) or page.signed is None:
        raise web.HTTPSeeOther(f"/c/{token}")
    path = ctx_of(request).documents.path_for(page.signed.form_sha256)
    return web.FileResponse(
        path,
        headers={
            "Content-Type": "application/pdf",
            "Content-Disposition": content_disposition(
                Disposition.ATTACHMENT,
                f"{ptranslate(page.locale, 'confirmation_form', 'Address confirmation form')} "
                f"{page.case_number}",
                ".pdf",
            ),
            "Cache-Control": "no-store",
        },
    )
