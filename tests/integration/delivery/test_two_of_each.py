"""Two web processes and two workers on one PostgreSQL and one Redis queue (issue 16, item 4).

Real ``songda web`` processes behind one port (a round-robin TCP balancer, tests/tcp_proxy.py,
one backend per new connection) and real ``songda worker`` processes take 100 dispatches: each is
served once, each attempt's e-mail leaves once, every chain verifies, and both workers sent a
share (each attempt names the worker that claimed it, each worker's row its process id).

Then every limit and lock-out a web process applies is reached with tries that alternate between
the two processes, after exactly as many tries as one process would allow: the per-address
limits on public pages and on notice PDFs, ``/check``'s guessing limit, the login throttle and
the daily cap on one-time codes (all counted in Redis), and the lock-outs of the recipient link's
and the address confirmation form's identity checks and the minute between two confirmation
requests (all read from the recorded events). A count kept by each process would allow twice as
many. ``bench/two_of_each.py`` runs the same dispatches at 5,000.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import aiohttp
import sqlalchemy as sa
from api_client import dispatch_body
from cli_runner import free_port
from conftest import COURT, MINIMAL_PDF, eventually
from helpers import CONFIRMATION_LINK_RE, form_csrf, link_path, staff_account
from tcp_proxy import RoundRobin

from channels.email.standin import SmtpSink
from delivery.api.staff.auth import LOGIN_CSRF_COOKIE
from delivery.clock import SystemClock
from delivery.context import Context
from delivery.domain import Event
from delivery.ids import new_id
from delivery.services.api_keys import create_api_key
from delivery.services.login_throttle import PAIR
from delivery.storage.rows import event_from_row
from delivery.storage.schema import attempts, dispatches, events, workers
from delivery.vocabulary import DispatchState, EventType
from integration.delivery.support import songda_process, stop_processes
from tracking.chain import verify_chain

N = 100
CLIENTS = 10
WRONG_LAST4 = "0000"
RIGHT_LAST4 = "123X"  # of dispatch_body's id_number
# Small limits, so that each is reached in a few tries.
PUBLIC_PER_MINUTE = 10
PDFS_PER_MINUTE = 3
CHECK_TRIES = 3
CODES_PER_DAY = 3
PHONE = "+8613800138000"
OPEN_ADDRESS = "open@example.com"


def address(i: int) -> str:
    return f"r{i:04d}@example.com"


def web_settings() -> dict[str, str]:
    """The web processes' limits, and an SMS provider for one-time codes that is not there:
    each code request then counts against the link's codes of the day and sends nothing, so the
    one-a-minute rule (which follows the codes that went out) never answers first. Behind the
    balancer the processes trust ``X-Forwarded-For``, so that each check below comes from an
    address of its own and no check spends another's count."""
    return {
        "SONGDA_TRUST_X_FORWARDED_FOR": "true",
        "SONGDA_PUBLIC_REQUESTS_PER_MINUTE": str(PUBLIC_PER_MINUTE),
        "SONGDA_PUBLIC_PDFS_PER_MINUTE": str(PDFS_PER_MINUTE),
        "SONGDA_CHECK_TRIES": str(CHECK_TRIES),
        "SONGDA_OTP_SENDS_PER_DAY": str(CODES_PER_DAY),
        "SONGDA_TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "SONGDA_TWILIO_AUTH_TOKEN": "test-token",
        "SONGDA_TWILIO_FROM": "+15005550006",
        "SONGDA_TWILIO_API_BASE_URL": f"http://127.0.0.1:{free_port()}",
    }


@contextlib.contextmanager
def two_of_each(ctx: Context, web_ports: list[int]) -> Iterator[list[int]]:
    """A ``songda web`` process on each port and two ``songda worker`` processes, all on the
    test's database, data directory and queue; the workers' process ids. Stopped together at
    the end."""
    url = ctx.settings.database_url
    web = web_settings()
    processes = [
        songda_process(ctx, "web", url, SONGDA_PORT=str(port), **web) for port in web_ports
    ]
    processes += [songda_process(ctx, "worker", url) for _ in range(2)]
    try:
        yield [p.pid for p in processes[len(web_ports) :]]
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


async def running_workers(ctx: Context, pids: list[int]) -> dict[str, int]:
    """Worker id → process id, once both worker processes have written their heartbeat."""
    async with ctx.engine.connect() as conn:
        rows = (await conn.execute(sa.select(workers.c.id, workers.c.pid))).all()
    found = {str(worker_id): int(pid) for worker_id, pid in rows}
    return found if sorted(found.values()) == sorted(pids) else {}


class Answer(NamedTuple):
    status: int
    retry_after: str | None
    text: str


@dataclass
class Balanced:
    """Requests through the balancer, each on a new connection, so that one after another they
    alternate between the two web processes."""

    session: aiohttp.ClientSession
    base: str
    balancer: RoundRobin
    auth: dict[str, str]

    async def request(self, method: str, path: str, client: str, **kwargs: Any) -> Answer:
        """One request from the client address ``client``."""
        headers = {"X-Forwarded-For": client, **kwargs.pop("headers", {})}
        async with self.session.request(
            method, self.base + path, headers=headers, allow_redirects=False, **kwargs
        ) as response:
            retry_after = response.headers.get("Retry-After")
            return Answer(response.status, retry_after, await response.text())

    @contextlib.contextmanager
    def alternating(self) -> Iterator[None]:
        """The requests sent inside went to both processes in turn."""
        before = list(self.balancer.served)
        yield
        split = [after - b for after, b in zip(self.balancer.served, before, strict=True)]
        assert max(split) - min(split) <= 1 and min(split) > 0, split

    async def answers(
        self, tries: int, method: str, path: str, client: str, **kwargs: Any
    ) -> list[Answer]:
        """``tries`` requests one after another, to both processes in turn; a limit's 429 says
        when to come back."""
        with self.alternating():
            found = [await self.request(method, path, client, **kwargs) for _ in range(tries)]
        assert all(int(a.retry_after or 0) > 0 for a in found if a.status == 429)
        return found

    async def statuses(
        self, tries: int, method: str, path: str, client: str, **kwargs: Any
    ) -> list[int]:
        return [a.status for a in await self.answers(tries, method, path, client, **kwargs)]

    async def upload(self) -> str:
        """A PDF document's id."""
        form = aiohttp.FormData()
        form.add_field("title", "民事起诉状")
        form.add_field("kind", "complaint")
        form.add_field("file", MINIMAL_PDF, filename="doc.pdf", content_type="application/pdf")
        url = f"{self.base}/api/v1/documents"
        async with self.session.post(url, data=form, headers=self.auth) as response:
            assert response.status == 201, await response.text()
            return str((await response.json())["id"])

    async def create(self, body: dict[str, Any]) -> str:
        """A new dispatch's id."""
        url = f"{self.base}/api/v1/dispatches"
        async with self.session.post(url, json=body, headers=self.auth) as response:
            assert response.status == 201, await response.text()
            return str((await response.json())["id"])


async def create_all(web: Balanced) -> list[str]:
    """N dispatches from CLIENTS concurrent clients; their ids."""
    document_id = await web.upload()
    indexes = iter(range(N))
    ids: list[str] = []

    async def client() -> None:
        for i in indexes:
            body = dispatch_body([document_id], reference=f"two-{i:04d}", email=address(i))
            ids.append(await web.create(body))

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
    ports = [free_port(), free_port()]
    with two_of_each(ctx, ports) as worker_pids:
        for port in ports:
            await eventually(functools.partial(healthy, port), within=60)
        worker_ids = await eventually(lambda: running_workers(ctx, worker_pids), within=60)
        balancer = RoundRobin([("127.0.0.1", port) for port in ports])
        base = f"http://127.0.0.1:{await balancer.start()}"
        try:
            # A new connection per request, so that the balancer alternates request by request.
            connector = aiohttp.TCPConnector(force_close=True)
            async with aiohttp.ClientSession(connector=connector) as session:
                web = Balanced(session, base, balancer, {"Authorization": f"Bearer {token}"})
                ids = await create_all(web)
                await eventually(lambda: all_served(ctx), within=120)
                await every_limit_is_shared(ctx, web, smtp_sink)
        finally:
            await balancer.close()
    assert min(balancer.served) > N // 4, balancer.served
    assert len(set(ids)) == N

    async with ctx.engine.connect() as conn:
        served = await conn.execute(
            sa.select(events.c.dispatch_id, sa.func.count())
            .where(events.c.type == EventType.DISPATCH_SERVED, events.c.dispatch_id.in_(ids))
            .group_by(events.c.dispatch_id)
        )
        assert dict(served.all()) == dict.fromkeys(ids, 1)
        claimed = await conn.execute(
            sa.select(attempts.c.id, attempts.c.claimed_by).where(attempts.c.dispatch_id.in_(ids))
        )
        claims = dict(claimed.all())  # attempt → the worker that sent it
        rows = await conn.execute(
            sa.select(events).where(events.c.dispatch_id.in_(ids)).order_by(events.c.seq)
        )
        chains: dict[str, list[Event]] = {}
        for row in rows.mappings():
            chains.setdefault(row["dispatch_id"], []).append(event_from_row(row))
    sent = Counter(m.message_id for m in smtp_sink.messages)
    assert len(claims) == N
    assert {sent[f"<{a.lower()}@court.example>"] for a in claims} == {1}
    assert max(sent.values()) == 1  # no e-mail of the checks below went twice either
    for dispatch_id in ids:
        assert verify_chain(chains[dispatch_id]).valid, dispatch_id
    # Both workers took jobs: each attempt names the worker that sent it.
    shares = Counter(worker_ids.get(worker) for worker in claims.values())
    assert set(shares) == set(worker_pids), shares
    assert min(shares.values()) >= N // 10, shares


async def every_limit_is_shared(ctx: Context, web: Balanced, smtp_sink: SmtpSink) -> None:
    """Each limit is reached after the tries one process would allow, with the tries
    alternating between the two processes (each check from its own client address)."""
    await public_pages_limit(web)
    await notice_pdfs_limit(web)
    await check_guessing_limit(web)
    await login_throttle(ctx, web)
    await identity_check_lock_out(web, smtp_sink)
    dispatch_id, link = await open_dispatch_with_a_phone(web, smtp_sink)
    await one_time_codes_a_day(web, link)
    await confirmation_lock_out(web, smtp_sink, dispatch_id)


async def public_pages_limit(web: Balanced) -> None:
    statuses = await web.statuses(PUBLIC_PER_MINUTE + 1, "GET", "/notices", "198.51.100.1")
    assert statuses == [200] * PUBLIC_PER_MINUTE + [429]


async def notice_pdfs_limit(web: Balanced) -> None:
    """Counted before the notice is looked up: a PDF that does not exist counts too."""
    path = f"/notices/{new_id()}.pdf"
    statuses = await web.statuses(PDFS_PER_MINUTE + 1, "GET", path, "198.51.100.2")
    assert statuses == [404] * PDFS_PER_MINUTE + [429]


async def check_guessing_limit(web: Balanced) -> None:
    """``POST /check``: notice codes looked up with a guess of the identity number."""
    form = {"code": "ABCD-EFGH", "last4": WRONG_LAST4}
    statuses = await web.statuses(CHECK_TRIES + 1, "POST", "/check", "198.51.100.3", data=form)
    assert statuses == [200] * CHECK_TRIES + [429]


async def login_throttle(ctx: Context, web: Balanced) -> None:
    """Wrong passwords for one username from one address: after the pair's free tries each
    failure makes the address wait (1 s, then 2 s, 4 s …). Shared, the try after the free ones
    comes within that wait and is refused — unless each try took longer than the doubling
    waits, so the refusal comes by the third try after them at the latest. Counted by each
    process, the free tries would be twice as many: nothing could be refused before the
    seventh try."""
    await staff_account(ctx, username="judge")
    client = "198.51.100.4"
    token = form_csrf((await web.request("GET", "/login", client)).text)
    cookie = {"Cookie": f"{LOGIN_CSRF_COOKIE}={token}"}
    answers: list[Answer] = []
    with web.alternating():
        while len(answers) < 2 * PAIR.free and (not answers or answers[-1].status != 429):
            form = {"csrf_token": token, "username": "judge", "password": f"wrong {len(answers)}"}
            answers.append(await web.request("POST", "/login", client, data=form, headers=cookie))
    statuses = [a.status for a in answers]
    assert statuses[: PAIR.free] == [200] * PAIR.free, statuses
    assert statuses[-1] == 429 and int(answers[-1].retry_after or 0) > 0, statuses


async def identity_check_lock_out(web: Balanced, smtp_sink: SmtpSink) -> None:
    """Wrong answers on a recipient link: it locks at the fifth, as with one process, and then
    refuses even the right answer."""
    first = next(m for m in smtp_sink.messages if address(0) in m.to)
    path = f"{link_path(first.text)}/verify"
    with web.alternating():
        statuses = [
            (await web.request("POST", path, "198.51.100.5", data={"last4": answer})).status
            for answer in [WRONG_LAST4] * 5 + [RIGHT_LAST4]
        ]
    assert statuses == [401, 401, 401, 401, 429, 429]


async def confirmation_lock_out(web: Balanced, smtp_sink: SmtpSink, dispatch_id: str) -> None:
    """A clerk asks for the address confirmation form; asking again within the minute is
    refused by the other process. The form's identity check locks at the fifth wrong answer."""
    action = f"/api/v1/dispatches/{dispatch_id}/actions"
    body = {"action": "request_address_confirmation", "note": "请确认送达地址"}
    first, again = await web.answers(2, "POST", action, "198.51.100.6", json=body, headers=web.auth)
    assert first.status == 200, first.text
    assert again.status == 409 and "less than a minute" in again.text, again
    found = [CONFIRMATION_LINK_RE.search(m.text) for m in smtp_sink.messages]
    [path] = [f"{m.group(1)}/verify" for m in found if m is not None]
    with web.alternating():
        statuses = [
            (await web.request("POST", path, "198.51.100.7", data={"last4": answer})).status
            for answer in [WRONG_LAST4] * 5 + [RIGHT_LAST4]
        ]
    assert statuses == [401, 401, 401, 401, 429, 429]


async def open_dispatch_with_a_phone(web: Balanced, smtp_sink: SmtpSink) -> tuple[str, str]:
    """A dispatch still open (its e-mail address found by the court: served only once read)
    whose recipient has a mobile number too; its id and the path of its e-mail's link."""
    body = dispatch_body(
        [await web.upload()], reference="two-open", source="court_found", email=OPEN_ADDRESS
    )
    body["recipient"]["phones"] = [{"number": PHONE, "source": "court_found"}]
    dispatch_id = await web.create(body)

    async def link() -> str | None:
        found = next((m for m in smtp_sink.messages if OPEN_ADDRESS in m.to), None)
        return link_path(found.text) if found is not None else None

    return dispatch_id, await eventually(link, within=60)


async def one_time_codes_a_day(web: Balanced, link: str) -> None:
    """The link's page may have a one-time code sent by SMS; it has CODES_PER_DAY code
    requests a day (none reaches the SMS provider here: 409), then 429."""
    statuses = await web.statuses(CODES_PER_DAY + 1, "POST", f"{link}/code", "198.51.100.8")
    assert statuses == [409] * CODES_PER_DAY + [429]
