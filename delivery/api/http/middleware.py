"""Cross-cutting HTTP concerns: problem+json for every API error, 503 while a dependency is down
(``delivery.api.http.outages``), and API authentication.

The API takes an API key (``Authorization: Bearer``) or a staff session cookie; with the cookie,
unsafe methods must carry the session's CSRF token in ``X-CSRF-Token``.
"""

from __future__ import annotations

import hmac
import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from delivery.api.http.bodies import MalformedBody, check_query, refused_body
from delivery.api.http.outages import unavailable, unavailable_dependency
from delivery.api.http.problems import Problem, problem_locale, unprintable
from delivery.api.http.request_context import API_KEY, CALLER, Caller
from delivery.api.staff.auth import CSRF_HEADER, SAFE_METHODS, current_session
from delivery.infra.document_store import UploadRejected
from delivery.services.api_keys import ApiKeyVerifier
from delivery.storage.engine import connection_lost
from templates.fonts import MissingGlyphs
from templates.i18n import N_

log = logging.getLogger(__name__)
PUBLIC_API_PATHS = frozenset({"/api/v1/openapi.json"})
VERIFIER: web.AppKey[ApiKeyVerifier] = web.AppKey("api_key_verifier", ApiKeyVerifier)


def _is_api(request: web.Request) -> bool:
    return request.path.startswith("/api/")


def _route(request: web.Request) -> str:
    """The route's pattern (``/r/{token}``), for logs: a path can hold a secret (a recipient's
    link, a provider's callback secret) and never goes into a log line."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "(no route)"


@web.middleware
async def problems(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        check_query(request)
        return await handler(request)
    except Problem as problem:
        return problem.response(request.path, problem_locale(request))
    except MissingGlyphs as missing:
        return unprintable(missing).response(request.path, problem_locale(request))
    except (UploadRejected, MalformedBody) as refused:
        # A body the readers refused (delivery/api/http/bodies.py) where the handler has no form of
        # its own to show the reason on.
        if _is_api(request):
            return refused_body(refused).response(request.path, problem_locale(request))
        return web.Response(status=refused.status, text=f"{refused.status}: {refused.reason}")
    except web.HTTPException as exc:
        if not _is_api(request) or exc.status < 400:
            raise
        slug = {404: "not-found", 405: "method-not-allowed", 413: "too-large"}.get(
            exc.status, "http-error"
        )
        return Problem(exc.status, slug, exc.reason).response(request.path, problem_locale(request))
    except Exception as exc:
        dependency = unavailable_dependency(exc)
        if dependency is not None:
            log.warning(
                "dependency unavailable",
                extra={
                    "route": _route(request),
                    "dependency": dependency,
                    "error": type(exc).__name__,
                },
            )
            return unavailable(request, dependency, _is_api(request))
        if not _is_api(request):
            raise
        log.exception("unhandled error", extra={"route": _route(request)})
        return Problem(500, "internal-error", "Internal error").response(
            request.path, problem_locale(request)
        )


@web.middleware
async def fresh_connection(request: web.Request, handler: Handler) -> web.StreamResponse:
    """An API read answered once more when its pooled connection died with a restarted database.

    The pool has no pre-ping (decision 0003), so the first request after PostgreSQL restarts
    meets a connection the old server closed. SQLAlchemy then invalidates the whole pool, so
    the same read on a fresh connection answers rather than a 503 for a database that is back.
    Only the case system's GETs, which write nothing: a page such as the recipient's records
    evidence when opened, and a write whose connection was lost may have committed."""
    if request.method not in SAFE_METHODS or not _is_api(request):
        return await handler(request)
    try:
        return await handler(request)
    except Exception as error:
        if not connection_lost(error):
            raise
        log.info("stale database connection; read retried", extra={"route": _route(request)})
        return await handler(request)


@web.middleware
async def api_keys(request: web.Request, handler: Handler) -> web.StreamResponse:
    if _is_api(request) and request.path not in PUBLIC_API_PATHS:
        header = request.headers.get("Authorization")
        session = current_session(request)
        if header is None and session is not None:
            if request.method not in SAFE_METHODS:
                sent = request.headers.get(CSRF_HEADER, "")
                if not hmac.compare_digest(sent.encode(), session.csrf_token.encode()):
                    raise Problem(
                        403,
                        "csrf-failed",
                        "CSRF token missing or wrong",
                        f"with the session cookie, send the session's CSRF token in {CSRF_HEADER}",
                    )
            request[CALLER] = Caller.of_staff(session.user)
            return await handler(request)
        scheme, _, token = (header or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Problem(
                401,
                "unauthorized",
                "API key required",
                N_("send Authorization: Bearer <key> (or log in and use the session cookie)"),
            )
        key = await request.app[VERIFIER].verify(token.strip())
        if key is None:
            raise Problem(401, "unauthorized", "Invalid API key")
        request[API_KEY] = key
        request[CALLER] = Caller.of_key(key)
    return await handler(request)
