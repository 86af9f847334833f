"""Twilio's webhooks: ``POST /hooks/twilio/status`` and ``POST /hooks/twilio/inbound``.

Both are verified before anything is recorded. The signature is checked against the public URL
Twilio was given (from configuration, not from the request, which a proxy may have rewritten); a
bad or missing signature is 403 and nothing is stored.
"""

from __future__ import annotations

from aiohttp import web
from twilio.request_validator import RequestValidator

from channels.sms.receipts import record_sms_status
from channels.sms.replies import record_sms_reply
from delivery.api.http.bodies import read_form
from delivery.api.http.request_context import ctx_of, json_response

PATH = "/hooks/twilio/status"
INBOUND_PATH = "/hooks/twilio/inbound"
# An empty TwiML answer: Twilio sends nothing back to the recipient.
NO_ANSWER = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


async def _signed_params(request: web.Request, path: str) -> dict[str, str] | None:
    """The form's fields when Twilio signed them for ``path``; None when the signature fails."""
    ctx = ctx_of(request)
    token = ctx.settings.twilio.auth_token
    if token is None:
        raise web.HTTPNotFound()
    form = await read_form(request)
    params = {k: str(v) for k, v in form.items()}
    signature = request.headers.get("X-Twilio-Signature", "")
    url = f"{ctx.settings.public_base_url}{path}"
    if not signature or not RequestValidator(token).validate(url, params, signature):
        return None
    return params


async def status_callback(request: web.Request) -> web.Response:
    params = await _signed_params(request, PATH)
    if params is None:
        return web.Response(status=403, text="invalid signature")
    sid, status = params.get("MessageSid", ""), params.get("MessageStatus", "")
    if not sid or not status:
        return web.Response(status=400, text="MessageSid and MessageStatus are required")
    known = await record_sms_status(ctx_of(request), params)
    return json_response({"recorded": known}, status=200 if known else 404)


async def inbound_message(request: web.Request) -> web.Response:
    """A message to the court's number. Answered 200 with empty TwiML even when it belongs to
    no dispatch: Twilio would otherwise retry it and log an error for a stranger's text."""
    params = await _signed_params(request, INBOUND_PATH)
    if params is None:
        return web.Response(status=403, text="invalid signature")
    if not params.get("MessageSid") or not params.get("From"):
        return web.Response(status=400, text="MessageSid and From are required")
    await record_sms_reply(ctx_of(request), params)
    return web.Response(text=NO_ANSWER, content_type="text/xml")
