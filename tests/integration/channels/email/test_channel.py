"""The e-mail channel against real SMTP peers on loopback: how each reply is classified."""

from __future__ import annotations

import asyncio
import dataclasses
import email
import email.policy
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP
from helpers import service_message

from channels.email.adapter import EmailChannel
from delivery.channel_api import SendOutcome
from delivery.config import SmtpSettings

MESSAGE = service_message("zhang.san@example.com")
SETTINGS = SmtpSettings(
    host="127.0.0.1",
    port=0,
    tls="none",
    username=None,
    password=None,
    sender="service@court.example",
    pool_size=2,
    timeout=5.0,
)


class Peer:
    """An SMTP server that refuses recipients or data with a chosen reply, or accepts."""

    def __init__(self, rcpt_reply: str | None = None) -> None:
        self.rcpt_reply = rcpt_reply
        self.accepted: list[bytes] = []
        self.connections = 0

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.accepted.append(envelope.content)
        return "250 2.0.0 queued as 42"

    def factory(self) -> SMTP:
        self.connections += 1
        return SMTP(self)


@pytest.fixture
async def serve() -> AsyncIterator[Any]:
    servers: list[asyncio.Server] = []

    async def start(peer: Peer) -> EmailChannel:
        server = await asyncio.get_running_loop().create_server(peer.factory, "127.0.0.1", 0)
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        return EmailChannel(dataclasses.replace(SETTINGS, port=port))

    yield start
    for server in servers:
        server.close()


async def test_acceptance_carries_the_message_id_and_reuses_connections(serve: Any) -> None:
    peer = Peer()
    channel = await serve(peer)
    results = [await channel.send(MESSAGE) for _ in range(3)]
    await channel.close()
    assert {r.outcome for r in results} == {SendOutcome.ACCEPTED}
    assert results[0].provider_ref == "<01arz3ndektsv4rrffq69g5fav@court.example>"
    assert "queued as 42" in results[0].detail
    assert len(peer.accepted) == 3
    assert peer.connections == 1
    parsed = email.message_from_bytes(peer.accepted[0], policy=email.policy.default)
    text = parsed.get_body(preferencelist=("plain",)).get_content()
    assert "民事起诉状" in text and "http://songda.test/r/token" in text
    assert parsed["Message-ID"] == results[0].provider_ref


@pytest.mark.parametrize(
    ("reply", "outcome"),
    [
        ("550 5.1.1 no such user", SendOutcome.PERMANENT),
        ("450 4.2.1 mailbox busy", SendOutcome.TRANSIENT),
    ],
)
async def test_recipient_refusals_are_classified_by_code(
    serve: Any, reply: str, outcome: SendOutcome
) -> None:
    channel = await serve(Peer(rcpt_reply=reply))
    result = await channel.send(MESSAGE)
    await channel.close()
    assert result.outcome == outcome
    assert result.detail == reply


async def test_a_relay_that_refuses_connections_is_unavailable_not_transient() -> None:
    """A relay outage must not use up the attempt's tries (it would fail and escalate the
    dispatch to post because of the court's own relay)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    channel = EmailChannel(dataclasses.replace(SETTINGS, port=closed_port))
    result = await channel.send(MESSAGE)
    assert result.outcome == SendOutcome.UNAVAILABLE
    assert "Connect" in result.detail or "refused" in result.detail.lower()
