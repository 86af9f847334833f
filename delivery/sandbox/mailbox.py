"""The sandbox's mailbox page: everything the stand-ins received (e-mail, SMS, mail pieces), with a
button for every outcome each stand-in can report and the same as an absolute ``curl`` command,
so a new user can play the recipient's mail server, the SMS carrier and the postman.

An e-mail's HTML part is shown in a frame from its own route, never inline: the frame has
``sandbox=""`` and the route answers with a CSP ``sandbox`` policy, so the message's HTML runs in
an opaque origin with no scripts, no forms and nothing fetched, whatever it holds.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from aiohttp import web

from channels.email.standin import SinkMessage, SmtpSink
from channels.postal.standin import POSTMAN_REPORTS, CarrierStandIn, return_reasons
from channels.sms.standin import SANDBOX_STATUSES, TwilioStandIn
from delivery.api.http.request_context import ctx_of
from delivery.api.staff.auth import page_locale
from delivery.config_checks import SANDBOX_API_KEY_FILE
from templates import render
from templates.i18n import N_

SINK: web.AppKey[SmtpSink] = web.AppKey("sandbox_sink", SmtpSink)
TWILIO: web.AppKey[TwilioStandIn] = web.AppKey("sandbox_twilio", TwilioStandIn)
CARRIER: web.AppKey[CarrierStandIn] = web.AppKey("sandbox_carrier", CarrierStandIn)

# The page runs only its own script (the buttons) and frames only the e-mails' own route.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; "
    "frame-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
# An e-mail's HTML: an opaque origin (``sandbox`` with no allow-*), inline styles and inline
# images only, framed by the mailbox page alone.
MESSAGE_CSP = (
    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'"
)


@dataclass(frozen=True)
class Action:
    """A button and its copy-paste twin: POST ``body`` as JSON to ``path``."""

    label: str  # a msgid
    path: str
    body: dict[str, str] | None
    command: str


def _action(base_url: str, label: str, path: str, body: dict[str, str] | None) -> Action:
    """``curl`` with every part quoted for a POSIX shell, so a name with a quote in it still
    pastes as one argument."""
    words = ["curl", "-X", "POST"]
    if body is not None:
        words += ["-H", "Content-Type: application/json"]
        words += ["-d", json.dumps(body, ensure_ascii=False)]
    command = " ".join(shlex.quote(word) for word in [*words, base_url + path])
    return Action(label, path, body, command)


# What the recipient's reply says by default (they acknowledge receipt).
REPLY_TEXT = "收到，谢谢。"


def reply_to_message(message: SinkMessage, text: str, at: datetime) -> bytes:
    """The recipient's reply to ``message`` as their mail client writes it: from the address it
    went to, naming it in In-Reply-To and References (RFC 5322 section 3.6.4)."""
    reply = EmailMessage()
    reply["From"] = message.to[0]
    reply["To"] = message.mail_from
    reply["Subject"] = f"Re: {message.subject}"
    reply["Date"] = format_datetime(at)
    reply["In-Reply-To"] = message.message_id
    reply["References"] = message.message_id
    reply.set_content(text)
    return reply.as_bytes()


def _email_actions(base_url: str, message: SinkMessage) -> list[Action]:
    prefix = f"/sandbox/api/messages/{message.id}"
    return [
        _action(base_url, N_("bounce (mailbox does not exist)"), f"{prefix}/bounce", None),
        _action(
            base_url, N_("reply (the recipient answers)"), f"{prefix}/reply", {"text": REPLY_TEXT}
        ),
    ]


def _sms_actions(base_url: str, sms: dict[str, str]) -> list[Action]:
    prefix = f"/sandbox/api/sms/{sms['sid']}"
    return [
        *(
            _action(base_url, label, f"{prefix}/status", {"status": status})
            for status, label in SANDBOX_STATUSES.items()
        ),
        _action(
            base_url, N_("reply (the recipient answers)"), f"{prefix}/reply", {"text": REPLY_TEXT}
        ),
    ]


def _postman_actions(base_url: str, shipment: dict[str, Any]) -> list[Action]:
    path = f"/sandbox/api/carrier/{shipment['tracking_number']}/events"
    return [
        _action(base_url, report.label, path, report.body(str(shipment["recipient_name"])))
        for report in POSTMAN_REPORTS
    ]


def _newest_first(items: list[Any]) -> list[Any]:
    return list(reversed(items))


async def mailbox_page(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    base_url = ctx.settings.public_base_url
    messages = _newest_first(request.app[SINK].messages)
    sms = _newest_first(request.app[TWILIO].messages) if TWILIO in request.app else []
    shipments = _newest_first(request.app[CARRIER].shipments) if CARRIER in request.app else []
    now = ctx.clock.now()
    court_today = now.astimezone(ctx.settings.zone).date().isoformat()
    response = web.Response(
        text=render(
            "pages/sandbox_mailbox.html",
            locale=page_locale(request),
            base_url=base_url,
            zone=ctx.settings.time_zone,
            clock_now=now,
            court_today=court_today,
            key_file=ctx.settings.data_dir / SANDBOX_API_KEY_FILE,
            messages=[(m, _email_actions(base_url, m)) for m in messages],
            sms=[(s, _sms_actions(base_url, s)) for s in sms],
            shipments=[(s, _postman_actions(base_url, s)) for s in shipments],
            postal=CARRIER in request.app,
            return_reasons=return_reasons(),
            clock_actions=[
                _action(base_url, label, "/sandbox/api/clock", {"advance": duration})
                for label, duration in (
                    (N_("+1 day"), "P1D"),
                    (N_("+3 days"), "P3D"),
                    (N_("+30 days"), "P30D"),
                )
            ],
        ),
        content_type="text/html",
    )
    response.headers["Content-Security-Policy"] = PAGE_CSP
    response.headers["Cache-Control"] = "no-store"
    return response


async def message_html(request: web.Request) -> web.Response:
    """``GET /sandbox/mailbox/messages/{n}.html``: one e-mail's HTML part, for the page's frame."""
    wanted = request.match_info["message"]
    message = next((m for m in request.app[SINK].messages if str(m.id) == wanted), None)
    if message is None or message.html is None:
        raise web.HTTPNotFound(text="no such message with an HTML part in the sandbox mailbox")
    response = web.Response(text=message.html, content_type="text/html")
    response.headers["Content-Security-Policy"] = MESSAGE_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Cache-Control"] = "no-store"
    return response
