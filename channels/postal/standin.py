"""A stand-in for a court-express-mail carrier, speaking the reference API (ADR 0006).

The real :class:`channels.postal.adapter.ReferenceCarrier` is pointed at it, so tests and the
sandbox exercise the adapter as it is, on loopback. With a webhook URL and secret it also plays the
postman: :meth:`CarrierStandIn.report` adds a tracking event and sends Songda the signed webhook,
timed and timestamped by the injected clock.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from channels.postal.adapter import signed_headers
from delivery.clock import Clock, rfc3339
from delivery.config import Settings
from delivery.sandbox.loopback import serve_on_loopback
from escalation.rules import PM11_RETURN_REASONS
from templates.i18n import N_

# What a returned piece's reason is called on the sandbox page, in the order it lists them.
RETURN_REASON_LABELS = {
    "address_wrong": N_("the address is wrong"),
    "moved": N_("moved without notifying the court"),
    "unknown_recipient": N_("no such recipient at the address"),
    "nobody_home": N_("nobody found after 3 tries in 5 days"),
    "other": N_("another reason"),
}
# The ID number a sandbox signer shows the postman (the walk-through's recipient's).
SANDBOX_SIGNER_ID = "33010619900101123X"


@dataclass(frozen=True)
class PostmanReport:
    """One report the sandbox's postman can make on a piece: a button on the mailbox page and
    the body of ``POST /sandbox/api/carrier/<tracking number>/events``."""

    label: str  # a msgid
    status: str
    relation: str | None = None
    reason: str | None = None

    def body(self, recipient_name: str) -> dict[str, str]:
        body = {"status": self.status}
        if self.status == "delivered":
            body |= {"signed_by": recipient_name, "signer_id": SANDBOX_SIGNER_ID}
        if self.relation is not None:
            body["relation"] = self.relation
        if self.reason is not None:
            body["reason"] = self.reason
        return body


@dataclass(frozen=True)
class ReturnReason:
    """A reason a piece comes back, and what it does to service (domain.md's postal table)."""

    code: str
    label: str  # a msgid
    deems_service: bool  # PM-11, when the recipient confirmed the address


def return_reasons() -> list[ReturnReason]:
    """Every reason the carrier may give for a return, as the sandbox page lists them."""
    return [
        ReturnReason(code, label, code in PM11_RETURN_REASONS)
        for code, label in RETURN_REASON_LABELS.items()
    ]


POSTMAN_REPORTS = (
    PostmanReport(N_("taken by the carrier"), "accepted"),
    PostmanReport(N_("in transit"), "in_transit"),
    PostmanReport(N_("signed for by the recipient"), "delivered", relation="self"),
    PostmanReport(N_("signed for by a family member"), "delivered", relation="family"),
    PostmanReport(N_("refused by the recipient"), "refused", relation="self"),
    *(
        PostmanReport(label, "returned", reason=code)
        for code, label in RETURN_REASON_LABELS.items()
    ),
    PostmanReport(N_("lost"), "lost"),
)


@dataclass
class CarrierStandIn:
    key: str
    clock: Clock
    webhook_url: str | None = None
    webhook_secret: str | None = None
    shipments: list[dict[str, Any]] = field(default_factory=list)
    fail_with: int | None = None  # answer every create with this HTTP status
    runner: web.AppRunner | None = field(default=None, repr=False, compare=False)

    @classmethod
    def for_sandbox(cls, clock: Clock) -> CarrierStandIn:
        """The stand-in ``songda run --sandbox`` runs: a key and a webhook secret of its own."""
        return cls(key=secrets.token_hex(16), clock=clock, webhook_secret=secrets.token_hex(32))

    async def serve(self, settings: Settings) -> Settings:
        """Serve on loopback, playing the postman towards Songda's carrier hook: ``settings``
        with the reference adapter pointed at it."""
        self.webhook_url = f"{settings.public_base_url}/hooks/carrier/{settings.carrier.name}"
        self.runner, url = await serve_on_loopback(self.app())
        carrier = dataclasses.replace(
            settings.carrier, url=url, key=self.key, webhook_secret=self.webhook_secret
        )
        return dataclasses.replace(settings, carrier=carrier)

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    def shipment(self, tracking_number: str) -> dict[str, Any] | None:
        return next((s for s in self.shipments if s["tracking_number"] == tracking_number), None)

    def add_event(
        self,
        tracking_number: str,
        status: str,
        *,
        signed_by: str | None = None,
        signer_id: str | None = None,
        relation: str | None = None,
        reason: str | None = None,
    ) -> dict[str, Any]:
        """Record a tracking event (polling will see it); KeyError for an unknown piece."""
        shipment = self.shipment(tracking_number)
        if shipment is None:
            raise KeyError(tracking_number)
        event = {
            "id": f"{tracking_number}-{len(shipment['events']) + 1}",
            "status": status,
            "occurred_at": rfc3339(self.clock.now()),
            "signed_by": signed_by,
            "signer_id": signer_id,
            "relation": relation,
            "reason": reason,
        }
        shipment["events"].append(event)
        shipment["status"] = status
        return event

    async def report(self, tracking_number: str, status: str, **details: str | None) -> int:
        """Add an event and send its signed webhook; returns Songda's HTTP status."""
        event = self.add_event(tracking_number, status, **details)
        return await self.send_webhook(tracking_number, event)

    def webhook_body(self, tracking_number: str, event: dict[str, Any]) -> bytes:
        return json.dumps({**event, "tracking_number": tracking_number}).encode()

    async def send_webhook(self, tracking_number: str, event: dict[str, Any]) -> int:
        if self.webhook_url is None or self.webhook_secret is None:
            raise RuntimeError("the stand-in has no webhook URL and secret")
        body = self.webhook_body(tracking_number, event)
        headers = signed_headers(self.webhook_secret, int(self.clock.now().timestamp()), body)
        async with (
            aiohttp.ClientSession() as session,
            session.post(self.webhook_url, data=body, headers=headers) as resp,
        ):
            return resp.status

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._auth])
        app.router.add_post("/v1/shipments", self.create)
        app.router.add_delete("/v1/shipments/{tracking_number}", self.cancel)
        app.router.add_get("/v1/shipments/{tracking_number}/events", self.events)
        return app

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.headers.get("Authorization") != f"Bearer {self.key}":
            return web.json_response({"error": "invalid API key"}, status=401)
        response: web.StreamResponse = await handler(request)
        return response

    async def create(self, request: web.Request) -> web.Response:
        if self.fail_with is not None:
            return web.json_response({"error": "stand-in failure"}, status=self.fail_with)
        try:
            body = await request.json()
            reference = str(body["reference"])
            recipient = body["recipient"]
            name, address = str(recipient["name"]), str(recipient["address"])
        except (ValueError, KeyError, TypeError):
            return web.json_response({"error": "reference and recipient are required"}, status=400)
        known = next((s for s in self.shipments if s["reference"] == reference), None)
        if known is not None:  # idempotent on the sender's reference
            return web.json_response({"tracking_number": known["tracking_number"]}, status=200)
        shipment = {
            "tracking_number": f"1{secrets.randbelow(10**12):012d}",
            "reference": reference,
            "court": str((body.get("sender") or {}).get("court", "")),
            "recipient_name": name,
            "address": address,
            "postcode": recipient.get("postcode"),
            "created_at": rfc3339(self.clock.now()),
            "status": "created",
            "events": [],
        }
        self.shipments.append(shipment)
        return web.json_response({"tracking_number": shipment["tracking_number"]}, status=201)

    async def cancel(self, request: web.Request) -> web.Response:
        shipment = self.shipment(request.match_info["tracking_number"])
        if shipment is None:
            return web.json_response({"error": "no such shipment"}, status=404)
        shipment["status"] = "cancelled"
        return web.Response(status=204)

    async def events(self, request: web.Request) -> web.Response:
        shipment = self.shipment(request.match_info["tracking_number"])
        if shipment is None:
            return web.json_response({"error": "no such shipment"}, status=404)
        return web.json_response({"events": shipment["events"]})
