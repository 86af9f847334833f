"""API keys: shown once, stored as a SHA-256 digest, scoped to one or more courts.

Keys are 256-bit random values, so an unkeyed SHA-256 is enough to make the stored digest useless
to a thief; the short prefix finds the row without scanning.

Beyond its courts' dispatches a key may hold *scopes* an operator grants at creation
(``songda apikey create --scope bounces``): ``bounces`` lets the court's bounce processor reverse
a service, which no ordinary case-system key may do.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from delivery.clock import Clock
from delivery.ids import new_id
from delivery.storage import api_keys as stored_keys
from delivery.storage.engine import Engine

KEY_PREFIX = "sdk_"
BOUNCES_SCOPE = "bounces"
SCOPES = frozenset({BOUNCES_SCOPE})


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    courts: tuple[str, ...]
    scopes: frozenset[str] = frozenset()

    def sees(self, court: str) -> bool:
        return court in self.courts

    def may(self, scope: str) -> bool:
        return scope in self.scopes


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_api_key(
    engine: Engine,
    clock: Clock,
    name: str,
    courts: list[str],
    scopes: frozenset[str] = frozenset(),
) -> tuple[ApiKey, str]:
    """A new key and its plaintext, which is never stored and cannot be shown again."""
    if unknown := scopes - SCOPES:
        raise ValueError(f"unknown scope(s): {', '.join(sorted(unknown))}")
    prefix = secrets.token_hex(6)
    token = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(new_id(), name, tuple(courts), scopes)
    await stored_keys.insert_key(
        engine,
        id=key.id,
        name=name,
        prefix=prefix,
        key_hash=_digest(token),
        courts=list(courts),
        scopes=sorted(scopes),
        created_at=clock.now(),
    )
    return key, token


class ApiKeyVerifier:
    """Checks bearer tokens; remembers good ones for a minute so each request is not a query.

    The minute bounds how long a revoked key keeps working in a running process.
    """

    def __init__(self, engine: Engine, ttl_seconds: float = 60.0) -> None:
        self.engine = engine
        self.ttl = ttl_seconds
        self._known: dict[str, tuple[float, ApiKey]] = {}

    async def verify(self, token: str) -> ApiKey | None:
        digest = _digest(token)
        cached = self._known.get(digest)
        if cached is not None and time.monotonic() - cached[0] < self.ttl:
            return cached[1]
        if not token.startswith(KEY_PREFIX) or token.count("_") < 2:
            return None
        prefix = token[len(KEY_PREFIX) :].split("_", 1)[0]
        row = await stored_keys.live_key(self.engine, prefix)
        if row is None or not hmac.compare_digest(row["key_hash"], digest):
            return None
        key = ApiKey(row["id"], row["name"], tuple(row["courts"]), frozenset(row["scopes"]))
        if len(self._known) >= 10_000:
            self._known.clear()
        self._known[digest] = (time.monotonic(), key)
        return key
