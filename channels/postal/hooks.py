"""``POST /hooks/carrier/{carrier}``: a carrier's tracking event, verified before anything is
recorded.

The signature (HMAC-SHA256 over ``"{timestamp}.{raw body}"``, ``X-Carrier-Signature: v1=…``) and
the timestamp's freshness (5 minutes, on the injected clock) are checked by the postal channel;
an unsigned, forged or stale call is 403 and nothing is stored. An unknown carrier is 404, an
unknown tracking number 404, a replayed event 200 with ``recorded: false``.
"""

from __future__ import annotations

from aiohttp import web

from channels.postal.receipts import TrackingOutcome, record_tracking
from delivery.api.http.bodies import bounded_body
from delivery.api.http.request_context import ctx_of, json_response
from delivery.channel_api import TrackingChannel, WebhookRejected
from delivery.vocabulary import Channel

PATH = "/hooks/carrier/{carrier}"
MAX_BODY = 64 * 1024


async def tracking_callback(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    channel = ctx.channels.get(Channel.POSTAL)
    carrier = request.match_info["carrier"]
    if not isinstance(channel, TrackingChannel) or channel.carrier_name != carrier:
        return json_response({"error": "unknown carrier"}, status=404)
    body = await bounded_body(request, MAX_BODY)
    try:
        event = channel.read_webhook(request.headers, body, ctx.clock.now())
    except WebhookRejected as exc:
        return json_response({"error": exc.reason}, status=exc.status)
    outcome = await record_tracking(ctx, carrier, event)
    if outcome == TrackingOutcome.UNKNOWN:
        return json_response({"error": "unknown tracking number"}, status=404)
    return json_response(
        {"recorded": outcome == TrackingOutcome.RECORDED, "outcome": outcome.value}, status=200
    )
