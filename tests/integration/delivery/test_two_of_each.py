"""Two web processes and two workers on one PostgreSQL and one Redis queue (issue 16, item 4).

Real ``songda web`` processes behind one port (a round-robin TCP balancer, tests/tcp_proxy.py,
one backend per new connection) and real ``songda worker`` processes take 100 dispatches: each is
served once, each attempt's e-mail leaves once, every chain verifies, and the identity check's
lock-out counts the failures of both web processes together (it is read from the recorded
events, so neither process keeps a count of its own). ``bench/two_of_each.py`` runs the same with
5,000 dispatches.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Iterator

import aiohttp
import sqlalchemy as sa
from api_client import dispatch_body
from cli_runner import free_port
from conftest import COURT, MINIMAL_PDF, eventually
from helpers import link_path
from tcp_proxy import RoundRobin

from channels.email.standin import SmtpSink
from delivery.clock import SystemClock
from delivery.context import Context
from delivery.domain import Event
from delivery.services.api_keys import create_api_key
from delivery.storage.rows import event_from_row
from delivery.storage.schema import attempts, dispatches, events
from delivery.vocabulary import DispatchState, EventType
from integration.delivery.support import songda_process, stop_processes
from tracking.chain import verify_chain

N = 100
CLIENTS = 10
WRONG_LAST4 = "0000"
RIGHT_LAST4 = "123X"  # of dispatch_body's id_number


def address(i: int) -> str:
    return f"r{i:04d}@example.com"


@contextlib.contextmanager
def two_of_each(ctx: Context, web_ports: list[int]) -> Iterator[None]:
    """A ``songda web`` process on each port and two ``songda worker`` processes, all on the
    test's database, data directory and queue; stopped together at the end."""
    url = ctx.settings.database_url
    processes = [songda_process(ctx, "web", url, SONGDA_PORT=str(port)) for port in web_ports]
    processes += [songda_process(ctx, "worker", url) for _ in range(2)]
    try:
        yield
    finally:
        stop_processes(processes)


async def healthy(port: int) -> bool:
    with contextlib.suppress(aiohttp.ClientError):
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{port}/healthz") as response,
        ):
            return response.status == 200
    return False


async def create_all(session: aiohttp.ClientSession, base: str, auth: dict[str, str]) -> list[str]:
    """Upload one PDF and create N dispatches from CLIENTS concurrent clients; their ids."""
    form = aiohttp.FormData()
    form.add_field("title", "民事起诉状")
    form.add_field("kind", "complaint")
    form.add_field("file", MINIMAL_PDF, filename="doc.pdf", content_type="application/pdf")
    async with session.post(f"{base}/api/v1/documents", data=form, headers=auth) as response:
        assert response.status == 201, await response.text()
        document_id = str((await response.json())["id"])
    indexes = iter(range(N))
    ids: list[str] = []

    async def client() -> None:
        for i in indexes:
            url = f"{base}/api/v1/dispatches"
            body = dispatch_body([document_id], reference=f"two-{i:04d}", email=address(i))
            async with session.post(url, json=body, headers=auth) as response:
                assert response.status == 201, await response.text()
                ids.append(str((await response.json())["id"]))

    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return ids


async def all_served(ctx: Context) -> bool:
    async with ctx.engine.connect() as conn:
        count = await conn.scalar(
            sa.select(sa.func.count())
            .select_from(dispatches)
            .where(dispatches.c.state == DispatchState.SERVED)
        )
    return count == N


async def test_two_web_processes_and_two_workers_serve_each_dispatch_once(
    ctx: Context, smtp_sink: SmtpSink
) -> None:
    _key, token = await create_api_key(ctx.engine, SystemClock(), "two", [COURT])
    auth = {"Authorization": f"Bearer {token}"}
    ports = [free_port(), free_port()]
    with two_of_each(ctx, ports):
        for port in ports:
            await eventually(functools.partial(healthy, port), within=60)
        balancer = RoundRobin([("127.0.0.1", port) for port in ports])
        base = f"http://127.0.0.1:{await balancer.start()}"
        try:
            # A new connection per request, so that the balancer alternates request by request.
            connector = aiohttp.TCPConnector(force_close=True)
            async with aiohttp.ClientSession(connector=connector) as session:
                ids = await create_all(session, base, auth)
                await eventually(lambda: all_served(ctx), within=120)
                await locks_after_five_failures_across_both(session, base, balancer, smtp_sink)
        finally:
            await balancer.close()
    assert min(balancer.served) > N // 4, balancer.served
    assert len(set(ids)) == N

    async with ctx.engine.connect() as conn:
        served = await conn.execute(
            sa.select(events.c.dispatch_id, sa.func.count())
            .where(events.c.type == EventType.DISPATCH_SERVED)
            .group_by(events.c.dispatch_id)
        )
        assert dict(served.all()) == dict.fromkeys(ids, 1)
        attempt_ids = (await conn.scalars(sa.select(attempts.c.id))).all()
        rows = await conn.execute(sa.select(events).order_by(events.c.seq))
        chains: dict[str, list[Event]] = {}
        for row in rows.mappings():
            chains.setdefault(row["dispatch_id"], []).append(event_from_row(row))
    message_ids = [m.message_id for m in smtp_sink.messages]
    assert sorted(message_ids) == sorted(f"<{a.lower()}@court.example>" for a in attempt_ids)
    assert len(attempt_ids) == N
    for dispatch_id in ids:
        assert verify_chain(chains[dispatch_id]).valid, dispatch_id


async def locks_after_five_failures_across_both(
    session: aiohttp.ClientSession, base: str, balancer: RoundRobin, smtp_sink: SmtpSink
) -> None:
    """Wrong answers alternate between the two web processes; the link locks at the fifth, as
    with one process, and then refuses even the right answer."""
    first = next(m for m in smtp_sink.messages if address(0) in m.to)
    path = link_path(first.text)
    before = list(balancer.served)
    statuses = []
    for answer in [WRONG_LAST4] * 5 + [RIGHT_LAST4]:
        async with session.post(f"{base}{path}/verify", data={"last4": answer}) as response:
            statuses.append(response.status)
    assert statuses == [401, 401, 401, 401, 429, 429]
    assert [after - b for after, b in zip(balancer.served, before, strict=True)] == [3, 3]
