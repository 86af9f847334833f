"""Staff sign-in: the session cookie, the login and logout pages, and the helpers pages build on.

Pages for staff call :func:`require_staff` (optionally with roles) and put :func:`csrf_token` in a
hidden ``<input name="csrf_token">`` of every form; their POST handlers call :func:`check_csrf`
before changing anything. The session cookie is ``HttpOnly``, ``SameSite=Lax``, ``Path=/`` and
``Secure`` when the public URL is https. The login form, which has no session yet, is protected by
a signed double-submit cookie. See docs/decisions/0005-staff-sessions.md.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlsplit

from aiohttp import web
from aiohttp.typedefs import Handler
from multidict import MultiMapping

from delivery.api.http.bodies import read_form
from delivery.api.http.problems import Problem
from delivery.api.http.rate_limit import UNAVAILABLE_RETRY, client_address, retry_after
from delivery.api.http.request_context import STAFF, ctx_of, html_page
from delivery.api.staff import accounts
from delivery.infra.rate_limits import LimitsUnavailable
from delivery.services import staff_accounts
from delivery.services.staff_accounts import SESSION_TTL, LoginThrottled, StaffSession
from delivery.staff import Role, StaffUser
from templates import locale_or_default
from templates.i18n import N_

SESSION_COOKIE = "songda_session"
LOGIN_CSRF_COOKIE = "songda_login_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ACCOUNT_PATH = "/account"
LOGIN_PATH = "/login"
MAX_FIELD = 1024

SESSION: web.RequestKey[StaffSession] = web.RequestKey("staff_session", StaffSession)

# --- The public helpers other pages build on ---


def current_staff(request: web.Request) -> StaffUser | None:
    """The logged-in staff account, or None."""
    return request.get(STAFF)


def current_session(request: web.Request) -> StaffSession | None:
    return request.get(SESSION)


def _is_api(request: web.Request) -> bool:
    return request.path.startswith("/api/")


def require_staff(request: web.Request, *roles: Role) -> StaffUser:
    """The logged-in account; when ``roles`` are given it must hold one of them.

    No session: pages are redirected to the login page (coming back afterwards), the API answers
    a 401 problem. Missing role: 403 (``HTTPForbidden`` for pages, a problem for the API).
    """
    user = current_staff(request)
    if user is None:
        if _is_api(request):
            raise Problem(401, "unauthorized", "Login required", N_("log in at /login"))
        raise web.HTTPFound(f"{LOGIN_PATH}?next={quote(request.path_qs, safe='/')}")
    if roles and not any(user.has(r) for r in roles):
        if _is_api(request):
            raise Problem(
                403,
                "role-required",
                "Your account's roles do not allow this",
                f"needs one of: {', '.join(r.value for r in roles)}",
            )
        raise web.HTTPForbidden(text="403: your account's roles do not allow this page")
    return user


def csrf_token(request: web.Request) -> str:
    """The session's CSRF token, for ``<input type="hidden" name="csrf_token">`` in every form
    (and the ``X-CSRF-Token`` header on the API). Without a session: as :func:`require_staff`."""
    session = current_session(request)
    if session is None:
        require_staff(request)
        raise AssertionError("unreachable")  # pragma: no cover
    return session.csrf_token


async def check_csrf(request: web.Request, form_value: str | None) -> None:
    """Raise 403 unless ``form_value`` is the session's CSRF token (call before any change).

    For session-authenticated forms; without a session it always refuses. (The JSON API checks
    ``X-CSRF-Token`` itself, in the authentication middleware.)"""
    session = current_session(request)
    if (
        session is None
        or not form_value
        or not hmac.compare_digest(form_value.encode(), session.csrf_token.encode())
    ):
        if _is_api(request):
            raise Problem(403, "csrf-failed", "CSRF token missing or wrong")
        raise web.HTTPForbidden(text="403: the form has expired or is not ours; reload the page")


# --- Middleware ---


@web.middleware
async def staff_sessions(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Resolve the session cookie into ``request[STAFF]`` (and the session) for every request."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        ctx = ctx_of(request)
        # Sessions live on the wall clock: their 12 hours are security, not legal time, so
        # the sandbox moving its clock 30 days ahead does not log everybody out (decision 0033).
        session = await staff_accounts.session_for(ctx.engine, ctx.wall_clock, token)
        if session is not None:
            request[SESSION] = session
            request[STAFF] = session.user
    return await handler(request)


# --- Cookies ---


def _secure(request: web.Request) -> bool:
    return ctx_of(request).settings.public_base_url.startswith("https://")


def _set_cookie(
    request: web.Request, response: web.StreamResponse, name: str, value: str, max_age: int
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="Lax",
        secure=_secure(request),
    )


def _delete_cookie(request: web.Request, response: web.StreamResponse, name: str) -> None:
    response.del_cookie(name, path="/", secure=_secure(request), httponly=True, samesite="Lax")


def _login_signature(request: web.Request, nonce: str) -> str:
    key = ctx_of(request).settings.secret_key.encode()
    return hmac.new(key, f"songda-login-csrf:{nonce}".encode(), hashlib.sha256).hexdigest()


def _login_token(request: web.Request) -> str:
    """The login form's CSRF token: the cookie's if it is ours, else a new signed one."""
    existing = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if _login_token_valid(request, existing):
        return existing
    nonce = secrets.token_urlsafe(24)
    return f"{nonce}.{_login_signature(request, nonce)}"


def _login_token_valid(request: web.Request, value: str) -> bool:
    nonce, _, signature = value.partition(".")
    return bool(nonce) and hmac.compare_digest(
        signature.encode(), _login_signature(request, nonce).encode()
    )


# --- Pages ---


# Where each role's work starts, in the order that decides for an account holding several:
# approving notices is what only a supervisor can do, so it comes before the clerk's queue
# (docs/decisions/0038-front-door-and-landings.md).
LANDINGS = (
    (Role.SUPERVISOR, "/staff/notices"),
    (Role.CLERK, "/staff/queue"),
    (Role.FIELD_SERVER, "/field"),
    (Role.ADMIN, ACCOUNT_PATH),
)


def landing(user: StaffUser) -> str:
    """The page an account starts on after login when no safe ``next`` was asked for."""
    return next((path for role, path in LANDINGS if user.has(role)), ACCOUNT_PATH)


def local_path(value: str | None) -> str | None:
    """``value`` if it is a path on this site, else None (no open redirects)."""
    if (
        not value
        or len(value) > 2000
        or not value.startswith("/")
        or value.startswith("//")
        or "\\" in value
        or any(ord(c) < 32 or ord(c) == 127 for c in value)
    ):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.path in (LOGIN_PATH, "/logout"):
        return None
    return value


def staff_page(name: str, *, status: int = 200, **context: Any) -> web.Response:
    """A rendered page with the headers staff pages share (no caching, no framing)."""
    response = html_page(name, status=status, referrer_policy="same-origin", **context)
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; "
        "img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    return response


def page_locale(request: web.Request, form: MultiMapping[Any] | None = None) -> str:
    """The page's language: the form's ``lang``, else ``?lang=``, else the court's default."""
    chosen = _field(form, "lang") if form is not None else None
    return locale_or_default(
        chosen or request.query.get("lang") or ctx_of(request).settings.default_locale
    )


def workspace_page(
    request: web.Request,
    name: str,
    user: StaffUser,
    active: str,
    *,
    status: int = 200,
    **context: Any,
) -> web.Response:
    """A page of the clerk workspace (``templates/pages/staff_base.html``) with what its frame
    needs: the page's language (unless ``locale`` is given), the account, the navigation's
    active entry, the court's time zone and the session's CSRF token for its forms."""
    context.setdefault("locale", page_locale(request))
    return staff_page(
        name,
        status=status,
        user=user,
        active=active,
        zone=ctx_of(request).settings.time_zone,
        csrf_token=csrf_token(request),
        **context,
    )


def in_locale(request: web.Request, path: str, locale: str) -> str:
    """``path`` asking for ``locale`` where that is not already the court's default."""
    return path if locale == ctx_of(request).settings.default_locale else f"{path}?lang={locale}"


def _field(form: MultiMapping[Any], name: str) -> str | None:
    value = form.get(name)
    return value[:MAX_FIELD] if isinstance(value, str) else None


def _login_form(
    request: web.Request,
    *,
    locale: str,
    next_path: str,
    username: str = "",
    error: str | None = None,
    status: int = 200,
    wait: timedelta | None = None,
) -> web.Response:
    """The form; with ``wait``, also ``Retry-After`` and the seconds to wait on the page."""
    token = _login_token(request)
    seconds = retry_after(wait) if wait is not None else None
    response = staff_page(
        "login.html",
        status=status,
        locale=locale,
        csrf_token=token,
        next_path=next_path,
        username=username,
        error=error,
        seconds=seconds,
        court=ctx_of(request).settings.court_name,
    )
    if seconds is not None:
        response.headers["Retry-After"] = seconds
    _set_cookie(request, response, LOGIN_CSRF_COOKIE, token, 2 * 3600)
    return response


async def login_page(request: web.Request) -> web.Response:
    """``GET /login``: the form (``?next=`` a local path to return to, ``?lang=en``)."""
    return _login_form(
        request, locale=page_locale(request), next_path=local_path(request.query.get("next")) or ""
    )


async def login(request: web.Request) -> web.Response:
    """``POST /login``: check CSRF and password; start a session and go to ``next`` when it is
    a path on this site, else to the account's :func:`landing` (in the language it logged in with).

    Too many wrong passwords from this address: 429 with ``Retry-After`` (the same for a
    username that does not exist); the throttle unreachable: 503, and no password is checked."""
    ctx = ctx_of(request)
    form = await read_form(request)
    locale = page_locale(request, form)
    next_path = local_path(_field(form, "next")) or ""  # "": the account's landing
    username = _field(form, "username") or ""
    sent = _field(form, CSRF_FIELD) or ""
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not (sent and hmac.compare_digest(sent.encode(), cookie.encode())) or not _login_token_valid(
        request, sent
    ):
        return _login_form(
            request,
            locale=locale,
            next_path=next_path,
            username=username,
            error="expired",
            status=403,
        )
    password = form.get("password")
    started = None
    again = {"locale": locale, "next_path": next_path, "username": username}
    if isinstance(password, str) and username:
        try:
            started = await staff_accounts.log_in(
                ctx.engine,
                ctx.wall_clock,
                ctx.limits,
                username=username,
                password=password,
                address=client_address(request, ctx.settings),
            )
        except LoginThrottled as throttled:
            return _login_form(request, **again, error="throttled", status=429, wait=throttled.wait)
        except LimitsUnavailable:
            return _login_form(
                request, **again, error="unavailable", status=503, wait=UNAVAILABLE_RETRY
            )
    if started is None:
        return _login_form(
            request, locale=locale, next_path=next_path, username=username, error="refused"
        )
    token, session = started
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        await staff_accounts.end_session(ctx.engine, ctx.wall_clock, old)
    response = web.HTTPSeeOther(next_path or in_locale(request, landing(session.user), locale))
    _set_cookie(request, response, SESSION_COOKIE, token, int(SESSION_TTL.total_seconds()))
    _delete_cookie(request, response, LOGIN_CSRF_COOKIE)
    raise response


async def logout(request: web.Request) -> web.Response:
    """``POST /logout`` (with the form's CSRF token): revoke the session, back to the login."""
    ctx = ctx_of(request)
    token = request.cookies.get(SESSION_COOKIE)
    if current_session(request) is None or not token:
        raise web.HTTPSeeOther(LOGIN_PATH)
    form = await read_form(request)
    await check_csrf(request, _field(form, CSRF_FIELD))
    await staff_accounts.end_session(ctx.engine, ctx.wall_clock, token)
    response = web.HTTPSeeOther(LOGIN_PATH)
    _delete_cookie(request, response, SESSION_COOKIE)
    raise response


async def account(request: web.Request) -> web.Response:
    """``GET /account``: who is logged in (roles, courts), the logout button and, for an
    administrator, the accounts of their courts (read-only; accounts.py)."""
    user = require_staff(request)
    locale = page_locale(request)
    context = await accounts.account_context(ctx_of(request).engine, user, locale)
    return workspace_page(request, "account.html", user, "account", locale=locale, **context)


def add_routes(app: web.Application) -> None:
    app.router.add_get(LOGIN_PATH, login_page)
    app.router.add_post(LOGIN_PATH, login)
    app.router.add_post("/logout", logout)
    app.router.add_get("/account", account)
