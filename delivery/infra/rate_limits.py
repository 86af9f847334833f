"""Rate limits shared by every process: sliding windows in Redis, on the injected clock.

Each limit is a sorted set of try times (milliseconds of ``ctx.clock``) under a key that starts
with the deployment's prefix (its queue name), so N web processes allow together what one
allows, and tests on one Redis never share a count. One Lua script checks every rule of a try
and counts it in all of them or in none, atomically: parallel tries cannot slip past a cap.

Time comes from the caller's clock, not Redis's: moving the sandbox clock forward releases
what has run out, exactly as for the rest of Songda. Tries recorded "in the future" (a clock
that was ahead and went back, e.g. a sandbox restarted without its offset) are forgotten rather
than blocking until the clock catches up. Each key also expires (in real time) after its
window, so Redis holds nothing for a client that went away.

Redis unreachable: :class:`LimitsUnavailable`. Callers decide whether that refuses the request
(limits that guard a secret: fail closed) or lets it through (limits that only spread load);
docs/decisions/0026-shared-limits.md.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from delivery.clock import Clock

# A limit check is on the request path: never wait on Redis longer than this.
REDIS_TIMEOUT = 2.0

# KEYS: one sorted set per rule. ARGV: now (ms), the try's member, then limit and window (ms)
# per key. Returns 0 when the try was counted, else the milliseconds until it would be allowed.
_SLIDING_WINDOWS = """
local now = tonumber(ARGV[1])
local wait = 0
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[1 + 2 * i])
  local window = tonumber(ARGV[2 + 2 * i])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  redis.call('ZREMRANGEBYSCORE', key, '(' .. now, '+inf')
  local count = redis.call('ZCARD', key)
  if count >= limit then
    local first = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
    local until_ = tonumber(first[2]) + window - now
    if until_ > wait then wait = until_ end
  end
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[2])
  redis.call('PEXPIRE', key, tonumber(ARGV[2 + 2 * i]))
end
return 0
"""


class LimitsUnavailable(Exception):
    """Redis did not answer: the limit cannot be checked."""


class TooSoon(Exception):
    """A limit is reached: the next try is allowed after ``wait``."""

    def __init__(self, wait: timedelta) -> None:
        super().__init__(f"try again in {wait}")
        self.wait = wait


@dataclass(frozen=True)
class Rule:
    """At most ``limit`` tries per ``window`` for one key (e.g. one address, one link)."""

    key: str
    limit: int
    window: timedelta


def millis(instant: datetime) -> int:
    return int(instant.timestamp() * 1000)


class RateLimiter:
    """The shared limits of one deployment (every key starts with ``prefix``)."""

    def __init__(self, redis: Redis, prefix: str, clock: Clock) -> None:
        self.redis = redis
        self.prefix = prefix
        self.clock = clock
        self._sliding = self.script(_SLIDING_WINDOWS)

    def key(self, *parts: str) -> str:
        """A key of this deployment's limits; parts are joined with ``:``."""
        return ":".join((self.prefix, *parts))

    def script(self, source: str) -> AsyncScript:
        """A Lua script of this deployment's limits, loaded into Redis at its first use."""
        return self.redis.register_script(source)

    async def run(self, script: AsyncScript, keys: Sequence[str], args: Sequence[int | str]) -> int:
        """Run a script; :class:`LimitsUnavailable` when Redis fails or takes too long."""
        try:
            async with asyncio.timeout(REDIS_TIMEOUT):
                result = await script(keys=list(keys), args=list(args))
        except (RedisError, OSError, TimeoutError) as exc:
            raise LimitsUnavailable(type(exc).__name__) from exc
        return int(result)

    async def hit(self, *rules: Rule) -> timedelta | None:
        """Count one try against every rule; None when allowed, else how long until it would be
        (the try is then not counted anywhere)."""
        args: list[int | str] = [millis(self.clock.now()), secrets.token_hex(8)]
        for rule in rules:
            args += [rule.limit, int(rule.window.total_seconds() * 1000)]
        wait = await self.run(self._sliding, [self.key(r.key) for r in rules], args)
        return timedelta(milliseconds=wait) if wait > 0 else None
