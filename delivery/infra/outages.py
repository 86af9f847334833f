"""Telling a dependency outage from a bug, and saying so once per outage.

While PostgreSQL or Redis is down every job fails the same way; a stack trace per job would
bury the one line an operator needs. Jobs that fail for an outage end quietly (their work is
still due in the database and the sweep enqueues it again); :class:`Outages` logs one line when
the dependency goes away and one when it is back.
"""

from __future__ import annotations

import logging
import time

import sqlalchemy as sa
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

DATABASE = "database"
QUEUE = "redis"


def outage_of(exc: BaseException) -> str | None:
    """Which dependency ``exc`` says is unreachable (``database``/``redis``), or None."""
    if isinstance(exc, RedisConnectionError | RedisTimeoutError):
        return QUEUE
    if isinstance(exc, sa.exc.DBAPIError):
        lost = isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError)
        return DATABASE if lost or exc.connection_invalidated else None
    if isinstance(exc, OSError | TimeoutError):  # refused or cut before a driver saw it
        return DATABASE
    return None


class Outages:
    """The dependencies this process currently finds down, each logged once."""

    def __init__(self) -> None:
        self._since: dict[str, float] = {}

    def down(self, dependency: str, exc: BaseException) -> None:
        if dependency not in self._since:
            self._since[dependency] = time.monotonic()
            log.error(
                "%s unavailable: jobs fail fast and are picked up again by the sweep; "
                "retrying in the background",
                dependency,
                extra={"dependency": dependency, "error": type(exc).__name__},
            )

    def up(self, dependency: str) -> None:
        since = self._since.pop(dependency, None)
        if since is not None:
            log.warning(
                "%s reachable again after %.0f s; work resumes",
                dependency,
                time.monotonic() - since,
                extra={"dependency": dependency},
            )

    def is_down(self, dependency: str) -> bool:
        return dependency in self._since
