"""SMS through Alibaba Cloud SMS (阿里云短信服务), the way mainland courts send: its official SDK
(``alibabacloud-dysmsapi20170525``), a registered template and the court's registered signature.

Alibaba refuses free text: the provider assembles the message from a template code and its
parameters. The notice of service uses the court's ``service_template`` with ``case`` (the case
number), ``code`` (the notice code) and ``link`` (the signed link's token: the template holds the
court's fixed address ``…/r/${link}``, as Alibaba requires links to be fixed in the template); the
identity check uses ``code_template`` with ``code``; the request to confirm one's addresses
uses ``confirm_template`` with ``case`` and ``link`` (the token of ``…/c/${link}``).
docs/decisions/0044 has the wording to register.

The SDK's async calls run on the event loop; its retries are left off (no ``retry_options``), as
Twilio's are: a re-POST after an unclear failure could send the same message twice, and the
failover never moves a message whose fate is unknown to another provider.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import aiohttp
from alibabacloud_dysmsapi20170525 import models
from alibabacloud_dysmsapi20170525.client import Client
from alibabacloud_tea_openapi import models as openapi
from alibabacloud_tea_openapi.exceptions import AlibabaCloudException

from delivery.channel_api import (
    CodeMessage,
    ConfirmationRequestMessage,
    SendOutcome,
    SendResult,
    ServiceMessage,
)
from delivery.config import Settings
from delivery.config_sms import AliyunSettings, CourtTemplates

# Alibaba's reports and query answers give Beijing time without a zone.
PROVIDER_ZONE = ZoneInfo("Asia/Shanghai")
MAINLAND = "+86"
# This number can never get the message through Alibaba (not a mainland mobile, stopped).
PERMANENT_CODES = frozenset({"isv.MOBILE_NUMBER_ILLEGAL", "isv.MOBILE_COUNT_OVER_LIMIT"})
# Alibaba's own failure: it may have passed the message on before failing, so its fate is
# unknown (as an HTTP 5xx's, or an answer with no code).
UNCERTAIN_CODES = frozenset({"isp.SYSTEM_ERROR"})
# Flow control for one number (too many messages to it): the number's limit, worth a later
# try, and no sign of the provider's health.
NUMBER_LIMIT_CODES = frozenset({"isv.BUSINESS_LIMIT_CONTROL"})
# Worth trying again later: Alibaba's throttling of our account.
TRANSIENT_CODES = frozenset({"isp.RAM_PERMISSION_DENY", "Throttling.User", "Throttling.Api"})
# The SDK writes a missing code as the text "None".
NO_CODE = frozenset({"", "None"})
# SendStatus in QuerySendDetails: 1 waiting for the carrier, 2 failed, 3 delivered.
QUERY_STATUSES = {1: None, 2: False, 3: True}


@dataclass(frozen=True)
class AliyunReport:
    """The carrier's word on one message, from a push (SmsReport) or a query: ``delivered`` is
    None while the carrier has not answered."""

    biz_id: str
    delivered: bool | None
    err_code: str | None
    reported_at: datetime | None
    raw: dict[str, Any] = field(default_factory=dict)


def provider_time(text: object) -> datetime | None:
    """``2026-12-07 13:48:25`` (Beijing time) as an aware datetime; None when absent or odd."""
    try:
        return datetime.strptime(str(text), "%Y-%m-%d %H:%M:%S").replace(tzinfo=PROVIDER_ZONE)
    except ValueError:
        return None


def national(number: str) -> str | None:
    """The 11-digit form Alibaba's domestic SMS takes; None for a number outside the mainland."""
    return number.removeprefix(MAINLAND) if number.startswith(MAINLAND) else None


def international(number: str) -> str:
    """A mainland number as Alibaba reports it (``13800138000``) in Songda's E.164 form."""
    return number if number.startswith("+") else f"{MAINLAND}{number}"


def classify(code: str | None, detail: str, status: int | None = None) -> SendResult:
    """Alibaba's answer ``code`` (other than ``OK``) and HTTP ``status`` as an outcome.

    An HTTP 5xx, Alibaba's own system error or an answer with no code may come after the
    message went out: its fate is unknown, so the attempt stays with Alibaba (no other provider
    may send it, docs/decisions/0045). Otherwise the number's fault, a reason to try later, or
    — signature, template, balance, keys — this provider unusable for now."""
    if (status or 0) >= 500 or code is None or code in NO_CODE or code in UNCERTAIN_CODES:
        return SendResult(SendOutcome.TRANSIENT, detail, unknown=True)
    if code in PERMANENT_CODES:
        return SendResult(SendOutcome.PERMANENT, detail)
    if code in NUMBER_LIMIT_CODES:
        return SendResult(SendOutcome.TRANSIENT, detail, number_at_fault=True)
    if code in TRANSIENT_CODES:
        return SendResult(SendOutcome.TRANSIENT, detail)
    return SendResult(SendOutcome.UNAVAILABLE, detail)


def _causes(exc: BaseException) -> list[BaseException]:
    """The SDK's exception and what it wraps: its ``inner_exception`` (a retry error holding
    the transport's message) and the exceptions each was raised from or during."""
    found: list[BaseException] = []
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or current in found:
            continue
        found.append(current)
        inner = getattr(current, "inner_exception", None)
        pending += [
            inner if isinstance(inner, BaseException) else None,
            current.__cause__,
            current.__context__,
        ]
    return found


def _never_connected(exc: BaseException) -> bool:
    return any(isinstance(e, aiohttp.ClientConnectorError) for e in _causes(exc))


def _cause(exc: BaseException) -> str:
    """The transport's own words where the SDK wrapped them (its exception says only a class)."""
    return str(_causes(exc)[-1])


class AliyunSmsChannel:
    name = "sms"

    def __init__(self, settings: AliyunSettings) -> None:
        self.settings = settings
        self._client: Client | None = None

    def _sdk(self) -> Client:
        if self._client is None:
            endpoint = urlsplit(self.settings.endpoint)
            timeout_ms = int(self.settings.timeout * 1000)
            self._client = Client(
                openapi.Config(
                    access_key_id=self.settings.access_key_id,
                    access_key_secret=self.settings.access_key_secret,
                    endpoint=endpoint.netloc,
                    protocol=endpoint.scheme,
                    connect_timeout=timeout_ms,
                    read_timeout=timeout_ms,
                )
            )
        return self._client

    async def send(self, message: ServiceMessage) -> SendResult:
        templates = self.settings.templates(message.court)
        token = message.link_url.rpartition("/r/")[2]
        params = {"case": message.case_number, "code": message.notice_code or "", "link": token}
        return await self._send(
            message.address, templates, templates.service_template, params, message.attempt_id
        )

    async def send_code(self, message: CodeMessage) -> SendResult:
        templates = self.settings.templates(message.court)
        params = {"code": message.code}
        return await self._send(message.address, templates, templates.code_template, params, None)

    async def send_confirmation_request(self, message: ConfirmationRequestMessage) -> SendResult:
        templates = self.settings.templates(message.court)
        token = message.link_url.rpartition("/c/")[2]
        params = {"case": message.case_number, "link": token}
        return await self._send(
            message.address, templates, templates.confirm_template, params, None
        )

    async def _send(
        self,
        number: str,
        templates: CourtTemplates,
        template: str | None,
        params: dict[str, str],
        out_id: str | None,
    ) -> SendResult:
        phone = national(number)
        if phone is None:
            return SendResult(SendOutcome.PERMANENT, "not a mainland number")
        if not template or not templates.sign_name:
            return SendResult(SendOutcome.UNAVAILABLE, "no signature or template for the court")
        request = models.SendSmsRequest(
            phone_numbers=phone,
            sign_name=templates.sign_name,
            template_code=template,
            template_param=json.dumps(params, ensure_ascii=False),
            out_id=out_id,
        )
        try:
            response = await self._sdk().send_sms_async(request)
        except AlibabaCloudException as exc:
            detail = f"{exc.status_code} {exc.code} {exc.message}"
            return classify(exc.code, detail, exc.status_code)
        except Exception as exc:  # the SDK wraps transport errors in its own
            # Unless the connection was never made, Alibaba may have taken the message.
            detail = f"{type(exc).__name__}: {_cause(exc)}"
            return SendResult(SendOutcome.TRANSIENT, detail, unknown=not _never_connected(exc))
        body = response.body
        if body is None or body.code != "OK":
            code = body.code if body else None
            return classify(code, f"{code} {body.message if body else ''}".strip())
        return SendResult(
            SendOutcome.ACCEPTED, f"{body.code} {body.request_id}", provider_ref=body.biz_id
        )

    async def query(self, number: str, biz_id: str, sent_at: datetime) -> list[AliyunReport]:
        """What Alibaba knows of message ``biz_id`` (QuerySendDetails), for the polling that
        stands in for pushes that do not come. Raises on any failure (the poll tries later)."""
        request = models.QuerySendDetailsRequest(
            phone_number=national(number) or number,
            biz_id=biz_id,
            send_date=sent_at.astimezone(PROVIDER_ZONE).strftime("%Y%m%d"),
            page_size=10,
            current_page=1,
        )
        response = await self._sdk().query_send_details_async(request)
        body = response.body
        if body is None or body.code != "OK":
            raise LookupError(f"QuerySendDetails: {body.code if body else 'no answer'}")
        found = body.sms_send_detail_dtos.sms_send_detail_dto if body.sms_send_detail_dtos else []
        return [
            AliyunReport(
                biz_id=biz_id,
                delivered=QUERY_STATUSES.get(int(row.send_status or 1)),
                err_code=row.err_code,
                reported_at=provider_time(row.receive_date),
                raw={
                    "send_status": row.send_status,
                    "err_code": row.err_code,
                    "send_date": row.send_date,
                    "receive_date": row.receive_date,
                    "template_code": row.template_code,
                },
            )
            for row in found or []
        ]

    async def close(self) -> None:
        self._client = None


def report_of(item: dict[str, Any]) -> AliyunReport:
    """One element of Alibaba's SmsReport push."""
    success = item.get("success")
    return AliyunReport(
        biz_id=str(item.get("biz_id", "")),
        delivered=success if isinstance(success, bool) else None,
        err_code=item.get("err_code"),
        reported_at=provider_time(item.get("report_time")),
        raw={k: v for k, v in item.items() if k != "phone_number"},
    )


def from_settings(settings: Settings) -> AliyunSmsChannel | None:
    """The provider when its keys are configured (the templates are checked with them)."""
    return AliyunSmsChannel(settings.aliyun) if settings.aliyun.configured else None
