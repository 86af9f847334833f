"""A per-client sliding-window limit for public forms (``/check``), on the injected clock.

In memory, per process: with several web processes each keeps its own count, so the effective
limit is the per-process limit times the number of processes — acceptable for a lookup that
needs a 40-bit code *and* 4 digits, and documented in decision 0012. Memory is bounded: clients
whose window has passed are forgotten, and beyond ``max_clients`` the oldest are dropped.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from datetime import datetime, timedelta

from aiohttp import web

from delivery.config import Settings


class SlidingWindowLimiter:
    def __init__(self, limit: int, window: timedelta, *, max_clients: int = 100_000) -> None:
        self.limit = limit
        self.window = window
        self.max_clients = max_clients
        self._hits: OrderedDict[str, deque[datetime]] = OrderedDict()

    def hit(self, client: str, now: datetime) -> timedelta | None:
        """Count one try by ``client``; None when allowed, else how long until the next."""
        self._forget_idle(now)
        hits = self._hits.get(client)
        if hits is None:
            hits = self._hits[client] = deque()
        self._hits.move_to_end(client)
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return hits[0] + self.window - now
        hits.append(now)
        while len(self._hits) > self.max_clients:
            self._hits.popitem(last=False)
        return None

    def _forget_idle(self, now: datetime) -> None:
        """Drop clients whose last try left the window (least recently seen first)."""
        while self._hits:
            client, hits = next(iter(self._hits.items()))
            if hits and hits[-1] > now - self.window:
                break
            del self._hits[client]


def client_address(request: web.Request, settings: Settings) -> str:
    """The client's IP: the peer's address, or — only when ``SONGDA_TRUST_X_FORWARDED_FOR`` is
    set because a reverse proxy that appends it sits in front — the last ``X-Forwarded-For``
    entry (the address that proxy saw; entries to its left are whatever the client wrote)."""
    if settings.trust_x_forwarded_for:
        forwarded = request.headers.getall("X-Forwarded-For", [])
        entries = [e.strip() for h in forwarded for e in h.split(",") if e.strip()]
        if entries:
            return entries[-1]
    return request.remote or "unknown"
