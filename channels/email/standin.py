"""The e-mail stand-in: an in-process SMTP sink that accepts every message and keeps the newest
in memory, text and HTML parts. The sandbox's mailbox page shows them; tests read them to follow a
dispatch."""

from __future__ import annotations

import asyncio
import dataclasses
import email
import email.policy
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from delivery.clock import Clock, rfc3339
from delivery.config import Settings

MAX_MESSAGES = 500


@dataclass(frozen=True)
class SinkMessage:
    id: int
    received_at: datetime
    mail_from: str
    to: list[str]
    subject: str
    message_id: str
    text: str
    # The HTML part as sent (None: a text-only message). The mailbox page shows it in a
    # sandboxed frame from its own route, never inline (delivery/sandbox/mailbox.py).
    html: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "received_at": rfc3339(self.received_at),
            "from": self.mail_from,
            "to": self.to,
            "subject": self.subject,
            "message_id": self.message_id,
            "text": self.text,
        }


@dataclass
class SmtpSink:
    """Accepts every message and keeps the newest ones in memory."""

    clock: Clock
    messages: list[SinkMessage] = field(default_factory=list)
    reply: str = "250 Message accepted for delivery"
    port: int = 0
    _server: asyncio.Server | None = None

    async def handle_DATA(self, _server: SMTP, _session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        parsed = email.message_from_bytes(
            raw if isinstance(raw, bytes) else raw.encode(), policy=email.policy.default
        )
        body = parsed.get_body(preferencelist=("plain",))
        html = parsed.get_body(preferencelist=("html",))
        self.messages.append(
            SinkMessage(
                id=len(self.messages) + 1,
                received_at=self.clock.now(),
                mail_from=str(envelope.mail_from),
                to=list(envelope.rcpt_tos),
                subject=str(parsed["Subject"] or ""),
                message_id=str(parsed["Message-ID"] or ""),
                text=body.get_content() if body is not None else "",
                html=html.get_content() if html is not None else None,
            )
        )
        del self.messages[:-MAX_MESSAGES]
        return self.reply

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: SMTP(self), host, port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    async def serve(self, settings: Settings) -> Settings:
        """Listen on loopback, as the sandbox runs it: ``settings`` with e-mail sent to it."""
        port = await self.start()
        smtp = dataclasses.replace(settings.smtp, host="127.0.0.1", port=port)
        return dataclasses.replace(settings, smtp=smtp)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
