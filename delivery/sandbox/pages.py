"""Sandbox mode: a mailbox page over the stand-ins (the SMTP sink, the SMS provider, the carrier;
the page itself is :mod:`delivery.sandbox.mailbox`), the JSON API its buttons call, and a clock
to move, so a new user can watch a dispatch go the whole way with no accounts anywhere. Never
enabled by configuration, only by ``songda run --sandbox``. The stand-ins themselves are their
channels' (``channels/<method>/standin.py``).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from aiohttp import web

from channels.email.receipts import record_bounce
from channels.email.replies import record_email_reply
from channels.email.standin import SmtpSink
from channels.postal.outcomes import RELATIONS, RETURN_REASONS
from channels.postal.standin import CarrierStandIn
from channels.sms.hooks import INBOUND_PATH
from channels.sms.standin import TwilioStandIn
from delivery.api.http.bodies import read_json
from delivery.api.http.request_context import ctx_of, json_response
from delivery.clock import AdjustableClock, rfc3339
from delivery.sandbox.mailbox import (
    CARRIER,
    SINK,
    TWILIO,
    mailbox_page,
    message_html,
    reply_to_message,
)
from delivery.services.sweep import sweep

# The postman may also take the piece (accepted: posting, from which CPL-283 counts abroad).
CARRIER_STATUSES = ("accepted", "in_transit", "delivered", "refused", "returned", "lost")
CARRIER_RELATIONS = tuple(sorted(RELATIONS))
CARRIER_REASONS = tuple(sorted(RETURN_REASONS))


async def messages_api(request: web.Request) -> web.Response:
    messages = reversed(request.app[SINK].messages)
    sms = list(reversed(request.app[TWILIO].messages)) if TWILIO in request.app else []
    mail = (
        [_shipment_view(s) for s in reversed(request.app[CARRIER].shipments)]
        if (CARRIER in request.app)
        else []
    )
    return json_response({"items": [m.as_json() for m in messages], "sms": sms, "mail": mail})


def _shipment_view(shipment: dict[str, Any]) -> dict[str, Any]:
    """A piece as the sandbox shows it (the signer's ID number only by its last 4)."""
    events = [
        {**e, "signer_id": f"…{e['signer_id'][-4:]}" if e.get("signer_id") else None}
        for e in shipment["events"]
    ]
    return {**shipment, "events": events}


def _carrier_event(body: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """The postman's report, checked: (details, None) or (None, what is wrong)."""
    status = body.get("status")
    if status not in CARRIER_STATUSES:
        return None, f"status: one of {', '.join(CARRIER_STATUSES)}"
    unknown = set(body) - {"status", "signed_by", "signer_id", "relation", "reason"}
    if unknown:
        return None, f"unknown field(s): {', '.join(sorted(unknown))}"
    details: dict[str, Any] = {}
    for name in ("signed_by", "signer_id", "relation", "reason"):
        value = body.get(name)
        if value is not None and (not isinstance(value, str) or not 0 < len(value) <= 100):
            return None, f"{name}: a non-empty string (at most 100 characters)"
        details[name] = value
    if details["relation"] is not None and details["relation"] not in CARRIER_RELATIONS:
        return None, f"relation: one of {', '.join(CARRIER_RELATIONS)}"
    if details["reason"] is not None and details["reason"] not in CARRIER_REASONS:
        return None, f"reason: one of {', '.join(CARRIER_REASONS)}"
    if status in ("delivered", "refused") and details["relation"] is None:
        return None, f"relation: required for {status}"
    if status == "returned" and details["reason"] is None:
        return None, "reason: required for returned"
    return {"status": status, **details}, None


async def carrier_event(request: web.Request) -> web.Response:
    """Play the postman: the carrier stand-in records the event and sends its signed webhook."""
    details, problem = _carrier_event(await read_json(request))
    if details is None:
        return json_response({"error": problem}, status=400)
    carrier = request.app[CARRIER]
    tracking_number = request.match_info["tracking_number"]
    if carrier.shipment(tracking_number) is None:
        return json_response({"error": "no such mail piece in the sandbox"}, status=404)
    status = details.pop("status")
    answer = await carrier.report(tracking_number, status, **details)
    return json_response({"webhook_status": answer})


async def sms_status(request: web.Request) -> web.Response:
    """Play the carrier: make the stand-in send this SMS's signed status callback."""
    body = await read_json(request)
    status = body.get("status")
    if status is None:
        return json_response({"error": 'send {"status": "delivered"}'}, status=400)
    if status not in ("delivered", "undelivered", "failed", "sent"):
        return json_response({"error": "status: delivered, undelivered, failed or sent"}, 400)
    try:
        answer = await request.app[TWILIO].report(
            request.match_info["sid"], status, body.get("error_code")
        )
    except KeyError:
        return json_response({"error": "no such SMS in the sandbox"}, status=404)
    return json_response({"callback_status": answer})


DURATION_RE = re.compile(
    r"^P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)
MAX_ADVANCE = timedelta(days=400)


def parse_duration(text: str) -> timedelta:
    """An ISO 8601 duration in weeks, days, hours, minutes and seconds (``P3D``, ``PT12H``)."""
    match = DURATION_RE.match(text.strip().upper()) if isinstance(text, str) else None
    if match is None or text.strip().upper() in ("P", "PT"):
        raise ValueError(f"not an ISO 8601 duration such as P3D or PT12H: {text!r}")
    return timedelta(**{k: int(v) for k, v in match.groupdict().items() if v})


def _clock_view(clock: AdjustableClock) -> dict[str, Any]:
    return {"now": rfc3339(clock.now()), "offset_seconds": clock.offset.total_seconds()}


async def clock_state(request: web.Request) -> web.Response:
    clock = ctx_of(request).clock
    assert isinstance(clock, AdjustableClock)
    return json_response(_clock_view(clock))


async def advance_clock(request: web.Request) -> web.Response:
    """Move the sandbox clock forward and sweep, so exactly the work that became due runs."""
    ctx = ctx_of(request)
    clock = ctx.clock
    assert isinstance(clock, AdjustableClock)
    body = await read_json(request)
    try:
        delta = parse_duration(body["advance"])
    except (ValueError, KeyError, TypeError) as exc:
        return json_response({"error": f'send {{"advance": "P3D"}} ({exc})'}, status=400)
    if not timedelta(0) < delta <= MAX_ADVANCE:
        return json_response({"error": "advance between one second and 400 days"}, status=400)
    clock.advance(delta)
    report = await sweep(ctx)
    return json_response({**_clock_view(clock), "swept": report.__dict__})


async def bounce_message(request: web.Request) -> web.Response:
    """Play the recipient's mail server: bounce a message that is in the mailbox."""
    ctx = ctx_of(request)
    wanted = request.match_info["message"]
    message = next((m for m in request.app[SINK].messages if str(m.id) == wanted), None)
    if message is None:
        return json_response({"error": "no such message in the sandbox mailbox"}, status=404)
    outcome = await record_bounce(
        ctx,
        message.message_id,
        message.to[0],
        "550 5.1.1 sandbox: mailbox does not exist",
        courts=(ctx.settings.court_name,),
        actor="sandbox",
    )
    if outcome is None:
        return json_response({"error": "that message was not sent by a dispatch"}, status=404)
    return json_response(outcome.__dict__)


async def _reply_text(request: web.Request) -> str | web.Response:
    """The reply's text (``{"text": ...}``, 1 to 500 characters), or the 400 that says so."""
    text = (await read_json(request)).get("text")
    if not isinstance(text, str) or not 0 < len(text.strip()) <= 500:
        return json_response({"error": 'send {"text": "收到"} (1 to 500 characters)'}, status=400)
    return text


async def reply_email(request: web.Request) -> web.Response:
    """Play the recipient: answer a message in the mailbox, as their mail client would (the
    reply names the message in In-Reply-To), through the court's reply intake (OLR-31)."""
    ctx = ctx_of(request)
    text = await _reply_text(request)
    if isinstance(text, web.Response):
        return text
    wanted = request.match_info["message"]
    message = next((m for m in request.app[SINK].messages if str(m.id) == wanted), None)
    if message is None:
        return json_response({"error": "no such message in the sandbox mailbox"}, status=404)
    outcome = await record_email_reply(
        ctx,
        reply_to_message(message, text, ctx.clock.now()),
        courts=(ctx.settings.court_name,),
        actor="sandbox",
    )
    if outcome is None:
        return json_response({"error": "that message was not sent by a dispatch"}, status=404)
    return json_response(outcome.__dict__)


async def reply_sms(request: web.Request) -> web.Response:
    """Play the recipient: answer an SMS from the number it went to; the stand-in signs the
    inbound webhook as Twilio does."""
    ctx = ctx_of(request)
    text = await _reply_text(request)
    if isinstance(text, web.Response):
        return text
    standin = request.app[TWILIO]
    sent = next((m for m in standin.messages if m["sid"] == request.match_info["sid"]), None)
    if sent is None:
        return json_response({"error": "no such SMS in the sandbox"}, status=404)
    url = ctx.settings.public_base_url + INBOUND_PATH
    return json_response({"webhook_status": await standin.reply(url, sent["to"], text)})


def add_routes(app: web.Application, *standins: object) -> None:
    """The sandbox pages over the stand-ins running (channels/<method>/standin.py): the SMTP
    sink's mailbox, and the SMS provider's and the carrier's controls when they run (None: one
    that does not)."""
    for standin in standins:
        if isinstance(standin, SmtpSink):
            app[SINK] = standin
        elif isinstance(standin, CarrierStandIn):
            app[CARRIER] = standin
            app.router.add_post("/sandbox/api/carrier/{tracking_number}/events", carrier_event)
        elif isinstance(standin, TwilioStandIn):
            app[TWILIO] = standin
            app.router.add_post("/sandbox/api/sms/{sid}/status", sms_status)
            app.router.add_post("/sandbox/api/sms/{sid}/reply", reply_sms)
    app.router.add_get("/sandbox/mailbox", mailbox_page)
    app.router.add_get(r"/sandbox/mailbox/messages/{message:\d+}.html", message_html)
    app.router.add_get("/sandbox/api/messages", messages_api)
    app.router.add_post("/sandbox/api/messages/{message}/bounce", bounce_message)
    app.router.add_post("/sandbox/api/messages/{message}/reply", reply_email)
    app.router.add_get("/sandbox/api/clock", clock_state)
    app.router.add_post("/sandbox/api/clock", advance_clock)
