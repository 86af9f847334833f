"""``POST /hooks/twilio/status``: verified before anything is recorded.

The signature is checked against the public URL Twilio was given (from configuration, not from
the request, which a proxy may have rewritten); a bad or missing signature is 403 and nothing is
stored.
"""

from __future__ import annotations

from aiohttp import web
from twilio.request_validator import RequestValidator

from channels.sms.receipts import record_sms_status
from delivery.api.http.bodies import read_form
from delivery.api.http.request_context import ctx_of, json_response

PATH = "/hooks/twilio/status"


async def status_callback(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    token = ctx.settings.twilio.auth_token
    if token is None:
        raise web.HTTPNotFound()
    form = await read_form(request)
    params = {k: str(v) for k, v in form.items()}
    signature = request.headers.get("X-Twilio-Signature", "")
    url = f"{ctx.settings.public_base_url}{PATH}"
    if not signature or not RequestValidator(token).validate(url, params, signature):
        return web.Response(status=403, text="invalid signature")
    sid, status = params.get("MessageSid", ""), params.get("MessageStatus", "")
    if not sid or not status:
        return web.Response(status=400, text="MessageSid and MessageStatus are required")
    known = await record_sms_status(ctx, params)
    return json_response({"recorded": known}, status=200 if known else 404)
