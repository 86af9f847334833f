"""A stand-in for the part of Twilio's HTTP API that the SMS channel uses.

The real ``twilio`` client is pointed at it (``SONGDA_TWILIO_API_BASE_URL``), so tests and the
sandbox exercise the library as it is, on loopback, with no account and no network.
"""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from twilio.request_validator import RequestValidator

from delivery.clock import Clock
from delivery.config import Settings
from delivery.sandbox.loopback import serve_on_loopback
from templates.i18n import N_

SANDBOX_ACCOUNT_SID = "AC" + "5a" * 16
SANDBOX_SENDER = "+10000000000"
# The final statuses the sandbox's carrier can report for a message (Twilio's words), with the
# names the mailbox page's buttons give them.
SANDBOX_STATUSES = {
    "delivered": N_("delivered"),
    "undelivered": N_("not delivered"),
    "failed": N_("failed"),
}


@dataclass
class TwilioStandIn:
    """Accepts messages (or answers ``fail_with``) and remembers what it was asked to send.

    With ``auth_token`` it can also play the network: :meth:`report` sends the message's status
    callback, signed as Twilio signs it.
    """

    messages: list[dict[str, str]] = field(default_factory=list)
    fail_with: tuple[int, int] | None = None  # (HTTP status, Twilio error code)
    auth_token: str | None = None
    runner: web.AppRunner | None = field(default=None, repr=False, compare=False)

    @classmethod
    def for_sandbox(cls, _clock: Clock) -> TwilioStandIn:
        """The stand-in ``songda run --sandbox`` runs, able to sign the callbacks it sends."""
        return cls(auth_token=secrets.token_hex(16))

    async def serve(self, settings: Settings) -> Settings:
        """Serve on loopback: ``settings`` with the real twilio client pointed at it, on a
        made-up account."""
        self.runner, url = await serve_on_loopback(self.app())
        twilio = dataclasses.replace(
            settings.twilio,
            account_sid=SANDBOX_ACCOUNT_SID,
            auth_token=self.auth_token,
            sender=SANDBOX_SENDER,
            api_base_url=url,
        )
        return dataclasses.replace(settings, twilio=twilio)

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    async def report(
        self,
        sid: str,
        status: str,
        error_code: str | None = None,
        *,
        dlr_done_date: str | None = None,
    ) -> int:
        """POST the status callback for message ``sid``; returns the receiver's HTTP status.

        Like Twilio's, it names both numbers, and a final status may carry the carrier's own
        ``RawDlrDoneDate`` (YYMMDDhhmm, no time zone)."""
        message = next((m for m in self.messages if m["sid"] == sid), None)
        if message is None or self.auth_token is None:
            raise KeyError(sid)
        params = {
            "MessageSid": sid,
            "MessageStatus": status,
            "AccountSid": message["account_sid"],
            "To": message["to"],
            "From": message["from"],
        }
        if error_code:
            params["ErrorCode"] = error_code
        if dlr_done_date:
            params["RawDlrDoneDate"] = dlr_done_date
        url = message["status_callback"]
        signature = RequestValidator(self.auth_token).compute_signature(url, params)
        message["status"] = status
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, data=params, headers={"X-Twilio-Signature": signature}) as resp,
        ):
            return resp.status

    async def reply(self, url: str, from_number: str, body: str) -> int:
        """POST an inbound message from ``from_number`` to the court's number, signed as Twilio
        signs it, to Songda's inbound webhook at ``url``; returns the receiver's HTTP status."""
        if self.auth_token is None:
            raise KeyError(from_number)
        params = {
            "MessageSid": "SM" + secrets.token_hex(16),
            "AccountSid": SANDBOX_ACCOUNT_SID,
            "From": from_number,
            "To": SANDBOX_SENDER,
            "Body": body,
            "NumMedia": "0",
        }
        signature = RequestValidator(self.auth_token).compute_signature(url, params)
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, data=params, headers={"X-Twilio-Signature": signature}) as resp,
        ):
            return resp.status

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
