"""Court express mail (法院专递) through a carrier's HTTP API.

:class:`CarrierAdapter` is what any carrier integration provides: create a shipment (→ tracking
number), cancel it, fetch its tracking events. :class:`ReferenceCarrier` speaks the reference
carrier API of ``docs/decisions/0006-carrier-api.md`` (Bearer key, JSON). :class:`PostalChannel`
adapts a carrier to Songda's :class:`~delivery.channel_api.Channel`: sending creates the shipment
(the piece is then printed and handed over by the clerk); what happens to it arrives later as
tracking events, by the carrier's HMAC-signed webhook or by polling, both read here.

Shipments are created idempotently on the attempt id (``reference``), so a send retried after a
lost answer does not post a second letter.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import aiohttp

from delivery.channel_api import (
    CodeMessage,
    ConfirmationRequestMessage,
    SendOutcome,
    SendResult,
    ServiceMessage,
    TrackingError,
    TrackingEvent,
    WebhookRejected,
)
from delivery.config import Settings

SIGNATURE_HEADER = "X-Carrier-Signature"
TIMESTAMP_HEADER = "X-Carrier-Timestamp"
MAX_SKEW_SECONDS = 300
STATUSES = frozenset(
    {"accepted", "in_transit", "delivery_attempted", "delivered", "refused", "returned", "lost"}
)


@dataclass(frozen=True)
class Shipment:
    reference: str  # Songda's attempt id: creating the same reference twice is one shipment
    court: str
    case_number: str
    recipient_name: str
    address: str
    postcode: str | None


class CarrierError(Exception):
    """A carrier API call failed; ``outcome`` says whether to retry, give up or wait."""

    def __init__(self, outcome: SendOutcome, detail: str) -> None:
        super().__init__(detail)
        self.outcome = outcome
        self.detail = detail


class CarrierAdapter(Protocol):
    name: str

    async def create_shipment(self, shipment: Shipment) -> str: ...

    async def cancel_shipment(self, tracking_number: str) -> None: ...

    async def fetch_tracking(self, tracking_number: str) -> list[TrackingEvent]: ...

    async def close(self) -> None: ...


def classify_status(status: int, detail: str) -> CarrierError:
    """Carrier HTTP errors: auth → the channel is broken; 5xx/429 → retry; other 4xx → this
    address will never be accepted."""
    if status in (401, 403):
        return CarrierError(SendOutcome.UNAVAILABLE, f"{status} {detail}")
    if status == 429 or status >= 500:
        return CarrierError(SendOutcome.TRANSIENT, f"{status} {detail}")
    return CarrierError(SendOutcome.PERMANENT, f"{status} {detail}")


def parse_event(tracking_number: str, item: Mapping[str, Any]) -> TrackingEvent:
    """One event of the reference API (webhook body or tracking list); ValueError if malformed."""
    event_id, status, occurred = item.get("id"), item.get("status"), item.get("occurred_at")
    if not isinstance(event_id, str) or not event_id or len(event_id) > 100:
        raise ValueError("id: a string of at most 100 characters")
    if status not in STATUSES:
        raise ValueError(f"status: one of {', '.join(sorted(STATUSES))}")
    if not isinstance(occurred, str):
        raise ValueError("occurred_at: an RFC 3339 time")
    when = datetime.fromisoformat(occurred.replace("Z", "+00:00"))
    if when.tzinfo is None:
        raise ValueError("occurred_at: needs a UTC offset")
    texts: dict[str, str | None] = {}
    for name in ("signed_by", "signer_id", "relation", "reason"):
        value = item.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > 200):
            raise ValueError(f"{name}: a string of at most 200 characters")
        texts[name] = value or None
    return TrackingEvent(
        event_id=event_id,
        tracking_number=tracking_number,
        status=str(status),
        occurred_at=when,
        signed_by=texts["signed_by"],
        signer_id=texts["signer_id"],
        relation=texts["relation"],
        reason=texts["reason"],
        raw={k: v for k, v in item.items() if k != "signer_id"},
    )


def webhook_signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"v1={mac.hexdigest()}"


def signed_headers(secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: webhook_signature(secret, timestamp, body),
        "Content-Type": "application/json",
    }


def verify_webhook(secret: str, headers: Mapping[str, str], body: bytes, now: datetime) -> None:
    """Raise :class:`WebhookRejected` (403) unless the body carries a fresh, valid signature."""
    raw_ts = headers.get(TIMESTAMP_HEADER, "")
    given = headers.get(SIGNATURE_HEADER, "")
    try:
        timestamp = int(raw_ts)
    except ValueError:
        raise WebhookRejected(403, "missing or malformed timestamp") from None
    if abs(now.timestamp() - timestamp) > MAX_SKEW_SECONDS:
        raise WebhookRejected(403, "timestamp too far from now")
    expected = webhook_signature(secret, timestamp, body)
    candidates = [c.strip() for c in given.split(",") if c.strip()]
    if not any(hmac.compare_digest(expected, c) for c in candidates):
        raise WebhookRejected(403, "invalid signature")


def parse_webhook(body: bytes) -> TrackingEvent:
    """A verified webhook body: one carrier event plus its tracking number."""
    try:
        data = json.loads(body)
        if not isinstance(data, dict):
            raise ValueError("the body must be a JSON object")
        tracking_number = data.get("tracking_number")
        if not isinstance(tracking_number, str) or not 0 < len(tracking_number) <= 100:
            raise ValueError("tracking_number: required")
        return parse_event(tracking_number, data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookRejected(400, f"malformed event: {exc}") from None


class ReferenceCarrier:
    """The reference court-express-mail API: ``POST /v1/shipments``, ``DELETE`` and ``GET
    /v1/shipments/{tracking_number}/events``, authenticated by a Bearer key."""

    def __init__(self, base_url: str, key: str, name: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.name = name
        self._key = key
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        """Built on first use, inside the running loop."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout, headers={"Authorization": f"Bearer {self._key}"}
            )
        return self._session

    async def _call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        try:
            async with self._http().request(method, f"{self.base_url}{path}", json=body) as resp:
                text = await resp.text()
                status = resp.status
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise CarrierError(SendOutcome.TRANSIENT, f"{type(exc).__name__}: {exc}") from None
        if status >= 400:
            raise classify_status(status, text[:300])
        try:
            return status, json.loads(text) if text else None
        except ValueError:
            raise CarrierError(SendOutcome.TRANSIENT, "carrier answered with non-JSON") from None

    async def create_shipment(self, shipment: Shipment) -> str:
        _status, data = await self._call(
            "POST",
            "/v1/shipments",
            {
                "reference": shipment.reference,
                "service": "court_express_mail",
                "return_receipt": True,
                "sender": {"court": shipment.court, "case_number": shipment.case_number},
                "recipient": {
                    "name": shipment.recipient_name,
                    "address": shipment.address,
                    "postcode": shipment.postcode,
                },
            },
        )
        tracking = data.get("tracking_number") if isinstance(data, dict) else None
        if not isinstance(tracking, str) or not tracking:
            raise CarrierError(SendOutcome.TRANSIENT, "carrier answered without tracking_number")
        return tracking

    async def cancel_shipment(self, tracking_number: str) -> None:
        await self._call("DELETE", f"/v1/shipments/{tracking_number}")

    async def fetch_tracking(self, tracking_number: str) -> list[TrackingEvent]:
        try:
            _status, data = await self._call("GET", f"/v1/shipments/{tracking_number}/events")
        except CarrierError as exc:
            raise TrackingError(exc.detail) from None
        items = data.get("events") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise TrackingError("carrier answered without events")
        events = []
        for item in items:
            try:
                events.append(parse_event(tracking_number, item))
            except (ValueError, AttributeError) as exc:
                raise TrackingError(f"malformed tracking event: {exc}") from None
        return events

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


class PostalChannel:
    """Songda's postal channel over one carrier, plus that carrier's inbound tracking."""

    name = "postal"

    def __init__(self, carrier: CarrierAdapter, webhook_secret: str) -> None:
        self.carrier = carrier
        self.carrier_name = carrier.name
        self._webhook_secret = webhook_secret

    async def send(self, message: ServiceMessage) -> SendResult:
        shipment = Shipment(
            reference=message.attempt_id,
            court=message.court,
            case_number=message.case_number,
            recipient_name=message.recipient_name,
            address=message.address,
            postcode=message.postcode,
        )
        try:
            tracking_number = await self.carrier.create_shipment(shipment)
        except CarrierError as exc:
            return SendResult(exc.outcome, f"carrier: {exc.detail}")
        return SendResult(
            SendOutcome.ACCEPTED,
            f"shipment created with {self.carrier_name}",
            provider_ref=tracking_number,
        )

    async def send_code(self, message: CodeMessage) -> SendResult:
        return SendResult(
            SendOutcome.PERMANENT, "the post cannot carry a one-time code (use e-mail or SMS)"
        )

    async def send_confirmation_request(self, message: ConfirmationRequestMessage) -> SendResult:
        return SendResult(
            SendOutcome.PERMANENT,
            "a confirmation request goes by e-mail or SMS; a letter carries its QR code",
        )

    def read_webhook(self, headers: Mapping[str, str], body: bytes, now: datetime) -> TrackingEvent:
        if not self._webhook_secret:
            raise WebhookRejected(403, "no webhook secret configured")
        verify_webhook(self._webhook_secret, headers, body, now)
        return parse_webhook(body)

    async def fetch_tracking(self, tracking_number: str) -> list[TrackingEvent]:
        return await self.carrier.fetch_tracking(tracking_number)

    async def close(self) -> None:
        await self.carrier.close()


def from_settings(settings: Settings) -> PostalChannel | None:
    """The channel with the reference carrier adapter, when a carrier is configured."""
    carrier = settings.carrier
    if not carrier.configured:
        return None
    assert carrier.url and carrier.key
    return PostalChannel(
        ReferenceCarrier(carrier.url, carrier.key, carrier.name), carrier.webhook_secret or ""
    )
