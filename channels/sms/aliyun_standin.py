"""A stand-in for the part of Alibaba Cloud SMS's API the SMS channel uses (SendSms,
QuerySendDetails) and for its pushes (SmsReport, SmsUp).

The official SDK is pointed at it through its endpoint setting (``SONGDA_ALIYUN_ENDPOINT=
http://127.0.0.1:…``), so tests and the sandbox exercise the SDK as it is, on loopback, with no
account. It can refuse (``fail_code``, as Alibaba answers: HTTP 200 with another ``Code``), break
(``http_status``), take a message and then not answer in time (``hang``) or answer an HTTP error
(``status_after_taking``: a gateway failing after the message went on), and play the network:
push a delivery report or a reply to Songda's callback URLs.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from channels.sms.aliyun import PROVIDER_ZONE, national
from delivery.clock import Clock, SystemClock
from delivery.config import Settings
from delivery.config_sms import CourtTemplates
from delivery.sandbox.loopback import serve_on_loopback

SANDBOX_KEY_ID = "LTAI" + "5a" * 8
SANDBOX_TEMPLATES = CourtTemplates("沙箱法院", "SMS_000001", "SMS_000002", "SMS_000003")
LOOPBACK = ("127.0.0.1/32", "::1/128")
AUTO_DELIVER_SECONDS = 1.0


@dataclass
class AliyunStandIn:
    """Accepts SendSms calls (or refuses them), answers QuerySendDetails, remembers messages."""

    clock: Clock = field(default_factory=SystemClock)
    messages: list[dict[str, Any]] = field(default_factory=list)
    fail_code: str | None = None
    http_status: int | None = None
    hang: float = 0.0
    status_after_taking: int | None = None
    # Where Songda takes pushes (``…/hooks/aliyun/<secret>``), once served with settings.
    callback_base: str | None = None
    # The sandbox's carrier reports every message delivered on its own.
    auto_deliver: bool = False
    runner: web.AppRunner | None = field(default=None, repr=False, compare=False)
    _tasks: set[asyncio.Task[int]] = field(default_factory=set, repr=False, compare=False)

    @classmethod
    def for_sandbox(cls, clock: Clock) -> AliyunStandIn:
        return cls(clock=clock, auto_deliver=True)

    async def serve(self, settings: Settings) -> Settings:
        """Serve on loopback: ``settings`` with the SDK pointed at it on made-up keys, the
        sandbox's templates, a callback secret and loopback as the pushes' source."""
        self.runner, url = await serve_on_loopback(self.app())
        secret = settings.aliyun.callback_secret or secrets.token_urlsafe(24)
        aliyun = dataclasses.replace(
            settings.aliyun,
            access_key_id=SANDBOX_KEY_ID,
            access_key_secret=secrets.token_hex(16),
            endpoint=url,
            defaults=SANDBOX_TEMPLATES,
            callback_secret=secret,
            callback_sources=tuple(ipaddress.ip_network(net) for net in LOOPBACK),
        )
        self.callback_base = f"{settings.public_base_url}/hooks/aliyun/{secret}"
        return dataclasses.replace(settings, aliyun=aliyun)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self.runner is not None:
            await self.runner.cleanup()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/", self.call)
        return app

    def _time(self) -> str:
        return self.clock.now().astimezone(PROVIDER_ZONE).strftime("%Y-%m-%d %H:%M:%S")

    async def call(self, request: web.Request) -> web.Response:
        action = request.headers.get("x-acs-action", "")
        query = dict(request.query)
        if action == "QuerySendDetails":
            return self._query(query)
        if action != "SendSms":
            return web.json_response({"Code": "InvalidAction", "Message": action}, status=400)
        if self.http_status is not None:
            body = {"Code": "isp.SYSTEM_ERROR", "Message": "stand-in failure"}
            return web.json_response(body, status=self.http_status)
        if self.fail_code is not None:
            return web.json_response({"Code": self.fail_code, "Message": "stand-in refusal"})
        message = {
            "biz_id": f"{secrets.randbelow(10**15):015d}^0",
            "phone": query.get("PhoneNumbers", ""),
            "sign_name": query.get("SignName", ""),
            "template_code": query.get("TemplateCode", ""),
            "params": json.loads(query.get("TemplateParam") or "{}"),
            "out_id": query.get("OutId"),
            "send_time": self._time(),
            "success": None,
            "err_code": None,
            "report_time": None,
        }
        self.messages.append(message)
        if self.hang:
            await asyncio.sleep(self.hang)  # taken, but the answer comes too late
        if self.status_after_taking is not None:
            body = {"Code": "isp.SYSTEM_ERROR", "Message": "stand-in gateway failure"}
            return web.json_response(body, status=self.status_after_taking)
        if self.auto_deliver and self.callback_base:
            task = asyncio.get_running_loop().create_task(self._deliver_later(message["biz_id"]))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return web.json_response(
            {"Code": "OK", "Message": "OK", "BizId": message["biz_id"], "RequestId": "standin"}
        )

    async def _deliver_later(self, biz_id: str) -> int:
        """As a carrier does, a moment after the message was taken (and its acceptance had
        time to be recorded)."""
        await asyncio.sleep(AUTO_DELIVER_SECONDS)
        return await self.report(biz_id)

    def _query(self, query: dict[str, str]) -> web.Response:
        found = [
            {
                "PhoneNum": m["phone"],
                "SendStatus": 1 if m["success"] is None else 3 if m["success"] else 2,
                "ErrCode": m["err_code"] or "DELIVERED",
                "TemplateCode": m["template_code"],
                "Content": "",
                "SendDate": m["send_time"],
                "ReceiveDate": m["report_time"] or "",
                "OutId": m["out_id"],
            }
            for m in self.messages
            if m["biz_id"] == query.get("BizId") and m["phone"] == query.get("PhoneNumber")
        ]
        return web.json_response(
            {
                "Code": "OK",
                "Message": "OK",
                "RequestId": "standin",
                "TotalCount": str(len(found)),
                "SmsSendDetailDTOs": {"SmsSendDetailDTO": found},
            }
        )

    def settle(
        self, biz_id: str, success: bool = True, err_code: str | None = None
    ) -> dict[str, Any]:
        """The carrier's answer for a message, known to queries (not pushed)."""
        message = next(m for m in self.messages if m["biz_id"] == biz_id)
        message.update(
            success=success,
            err_code=None if success else err_code or "MK:0001",
            report_time=self._time(),
        )
        return message

    async def report(self, biz_id: str, success: bool = True, err_code: str | None = None) -> int:
        """Settle the message and push its SmsReport to Songda; the receiver's HTTP status."""
        message = self.settle(biz_id, success, err_code)
        item = {
            "phone_number": message["phone"],
            "send_time": message["send_time"],
            "report_time": message["report_time"],
            "success": success,
            "err_code": "DELIVERED" if success else message["err_code"],
            "err_msg": "用户接收成功" if success else "failed",
            "sms_size": "1",
            "biz_id": biz_id,
            "out_id": message["out_id"],
        }
        return await self.push("report", [item])

    async def reply(self, number: str, content: str) -> int:
        """Push an uplink message (SmsUp) from ``number`` (E.164) to Songda."""
        item = {
            "phone_number": national(number) or number,
            "send_time": self._time(),
            "content": content,
            "sign_name": SANDBOX_TEMPLATES.sign_name,
            "dest_code": "1234",
            "sequence_id": secrets.randbelow(10**9),
        }
        return await self.push("up", [item])

    async def push(self, kind: str, items: list[dict[str, Any]], base: str | None = None) -> int:
        url = f"{base or self.callback_base}/{kind}"
        async with aiohttp.ClientSession() as session, session.post(url, json=items) as resp:
            return resp.status
