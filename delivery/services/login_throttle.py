"""Login throttling: backoff per (username, address), per address and per username, in Redis.

Nobody can lock an account from one address: wrong passwords slow down *that address* for
*that username* (the pair), and the address as a whole, with a delay that doubles after each
failure (1 s, 2 s, 4 s … capped). The username's own count grows only with the first
:data:`ADDRESS_SHARE` failures of each address, so it takes many addresses to slow the
username down — and even then an address the username logged in from in the last
:data:`KNOWN_FOR` skips that count, so the rightful user at their usual desk still gets in.

A try is counted as a failure *before* its password is verified, in one Lua script that first
checks every delay: parallel tries cannot pass together, and Argon2 is never reached faster than
the throttle allows. A right password then clears the pair's and the username's counts.
Unknown usernames go through exactly the same counts (keyed by a hash of the name typed), so
the throttle tells nobody which usernames exist. docs/decisions/0026-shared-limits.md.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from delivery.infra.rate_limits import RateLimiter, millis


@dataclass(frozen=True)
class Backoff:
    """After the ``free``-th failure in a row, wait ``step`` × 2^(failures − free), ≤ ``cap``."""

    free: int
    step: timedelta
    cap: timedelta

    def args(self) -> list[int]:
        return [self.free, _ms(self.step), _ms(self.cap)]


PAIR = Backoff(free=3, step=timedelta(seconds=1), cap=timedelta(minutes=15))
# One address may be a whole court office behind NAT: more room before it slows down.
ADDRESS = Backoff(free=20, step=timedelta(seconds=1), cap=timedelta(minutes=15))
USERNAME = Backoff(free=10, step=timedelta(seconds=1), cap=timedelta(minutes=5))
ADDRESS_SHARE = 3  # failures one address adds to its username's count
FORGET_AFTER = timedelta(days=1)  # a count with no new failure for this long starts again
KNOWN_FOR = timedelta(days=30)

# KEYS: pair, address, username (hashes: failures, until), known addresses of the username
# (sorted set: address → last good login). ARGV: now, address, forget, known_for, share, then
# free/step/cap for pair, address and username. Returns 0 (counted) or milliseconds to wait.
_RESERVE = """
local now = tonumber(ARGV[1])
local seen = tonumber(redis.call('ZSCORE', KEYS[4], ARGV[2]) or '-1')
local known = seen <= now and seen > now - tonumber(ARGV[4])
local checked = 3
if known then checked = 2 end
local wait = 0
for i = 1, checked do
  local left = tonumber(redis.call('HGET', KEYS[i], 'until') or '0') - now
  left = math.min(left, tonumber(ARGV[5 + 3 * i]))
  if left > wait then wait = left end
end
if wait > 0 then return wait end
local pair_failures = 0
for i = 1, 3 do
  if i < 3 or pair_failures <= tonumber(ARGV[5]) then
    local free = tonumber(ARGV[3 + 3 * i])
    local n = redis.call('HINCRBY', KEYS[i], 'failures', 1)
    if i == 1 then pair_failures = n end
    if n >= free then
      local delay = math.min(tonumber(ARGV[4 + 3 * i]) * 2 ^ (n - free), tonumber(ARGV[5 + 3 * i]))
      redis.call('HSET', KEYS[i], 'until', string.format('%d', now + delay))
    end
    redis.call('PEXPIRE', KEYS[i], ARGV[3])
  end
end
return 0
"""

# KEYS as for _RESERVE. ARGV: now, address, known_for, the address's free failures. The address
# gets its try back (a court office behind one address logs in all morning); the pair and the
# username start again.
_SUCCEEDED = """
local now = tonumber(ARGV[1])
redis.call('DEL', KEYS[1], KEYS[3])
if redis.call('EXISTS', KEYS[2]) == 1 then
  local n = redis.call('HINCRBY', KEYS[2], 'failures', -1)
  if n < tonumber(ARGV[4]) then redis.call('HDEL', KEYS[2], 'until') end
end
redis.call('ZADD', KEYS[4], now, ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - tonumber(ARGV[3]))
redis.call('PEXPIRE', KEYS[4], ARGV[3])
return 0
"""


def _ms(delta: timedelta) -> int:
    return int(delta.total_seconds() * 1000)


def _name_key(username: str) -> str:
    """Usernames are typed by anyone: keys hold a fixed-length hash, never the text."""
    return hashlib.sha256(username.encode()).hexdigest()[:32]


class LoginThrottle:
    def __init__(self, limiter: RateLimiter) -> None:
        self.limiter = limiter
        self._reserve = limiter.script(_RESERVE)
        self._succeeded = limiter.script(_SUCCEEDED)

    def _keys(self, username: str, address: str) -> tuple[str, str, str, str]:
        name = _name_key(username)
        key = self.limiter.key
        return (
            key("login", "pair", name, address),
            key("login", "address", address),
            key("login", "user", name),
            key("login", "known", name),
        )

    async def reserve(self, username: str, address: str) -> timedelta | None:
        """Count a try before its password is checked: None when it may go ahead, else how long
        this address must wait (nothing is counted then). Raises ``LimitsUnavailable``."""
        args: list[int | str] = [
            millis(self.limiter.clock.now()),
            address,
            _ms(FORGET_AFTER),
            _ms(KNOWN_FOR),
            ADDRESS_SHARE,
            *PAIR.args(),
            *ADDRESS.args(),
            *USERNAME.args(),
        ]
        wait = await self.limiter.run(self._reserve, self._keys(username, address), args)
        return timedelta(milliseconds=wait) if wait > 0 else None

    async def succeeded(self, username: str, address: str) -> None:
        """A right password: the pair and the username start again, the address gets its try
        back, and the address is known for the username."""
        now = millis(self.limiter.clock.now())
        args: list[int | str] = [now, address, _ms(KNOWN_FOR), ADDRESS.free]
        await self.limiter.run(self._succeeded, self._keys(username, address), args)
