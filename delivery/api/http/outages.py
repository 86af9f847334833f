"""Honest answers while PostgreSQL or Redis is down: 503 with ``Retry-After``, never a 500.

A request that fails because a dependency cannot be reached (connection refused or reset, a
connect timeout, SQLite busy past its timeout) gets ``503`` — problem+json on the API, a short
page in the request's language elsewhere — naming the dependency, so callers retry rather than
treat it as a bug. What was stored before is untouched; a write that failed stored nothing (its
transaction did not commit). Telling these errors apart from real bugs keeps a 500 meaning one.
"""

from __future__ import annotations

from aiohttp import web
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from delivery.api.http.problems import Problem
from delivery.api.http.request_context import html_page
from delivery.api.staff.auth import page_locale
from delivery.storage.engine import database_unreachable

DATABASE = "database"
QUEUE = "queue"
RETRY_AFTER_SECONDS = 30


def unavailable_dependency(error: BaseException) -> str | None:
    """``database`` or ``queue`` when ``error`` means that dependency cannot be reached now;
    None for anything else (a bug stays a 500)."""
    if isinstance(error, RedisConnectionError | RedisTimeoutError):
        return QUEUE
    if database_unreachable(error):
        return DATABASE
    if isinstance(error, ConnectionError | TimeoutError):
        # Only the database driver lets these through unwrapped (asyncpg connecting):
        # Redis errors are wrapped by redis-py, outgoing HTTP runs in the worker.
        return DATABASE
    return None


def unavailable(request: web.Request, dependency: str, is_api: bool) -> web.Response:
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if is_api:
        return Problem(
            503,
            "dependency-unavailable",
            f"The {dependency} is unavailable",
            f"Songda cannot reach its {dependency} just now; nothing stored is lost. "
            f"Retry after {RETRY_AFTER_SECONDS} seconds.",
            headers=headers,
            dependency=dependency,
        ).response(request.path)
    response = html_page(
        "unavailable.html",
        status=503,
        referrer_policy="no-referrer",
        locale=page_locale(request),
        dependency=dependency,
        retry_after=RETRY_AFTER_SECONDS,
    )
    response.headers.update(headers)
    return response
