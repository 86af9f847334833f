"""The SMTP sink of the throughput benches: an aiosmtpd server on loopback that only counts.

Songda's worker and the raw sender deliver to it alike; it notes the moment the last expected
recipient is in, which is where the clock of a run stops."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from aiosmtpd.smtp import SMTP, Envelope, Session

STALL_SECONDS = 30.0


class CountingSink:
    """An aiosmtpd handler that only counts; it notes when the expected recipients are all in."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.messages = 0
        self.recipients: set[str] = set()
        self.done = asyncio.Event()
        self.completed_at = 0.0

    async def handle_DATA(self, _server: SMTP, _session: Session, envelope: Envelope) -> str:
        self.messages += 1
        self.recipients.update(envelope.rcpt_tos)
        if len(self.recipients) >= self.expected and not self.done.is_set():
            self.completed_at = time.perf_counter()
            self.done.set()
        return "250 Message accepted for delivery"

    async def wait(self, stall: float) -> None:
        """Wait until all are in; raise :class:`Stalled` if no message comes for ``stall`` s."""
        while not self.done.is_set():
            seen = self.messages
            with suppress(TimeoutError):
                await asyncio.wait_for(self.done.wait(), stall)
            if not self.done.is_set() and self.messages == seen:
                raise Stalled(f"the sink has {len(self.recipients)} of {self.expected} recipients")


class Stalled(Exception):
    """No progress for ``STALL_SECONDS``: the run has failed."""


@asynccontextmanager
async def sink_server(sink: CountingSink) -> AsyncIterator[int]:
    """Serve ``sink`` on a loopback port; yields the port."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(sink), "127.0.0.1", 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()
