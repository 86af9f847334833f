"""A stand-in for the part of Twilio's HTTP API that the SMS channel uses.

The real ``twilio`` client is pointed at it (``SONGDA_TWILIO_API_BASE_URL``), so tests and the
sandbox exercise the library as it is, on loopback, with no account and no network.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class TwilioStandIn:
    """Accepts messages (or answers ``fail_with``) and remembers what it was asked to send."""

    messages: list[dict[str, str]] = field(default_factory=list)
    fail_with: tuple[int, int] | None = None  # (HTTP status, Twilio error code)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{account}/Messages.json", self.create)
        return app

    async def create(self, request: web.Request) -> web.Response:
        form = await request.post()
        if self.fail_with is not None:
            status, code = self.fail_with
            return web.json_response(
                {"code": code, "message": f"stand-in error {code}", "status": status},
                status=status,
            )
        message = {
            "sid": "SM" + secrets.token_hex(16),
            "account_sid": request.match_info["account"],
            "to": str(form.get("To", "")),
            "from": str(form.get("From", "")),
            "body": str(form.get("Body", "")),
            "status_callback": str(form.get("StatusCallback", "")),
            "status": "queued",
        }
        self.messages.append(message)
        body: dict[str, Any] = {**message, "num_segments": "1", "direction": "outbound-api"}
        return web.json_response(body, status=201)
