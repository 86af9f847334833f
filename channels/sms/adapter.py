"""SMS service through Twilio's API (the ``twilio`` library's async client).

The carrier's ``delivered`` report, arriving later as a status callback, is what completes
service on a recipient-confirmed number (OLR-31); sending only gets the message ``queued``. The
text is kept within a configurable number of segments, counted as carriers count them: GSM-7
text 160 characters (153 per part when split), anything else (Chinese) UCS-2, 70 (67).

Twilio's own retry wrapper is left off (it re-POSTs on 5xx and can send the same SMS twice):
transient errors are retried by Songda's worker, where idempotency is ours.
"""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from delivery.channel_api import (
    CodeMessage,
    ConfirmationRequestMessage,
    SendOutcome,
    SendResult,
    ServiceMessage,
)
from delivery.config import Settings
from delivery.vocabulary import Channel
from templates import locale_or_default, render, render_code_message, render_confirmation_request

GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€")
# Invalid "To" number, not reachable by SMS, recipient opted out: this number will never work.
PERMANENT_CODES = frozenset({21211, 21614, 21610, 21408, 21612})


@dataclass(frozen=True)
class SmsSettings:
    account_sid: str
    auth_token: str
    sender: str
    status_callback_url: str
    api_base_url: str | None = None
    max_segments: int = 3
    timeout: float = 30.0


def segments(text: str) -> int:
    """How many SMS parts ``text`` is sent as."""
    if all(c in GSM7 or c in GSM7_EXTENDED for c in text):
        units = len(text) + sum(1 for c in text if c in GSM7_EXTENDED)
        single, part = 160, 153
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, part = 70, 67
    return 1 if units <= single else -(-units // part)


def render_sms(message: ServiceMessage, *, compact: bool = False) -> str:
    """The SMS text; ``compact`` is the terse wording used when the full one is too long."""
    return render(
        "sms/service.txt",
        locale=locale_or_default(message.locale),
        court=message.court,
        case_number=message.case_number,
        recipient_name=message.recipient_name,
        link_url=message.link_url,
        notice_code=message.notice_code,
        check_url=message.check_url,
        compact=compact and message.notice_code is not None,
    ).strip()


def fitting_sms(message: ServiceMessage, max_segments: int) -> str:
    """The full text, or the compact one (the link, the notice code and where to check it,
    with fewer words) when the full one would need more than ``max_segments`` parts."""
    text = render_sms(message)
    if segments(text) > max_segments and message.notice_code is not None:
        return render_sms(message, compact=True)
    return text


def classify_error(exc: TwilioRestException) -> SendResult:
    detail = f"{exc.status} {exc.code or ''} {exc.msg}".strip()
    if exc.code in PERMANENT_CODES:
        return SendResult(SendOutcome.PERMANENT, detail)
    if exc.status in (401, 403):
        return SendResult(SendOutcome.UNAVAILABLE, detail)  # our credentials, not the number
    if exc.status >= 500:
        # Twilio's trouble after it may have taken the message: its fate is unknown, so the
        # attempt stays with Twilio (docs/decisions/0045).
        return SendResult(SendOutcome.TRANSIENT, detail, unknown=True)
    if exc.status == 429:
        return SendResult(SendOutcome.TRANSIENT, detail)
    return SendResult(SendOutcome.PERMANENT, detail)


class SmsChannel:
    name = "sms"

    def __init__(self, settings: SmsSettings) -> None:
        self.settings = settings
        self._http: AsyncTwilioHttpClient | None = None
        self._client: Client | None = None

    def _twilio(self) -> Client:
        """Built on first use, inside the running loop (twilio's async client needs one)."""
        if self._client is None:
            self._http = AsyncTwilioHttpClient(timeout=self.settings.timeout)
            self._client = Client(
                self.settings.account_sid, self.settings.auth_token, http_client=self._http
            )
            if self.settings.api_base_url:
                self._client.api.base_url = self.settings.api_base_url.rstrip("/")
        return self._client

    async def send_code(self, message: CodeMessage) -> SendResult:
        _subject, text = render_code_message(
            "sms",
            message.locale,
            court=message.court,
            code=message.code,
            valid_minutes=message.valid_minutes,
        )
        return await self._create(message.address, text, status_callback=None)

    async def send_confirmation_request(self, message: ConfirmationRequestMessage) -> SendResult:
        _subject, text = render_confirmation_request(Channel.SMS, message)
        return await self._create(message.address, text, status_callback=None)

    async def send(self, message: ServiceMessage) -> SendResult:
        text = fitting_sms(message, self.settings.max_segments)
        parts = segments(text)
        if parts > self.settings.max_segments:
            return SendResult(
                SendOutcome.PERMANENT,
                f"text needs {parts} segments, more than the {self.settings.max_segments} allowed",
            )
        return await self._create(
            message.address, text, status_callback=self.settings.status_callback_url
        )

    async def _create(self, to: str, text: str, *, status_callback: str | None) -> SendResult:
        """One message through Twilio, its outcome classified."""
        extra = {"status_callback": status_callback} if status_callback else {}
        try:
            sent = await self._twilio().messages.create_async(
                to=to, from_=self.settings.sender, body=text, **extra
            )
        except TwilioRestException as exc:
            return classify_error(exc)
        except (TwilioException, aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
            # Unless the connection was never made, Twilio may have taken the message (an
            # answer that is not JSON, ValueError, included).
            unknown = not isinstance(exc, aiohttp.ClientConnectorError)
            return SendResult(
                SendOutcome.TRANSIENT, f"{type(exc).__name__}: {exc}", unknown=unknown
            )
        return SendResult(
            SendOutcome.ACCEPTED,
            f"{sent.status} ({segments(text)} segments)",
            provider_ref=sent.sid,
        )

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()


def sms_settings(settings: Settings) -> SmsSettings:
    twilio = settings.twilio
    assert twilio.account_sid and twilio.auth_token and twilio.sender
    return SmsSettings(
        account_sid=twilio.account_sid,
        auth_token=twilio.auth_token,
        sender=twilio.sender,
        status_callback_url=f"{settings.public_base_url}/hooks/twilio/status",
        api_base_url=twilio.api_base_url,
        max_segments=twilio.max_segments,
    )


def from_settings(settings: Settings) -> SmsChannel | None:
    """The channel when Twilio is configured (all three of account, token and sender)."""
    return SmsChannel(sms_settings(settings)) if settings.twilio.configured else None
