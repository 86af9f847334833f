"""Outbound webhooks after the Standard Webhooks spec: signing, posting and the retry schedule.

The signature is ``v1,<base64 HMAC-SHA256>`` over ``"{id}.{timestamp}.{body}"`` with the
base64-decoded ``whsec_`` secret. Receivers de-duplicate on ``webhook-id``, which is the outbox
message id and therefore the same on every retry.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

import aiohttp
from aiohttp.abc import AbstractResolver

from tracking.webhook_targets import AddressRefused, TargetPolicy, url_refusal, webhook_session

# Delays before each try, counted from the previous one (about 3 days in all).
RETRY_SCHEDULE: tuple[timedelta, ...] = (
    timedelta(0),
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=14),
    timedelta(hours=20),
    timedelta(hours=24),
)
SECRET_PREFIX = "whsec_"
# What a failed try shows the integrator: never the socket error text, which would tell an
# attacker what answers on which port of the service's network.
REFUSED = "refused"
TIMED_OUT = "timeout"
CONNECTION_FAILED = "connection failed"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signed_headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, message_id, timestamp, body),
        "user-agent": "Songda-Webhooks/1",
    }


@dataclass(frozen=True)
class PostResult:
    status: int | None
    error: str | None
    retry_after: timedelta | None = None

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def gone(self) -> bool:
        """410 from the receiver: the endpoint asks to be disabled."""
        return self.status == 410


MAX_RETRY_AFTER = timedelta(hours=24)
MAX_RESPONSE_BYTES = 64 * 1024


def _retry_after(value: str | None) -> timedelta | None:
    """Retry-After in seconds, at most a day (the HTTP-date form is not used by webhook
    receivers we know); anything else is ignored."""
    text = (value or "").strip()
    if not text.isdigit() or len(text) > 9:
        return None
    return min(timedelta(seconds=int(text)), MAX_RETRY_AFTER)


async def post(
    session: aiohttp.ClientSession, url: str, headers: dict[str, str], body: bytes
) -> PostResult:
    """One try; redirects are not followed (a 3xx is a failed try, not a new target)."""
    try:
        async with session.post(url, data=body, headers=headers, allow_redirects=False) as resp:
            await resp.content.read(MAX_RESPONSE_BYTES)  # the answer body is not used
            error = None if 200 <= resp.status < 300 else f"HTTP {resp.status}"
            return PostResult(resp.status, error, _retry_after(resp.headers.get("Retry-After")))
    except TimeoutError:
        return PostResult(None, TIMED_OUT)
    except aiohttp.ClientError as exc:
        refused = isinstance(exc, aiohttp.ClientConnectorError) and isinstance(
            exc.os_error, AddressRefused
        )
        return PostResult(None, REFUSED if refused else CONNECTION_FAILED)


class WebhookClient:
    """Posts webhooks only where ``policy`` allows: the URL's rules are checked again before
    every try (an endpoint stored before a rule existed, or the operator narrowed the
    allow-list), then the guarded session checks the addresses."""

    def __init__(
        self,
        policy: TargetPolicy,
        timeout: aiohttp.ClientTimeout,
        resolver: AbstractResolver | None = None,
    ) -> None:
        self.policy = policy
        self.session = webhook_session(policy, timeout, resolver)

    async def post(self, url: str, headers: dict[str, str], body: bytes) -> PostResult:
        if url_refusal(url, self.policy) is not None:
            return PostResult(None, REFUSED)
        return await post(self.session, url, headers, body)

    async def close(self) -> None:
        await self.session.close()


def next_delay(tries_done: int, retry_after: timedelta | None, jitter: float) -> timedelta | None:
    """How long to wait before the next try, or ``None`` when the schedule is used up."""
    if tries_done >= len(RETRY_SCHEDULE):
        return None
    delay = RETRY_SCHEDULE[tries_done] * (1 + jitter)
    return max(delay, retry_after) if retry_after else delay
