"""E-mail service through the court's outgoing SMTP server (aiosmtplib).

Acceptance by the court's server is what completes service on a recipient-confirmed address
(CPL-INT-135), so the server's reply is kept as evidence. Replies are sorted into three outcomes:
accepted, permanent (5xx: the attempt fails with the server's words) and transient (4xx,
connection trouble: the worker retries later). Connections are pooled and reused because opening
one per message costs more than the message itself.
"""

from __future__ import annotations

import asyncio
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr

import aiosmtplib

from delivery.channel_api import (
    CodeMessage,
    ConfirmationRequestMessage,
    SendOutcome,
    SendResult,
    ServiceMessage,
)
from delivery.config import Settings, SmtpSettings
from delivery.vocabulary import Channel
from templates import render_code_message, render_confirmation_request, render_service_email


def message_id_for(attempt_id: str, sender: str) -> str:
    """One Message-ID per attempt: a resend after a crash carries the same id."""
    return f"<{attempt_id.lower()}@{sender.rpartition('@')[2]}>"


def build_email(message: ServiceMessage, smtp: SmtpSettings) -> MIMEMultipart:
    """The service e-mail: plain text and HTML alternatives, UTF-8.

    Built with the classic (compat32) MIME classes, which produce the same standard message as
    ``EmailMessage`` at about a third of the CPU cost; at court volumes that cost was a quarter
    of the worker's time.
    """
    subject, text, html = render_service_email(
        message.locale,
        court=message.court,
        case_number=message.case_number,
        recipient_name=message.recipient_name,
        document_titles=message.document_titles,
        link_url=message.link_url,
        link_expires_at=message.link_expires_at,
        time_zone=message.time_zone,
        notice_code=message.notice_code,
        check_url=message.check_url,
    )
    email = MIMEMultipart("alternative")
    email["Message-ID"] = message_id_for(message.attempt_id, smtp.sender)
    email["From"] = formataddr((message.court, smtp.sender), charset="utf-8")
    email["To"] = message.address
    # compat32 messages take Header objects (documented), which typeshed does not model.
    email["Subject"] = Header(subject, "utf-8")  # type: ignore[assignment]
    email["Date"] = format_datetime(message.composed_at)
    email["X-Songda-Attempt"] = message.attempt_id
    email.attach(MIMEText(text, "plain", "utf-8"))
    email.attach(MIMEText(html, "html", "utf-8"))
    return email


# Refusals of our login, our sender address or our greeting say the court's relay is
# misconfigured, not that this recipient cannot be served: no attempt should fail for them.
# The court's own relay failing us says nothing about the recipient: the attempt waits for the
# relay (every 5 minutes, tries not used up) instead of failing after its retries while the relay
# is down, which would escalate the dispatch to post for our outage.
CHANNEL_FAULTS = (
    aiosmtplib.SMTPConnectError,
    aiosmtplib.SMTPAuthenticationError,
    aiosmtplib.SMTPSenderRefused,
    aiosmtplib.SMTPHeloError,
    aiosmtplib.SMTPNotSupported,
)


def classify(code: int, text: str) -> SendResult:
    """A reply about this message or recipient: 5xx is final, anything else may pass later."""
    outcome = SendOutcome.PERMANENT if 500 <= code < 600 else SendOutcome.TRANSIENT
    return SendResult(outcome, f"{code} {text}".strip())


class EmailChannel:
    """Sends service e-mails over a small pool of reused SMTP connections."""

    name = "email"

    def __init__(self, smtp: SmtpSettings) -> None:
        self.smtp = smtp
        self._idle: asyncio.Queue[aiosmtplib.SMTP] = asyncio.Queue()
        self._slots = asyncio.Semaphore(smtp.pool_size)

    def _client(self) -> aiosmtplib.SMTP:
        return aiosmtplib.SMTP(
            hostname=self.smtp.host,
            port=self.smtp.port,
            use_tls=self.smtp.tls == "tls",
            start_tls=self.smtp.tls == "starttls",
            username=self.smtp.username,
            password=self.smtp.password,
            timeout=self.smtp.timeout,
        )

    async def send(self, message: ServiceMessage) -> SendResult:
        email = build_email(message, self.smtp)
        async with self._slots:
            return await self._send_pooled(email, message.address)

    async def send_code(self, message: CodeMessage) -> SendResult:
        subject, text = render_code_message(
            "email",
            message.locale,
            court=message.court,
            code=message.code,
            valid_minutes=message.valid_minutes,
        )
        return await self._send_text(message.court, message.address, subject, text)

    async def send_confirmation_request(self, message: ConfirmationRequestMessage) -> SendResult:
        subject, text = render_confirmation_request(Channel.EMAIL, message)
        return await self._send_text(message.court, message.address, subject, text)

    async def _send_text(self, court: str, address: str, subject: str, text: str) -> SendResult:
        """A plain-text e-mail from the court (a code, a confirmation request)."""
        email = MIMEText(text, "plain", "utf-8")
        email["From"] = formataddr((court, self.smtp.sender), charset="utf-8")
        email["To"] = address
        email["Subject"] = Header(subject, "utf-8")  # type: ignore[assignment]
        async with self._slots:
            return await self._send_pooled(email, address)

    async def _send_pooled(self, email: MIMEMultipart | MIMEText, address: str) -> SendResult:
        reused = not self._idle.empty()
        client = self._idle.get_nowait() if reused else self._client()
        try:
            if not client.is_connected:
                await client.connect()
            try:
                errors, reply = await client.send_message(email)
            except aiosmtplib.SMTPServerDisconnected:
                if not reused:
                    raise
                # The server closed an idle pooled connection before our transaction began.
                client = self._client()
                await client.connect()
                errors, reply = await client.send_message(email)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            self._idle.put_nowait(client)
            refusal = exc.recipients[0]
            return classify(refusal.code, refusal.message)
        except CHANNEL_FAULTS as exc:
            _discard(client)
            return SendResult(SendOutcome.UNAVAILABLE, f"{type(exc).__name__}: {exc}")
        except aiosmtplib.SMTPResponseException as exc:
            _discard(client)
            return classify(exc.code, exc.message)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            _discard(client)
            return SendResult(SendOutcome.TRANSIENT, f"{type(exc).__name__}: {exc}")
        except BaseException:
            _discard(client)  # cancelled mid-conversation: the connection's state is unknown
            raise
        self._idle.put_nowait(client)
        if address in errors:
            code, text = errors[address]
            return classify(code, text)
        return SendResult(SendOutcome.ACCEPTED, reply, provider_ref=email["Message-ID"])

    async def close(self) -> None:
        while not self._idle.empty():
            client = self._idle.get_nowait()
            if client.is_connected:
                try:
                    await client.quit()
                except (aiosmtplib.SMTPException, OSError):
                    client.close()


def _discard(client: aiosmtplib.SMTP) -> None:
    if client.is_connected:
        client.close()


def from_settings(settings: Settings) -> EmailChannel | None:
    """The channel when an outgoing mail server is configured (the sandbox sets its sink's)."""
    return EmailChannel(settings.smtp) if settings.smtp.host else None
