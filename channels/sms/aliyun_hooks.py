"""Alibaba Cloud SMS pushes: ``POST /hooks/aliyun/{secret}/report`` (SmsReport, delivery reports)
and ``POST /hooks/aliyun/{secret}/up`` (SmsUp, the recipient's replies, 短信上行).

Alibaba does not sign its pushes, so they are verified as strictly as it allows: the path holds
a secret only Alibaba was given (a wrong one is 404, as for a path that does not exist), and the
caller's address must be in ``SONGDA_ALIYUN_CALLBACK_SOURCES`` (403). Both are refused as
problem+json before the body is read, and nothing is recorded. Each push is a JSON array; it is
answered ``{"code": 0}`` once recorded, which stops Alibaba's retries, and 404 with ``{"code": 1}``
when a report names a message Songda does not know (yet: a report can overtake the recording of
the acceptance), so that Alibaba pushes it again. A report on a message sent with no attempt (an
identity code, an address confirmation request) is known: noted for the provider's receipt
times, recorded on no dispatch, and acknowledged.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from typing import Any

from aiohttp import web

from channels.sms.aliyun import international, report_of
from channels.sms.outcomes import DELIVERED, IN_PROGRESS, UNDELIVERED
from channels.sms.receipts import SmsStatus, record_sms_report
from channels.sms.replies import MAX_BODY, record_reply
from delivery.api.http.bodies import bounded_body
from delivery.api.http.problems import Problem, not_found
from delivery.api.http.rate_limit import client_address
from delivery.api.http.request_context import ctx_of, json_response
from delivery.config import Settings
from delivery.identity import mask_address
from delivery.vocabulary import Channel, SmsProvider

REPORT_PATH = "/hooks/aliyun/{secret}/report"
UP_PATH = "/hooks/aliyun/{secret}/up"
MAX_PUSH_BYTES = 256 * 1024
RECEIVED = {"code": 0, "msg": "received"}
UNKNOWN = {"code": 1, "msg": "unknown message"}


def _guard(request: web.Request, settings: Settings) -> None:
    """Refuse a push with the wrong secret (404) or from outside the allowed networks (403)."""
    expected = settings.aliyun.callback_secret
    given = request.match_info["secret"]
    if not settings.aliyun.configured or not expected:
        raise not_found()
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise not_found()
    try:
        caller = ipaddress.ip_address(client_address(request, settings))
    except ValueError:
        caller = None
    if caller is None or not any(caller in net for net in settings.aliyun.callback_sources):
        raise Problem(
            403,
            "forbidden-source",
            "Not allowed from this address",
            "the push did not come from a configured Alibaba Cloud network",
        )


async def _items(request: web.Request) -> list[dict[str, Any]]:
    raw = await bounded_body(request, MAX_PUSH_BYTES)
    try:
        items = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Problem(400, "malformed-json", "The body is not valid JSON", str(exc)) from None
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise Problem(400, "malformed-json", "The body is not valid JSON", "a JSON array")
    return items


def report_status(item: dict[str, Any]) -> SmsStatus:
    """One SmsReport element as the SMS receipts read it."""
    report = report_of(item)
    status = {True: DELIVERED, False: UNDELIVERED, None: IN_PROGRESS}[report.delivered]
    data = {
        "biz_id": report.biz_id,
        "status": status,
        "error_code": report.err_code if report.delivered is False else None,
        "raw": report.raw,
    }
    return SmsStatus(report.biz_id, status, SmsProvider.ALIYUN, data, report.reported_at)


async def delivery_report(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    _guard(request, ctx.settings)
    known = [
        await record_sms_report(ctx, report_status(item))
        for item in await _items(request)
        if item.get("biz_id")
    ]
    if not all(known):
        # Reported before its sending was recorded, or not ours: Alibaba pushes it again
        # (the known ones again too, which records nothing twice).
        return json_response(UNKNOWN, status=404)
    return json_response(RECEIVED)


async def uplink(request: web.Request) -> web.Response:
    """The recipient's replies; one from a number Songda never sent to is not recorded, and
    still acknowledged (Alibaba would otherwise push it again)."""
    ctx = ctx_of(request)
    _guard(request, ctx.settings)
    for item in await _items(request):
        number = international(str(item.get("phone_number", "")))
        data = {
            "automatic": False,
            "from_recipient": True,  # matched by the number the SMS was sent to
            "sequence_id": item.get("sequence_id"),
            "from": mask_address(Channel.SMS, number),
            "body": str(item.get("content", ""))[:MAX_BODY],
            "send_time": str(item.get("send_time", "")),  # Beijing time, as Alibaba gives it
        }
        await record_reply(ctx, number, data, SmsProvider.ALIYUN)
    return json_response(RECEIVED)
