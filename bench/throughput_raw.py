"""The raw baseline: the same rendered messages sent with plain aiosmtplib, no Songda around.

The sender is a child process, as Songda's worker is, so both compete with this process (the
sink) for the cores alike."""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from typing import Any

import aiosmtplib
from throughput_cases import CASE_NUMBER, DOCUMENT_TITLE, RECIPIENT, address
from throughput_service import COURT, SECRET_KEY, SENDER
from throughput_sink import STALL_SECONDS, CountingSink, sink_server

from channels.email.adapter import build_email
from delivery.channel_api import ServiceMessage
from delivery.config import SmtpSettings
from delivery.ids import new_id
from tracking.links import LinkClaims, issue_token

TIME_ZONE = "Asia/Shanghai"


@dataclass(frozen=True)
class RawResult:
    rate: float
    render_ms: float
    sender_cpu: float
    sink_cpu: float


def smtp_settings(port: int, pool_size: int) -> SmtpSettings:
    return SmtpSettings(
        host="127.0.0.1",
        port=port,
        tls="none",
        username=None,
        password=None,
        sender=SENDER,
        pool_size=pool_size,
        timeout=30.0,
    )


def sample_message(i: int, now: datetime) -> ServiceMessage:
    """A message shaped like the ones ``delivery.services.sending`` builds."""
    attempt_id = new_id()
    claims = LinkClaims(attempt_id, now, now + timedelta(days=30))
    return ServiceMessage(
        attempt_id=attempt_id,
        dispatch_id=new_id(),
        address=address(i),
        locale="zh-CN",
        court=COURT,
        case_number=CASE_NUMBER,
        recipient_name=RECIPIENT,
        document_titles=(DOCUMENT_TITLE,),
        link_url=f"http://127.0.0.1:8080/r/{issue_token(SECRET_KEY, claims)}",
        link_expires_at=claims.expires_at,
        time_zone=TIME_ZONE,
        composed_at=now,
        notice_code="ABCD-2345",
        check_url="http://127.0.0.1:8080/check",
    )


def raw_sender(port: int, n: int, connections: int, pipe: Connection) -> None:
    """Child process: render N messages, connect, report ready, send on "go"."""
    asyncio.run(_raw_send(port, n, connections, pipe))


async def _raw_send(port: int, n: int, connections: int, pipe: Connection) -> None:
    smtp = smtp_settings(port, connections)
    now = datetime.now(UTC)
    started = time.perf_counter()
    emails = [build_email(sample_message(i, now), smtp) for i in range(n)]
    render_seconds = time.perf_counter() - started
    clients = [aiosmtplib.SMTP(hostname="127.0.0.1", port=port) for _ in range(connections)]
    for client in clients:
        await client.connect()
    pipe.send(render_seconds)
    await asyncio.to_thread(pipe.recv)
    cpu_started = time.process_time()
    pending = iter(emails)

    async def drain(client: aiosmtplib.SMTP) -> None:
        for email in pending:
            await client.send_message(email)

    await asyncio.gather(*(drain(c) for c in clients))
    pipe.send(time.process_time() - cpu_started)
    for client in clients:
        await client.quit()


async def _receive(pipe: Connection, seconds: float = 120) -> Any:
    if not await asyncio.to_thread(pipe.poll, seconds):
        raise TimeoutError("the raw sender did not answer")
    return pipe.recv()


async def measure_raw(n: int, connections: int) -> RawResult:
    """Plain aiosmtplib from a child process, over ``connections`` reused connections."""
    spawn = multiprocessing.get_context("spawn")
    ours, theirs = spawn.Pipe()
    sink = CountingSink(n)
    async with sink_server(sink) as port:
        proc = spawn.Process(target=raw_sender, args=(port, n, connections, theirs), daemon=True)
        proc.start()
        try:
            render_seconds = await _receive(ours)
            started, sink_cpu = time.perf_counter(), time.process_time()
            ours.send("go")
            await sink.wait(STALL_SECONDS)
            sink_cpu = time.process_time() - sink_cpu
            sender_cpu = await _receive(ours)
        finally:
            await asyncio.to_thread(proc.join, 10)
            if proc.is_alive():
                proc.terminate()
    if sink.messages != n:
        raise RuntimeError(f"raw run: the sink received {sink.messages} of {n} messages")
    elapsed = sink.completed_at - started
    return RawResult(
        n / elapsed, render_seconds / n * 1000, sender_cpu / elapsed, sink_cpu / elapsed
    )
