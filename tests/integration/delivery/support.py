"""Populations and dispatches other test modules build on: the reports' known population (also
read by the service-outcomes and browser tests), a dispatch sent by post (signed proofs,
hostile input), and for the fault tests a real ``songda worker`` process and a hook into the
SMTP sink."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import command
from api_client import Api
from cli_runner import cli_env
from conftest import COURT, OTHER_COURT, settled
from helpers import staff_account
from sqlalchemy.ext.asyncio import AsyncEngine

from delivery.clock import ManualClock, rfc3339
from delivery.context import Context
from delivery.domain import DispatchState
from delivery.sandbox.pages import SmtpSink
from delivery.services.api_keys import create_api_key
from delivery.services.cancel import cancel_dispatch
from delivery.services.progress import start_attempt
from delivery.services.reversal import completing_event, unserve
from delivery.services.transactions import dispatch_transaction
from delivery.storage.migrate import alembic_config
from delivery.storage.unit_of_work import DispatchTransaction

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(month: int, day: int, hour: float, year: int = 2026) -> datetime:
    return datetime(year, month, day, tzinfo=SHANGHAI) + timedelta(hours=hour)


@dataclass
class Population:
    api: Api
    ctx: Context
    clock: ManualClock
    clerks: dict[str, str]  # "c1"/"c2" → staff id

    async def create(self, court: str, at: datetime, clerk: str | None = None) -> tuple[str, str]:
        """A dispatch created through the API at ``at``, owned by ``clerk`` ("c1"/"c2", by
        username) or by whoever ownership picks: (its id, its first attempt's id)."""
        self.clock.set(at)
        body = await self.api.new_dispatch_body(court=court, reference=f"ref-{at.isoformat()}")
        if clerk is not None:
            body["clerk"] = USERNAMES[clerk]
        created = await self.api.create(body)
        return created["id"], created["attempts"][0]["id"]

    async def act(
        self, dispatch_id: str, at: datetime, change: Callable[[DispatchTransaction], Any]
    ) -> Any:
        self.clock.set(at)
        async with dispatch_transaction(self.ctx.engine, self.clock, dispatch_id) as tx:
            result = change(tx)
            if isinstance(result, Awaitable):
                result = await result
        return result

    async def escalate(self, dispatch_id: str, at: datetime, step: int, channel: str) -> str:
        """The ladder starts ``step`` with one attempt on ``channel``; the attempt's id."""

        def start(tx: DispatchTransaction) -> str:
            tx.dispatch.step_index = step
            tx.dispatch.step_started_at = tx.now
            tx.record(
                "step_started",
                source="escalation",
                data={"step": step, "name": channel, "attempts": 1},
            )
            return start_attempt(self.ctx, tx, step, channel, None, source="escalation").id

        return str(await self.act(dispatch_id, at, start))

    async def attempt(self, dispatch_id: str, at: datetime, step: int, channel: str) -> str:
        def start(tx: DispatchTransaction) -> str:
            return start_attempt(self.ctx, tx, step, channel, None, source="escalation").id

        return str(await self.act(dispatch_id, at, start))

    async def serve(
        self, dispatch_id: str, attempt_id: str, channel: str, served_at: datetime
    ) -> None:
        """Served at ``served_at`` (provider time), recorded ten minutes later."""

        def complete(tx: DispatchTransaction) -> None:
            tx.dispatch.served_at = served_at
            tx.dispatch.service_date = served_at.astimezone(SHANGHAI).date()
            tx.dispatch.served_by_channel = channel
            tx.dispatch.legal_basis = "OLR-31"
            tx.change_dispatch(
                DispatchState.SERVED,
                "dispatch_served",
                source="escalation",
                data={
                    "legal_basis": "OLR-31",
                    "served_at": rfc3339(served_at),
                    "service_date": tx.dispatch.service_date.isoformat(),
                    "channel": channel,
                    "attempt_id": attempt_id,
                },
            )

        await self.act(dispatch_id, served_at + timedelta(minutes=10), complete)

    async def unserve(self, dispatch_id: str, at: datetime) -> None:
        async def reverse(tx: DispatchTransaction) -> None:
            served = await completing_event(tx)
            assert served is not None
            unserve(tx, served, reason="bounced", source="api", actor="test", data={})

        await self.act(dispatch_id, at, reverse)

    async def fail(self, dispatch_id: str, at: datetime) -> None:
        def fail(tx: DispatchTransaction) -> None:
            tx.change_dispatch(
                DispatchState.FAILED, "dispatch_failed", source="escalation", reason="exhausted"
            )

        await self.act(dispatch_id, at, fail)

    async def cancel(self, dispatch_id: str, at: datetime) -> None:
        self.clock.set(at)
        await cancel_dispatch(self.ctx, dispatch_id, actor="api_key:test", reason=None)

    async def reassign(self, dispatch_id: str, clerk: str) -> None:
        response = await self.api.client.post(
            f"/api/v1/dispatches/{dispatch_id}/actions",
            json={"action": "reassign_owner", "note": "交接", "owner_id": self.clerks[clerk]},
            headers=self.api.auth,
        )
        assert response.status == 200, await response.text()


USERNAMES = {"c1": "zhao", "c2": "qian"}


async def build_population(api: Api, ctx: Context, clock: ManualClock) -> dict[str, str]:
    """The dispatches of the tables below; returns the clerks' ids by "c1"/"c2"."""
    p = Population(api, ctx, clock, {})
    # Created while the courts have no clerk: owned by no one.
    # d6 A: post, then failed (200 h after creation)
    d6, _ = await p.create(COURT, local(2, 3, 9))
    await p.escalate(d6, local(2, 4, 9), 1, "postal")
    await p.fail(d6, local(2, 11, 17))
    # d14 A: failed on the e-mail step
    d14, _ = await p.create(COURT, local(3, 20, 9))
    await p.fail(d14, local(3, 25, 9))

    for name, display in (("c1", "赵书记员"), ("c2", "钱书记员")):
        user, _ = await staff_account(
            ctx, courts=(COURT, OTHER_COURT), username=USERNAMES[name], display_name=display
        )
        p.clerks[name] = user.id
    # d1 A: e-mail, first step, 2 h
    d1, e1 = await p.create(COURT, local(1, 5, 9), "c1")
    await p.serve(d1, e1, "email", local(1, 5, 11))
    # d2 A: SMS on the first step, 5 h
    d2, _ = await p.create(COURT, local(1, 6, 10), "c1")
    s2 = await p.attempt(d2, local(1, 6, 10.5), 0, "sms")
    await p.serve(d2, s2, "sms", local(1, 6, 15))
    # d3 A: post on step 1, 72 h; handed over from c1 to c2
    d3, _ = await p.create(COURT, local(1, 7, 9), "c1")
    await p.reassign(d3, "c2")
    p3 = await p.escalate(d3, local(1, 8, 9), 1, "postal")
    await p.serve(d3, p3, "postal", local(1, 10, 9))
    # d4 B: post, then in person on step 2, 120 h
    d4, _ = await p.create(OTHER_COURT, local(1, 20, 9), "c2")
    await p.escalate(d4, local(1, 21, 9), 1, "postal")
    v4 = await p.escalate(d4, local(1, 23, 9), 2, "in_person")
    await p.serve(d4, v4, "in_person", local(1, 25, 9))
    # d5 B: public notice on step 3, 240 h
    d5, _ = await p.create(OTHER_COURT, local(2, 2, 9), "c1")
    n5 = await p.escalate(d5, local(2, 3, 9), 3, "public_notice")
    await p.serve(d5, n5, "public_notice", local(2, 12, 9))
    # d7 B: cancelled while on e-mail
    d7, _ = await p.create(OTHER_COURT, local(2, 10, 9), "c1")
    await p.cancel(d7, local(2, 11, 9))
    # d8 A: served by e-mail, reversed (bounce), then served by post: 100 h
    d8, e8 = await p.create(COURT, local(2, 16, 9), "c2")
    await p.serve(d8, e8, "email", local(2, 16, 10))
    await p.unserve(d8, local(2, 17, 15))
    p8 = await p.escalate(d8, local(2, 17, 16), 1, "postal")
    await p.serve(d8, p8, "postal", local(2, 20, 13))
    # d9 A: served by e-mail, then reversed: back in progress, not counted
    d9, e9 = await p.create(COURT, local(3, 2, 9), "c1")
    await p.serve(d9, e9, "email", local(3, 2, 12))
    await p.unserve(d9, local(3, 4, 9))
    # d10 A: created on New Year's Eve, served at 00:30 on 1 January (Shanghai): 1.5 h
    d10, e10 = await p.create(COURT, local(12, 31, 23, year=2025), "c2")
    await p.serve(d10, e10, "email", local(1, 1, 0.5))
    # d11 A: failed in December: before the period
    d11, _ = await p.create(COURT, local(12, 20, 9, year=2025), "c1")
    await p.fail(d11, local(12, 28, 9, year=2025))
    # d12 B: e-mail, 4 h
    d12, e12 = await p.create(OTHER_COURT, local(3, 16, 9), "c2")
    await p.serve(d12, e12, "email", local(3, 16, 13))
    # d13 A: served at 00:30 on 1 April (Shanghai): after the period
    d13, e13 = await p.create(COURT, local(3, 30, 9), "c1")
    await p.serve(d13, e13, "email", local(4, 1, 0.5))
    # d15 A: served at 23:50 on 31 December, recorded after midnight: before the period
    d15, e15 = await p.create(COURT, local(12, 30, 9, year=2025), "c1")
    await p.serve(d15, e15, "email", local(12, 31, 23 + 5 / 6, year=2025))
    made = [d1, d2, d3, d4, d5, d6, d7, d8, d9, d10, d11, d12, d13, d14, d15]
    assert len(set(made)) == 15
    return p.clerks


POSTAL = {"lines": "杭州市西湖区文三路1号", "postcode": "310012", "source": "recipient_confirmed"}


# The dispatch is created on 2026-11-23 (court time); the proof is recorded on 2026-11-29
# but the recipient wrote 2026-11-25 on it.
RECORDED_AFTER = timedelta(days=6)


async def postal_dispatch(api: Api, locale: str = "zh-CN") -> tuple[str, str]:
    """A dispatch whose ladder sent court express mail: (dispatch id, postal attempt id)."""
    body = await api.new_dispatch_body(consent=False)
    body["recipient"]["postal_addresses"] = [POSTAL]
    body["locale"] = locale
    created = await api.create(body)
    [post] = created["attempts"]
    await settled(api.ctx)
    api.ctx.clock.advance(RECORDED_AFTER)  # type: ignore[attr-defined]
    return created["id"], post["id"]


def before_each_message(sink: SmtpSink, hook: Callable[[], Any]) -> None:
    """Run ``hook`` when the sink has the whole message, before it answers 250."""
    original = sink.handle_DATA

    async def handle(server: Any, session: Any, envelope: Any) -> str:
        hook()
        return await original(server, session, envelope)

    sink.handle_DATA = handle  # type: ignore[method-assign]


def songda_process(
    ctx: Context, command: str, database_url: str, **extra: str
) -> subprocess.Popen[bytes]:
    """A real ``songda <command>`` process (``worker``, ``web``) on the test's queue, data
    directory and SMTP sink; ``extra`` settings on top (``SONGDA_PORT`` for ``web``)."""
    env = cli_env(
        ctx,
        SONGDA_DATABASE_URL=database_url,
        SONGDA_REDIS_URL=ctx.settings.redis_url or "",
        SONGDA_QUEUE_NAME=ctx.settings.queue_name,
        SONGDA_SMTP_PORT=str(ctx.settings.smtp.port),
        SONGDA_SMTP_TIMEOUT="5",
        SONGDA_PUBLIC_BASE_URL=ctx.settings.public_base_url,
        **extra,
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SONGDA_")}
    return subprocess.Popen(
        [sys.executable, "-m", "delivery.cli.main", command],
        env={**clean, **env},
        stdout=subprocess.DEVNULL,
        stderr=open(os.environ.get("FAULTS_LOG", os.devnull), "ab"),
    )


def stop_processes(processes: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM to all at once, then wait for each (SIGKILL after 20 s), so that several
    processes shut down side by side rather than one after the other."""
    running = [p for p in processes if p.poll() is None]
    for process in running:
        process.send_signal(signal.SIGTERM)
    for process in running:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def songda_worker(ctx: Context, database_url: str) -> Iterator[subprocess.Popen[bytes]]:
    """A real ``songda worker`` process on the test's queue, data directory and SMTP sink."""
    process = songda_process(ctx, "worker", database_url)
    try:
        yield process
    finally:
        stop_processes([process])


async def attempt_sent_events(api: Api, dispatch_id: str) -> list[Any]:
    return [e for e in await api.events(dispatch_id) if e.type == "attempt_sent"]


async def ready(value: Any) -> Any:
    return value


async def keyed_population(api: Api, ctx: Context, clock: ManualClock) -> None:
    """:func:`build_population` through a new API key for both courts."""
    _key, token = await create_api_key(ctx.engine, ctx.clock, "both", [COURT, OTHER_COURT])
    await build_population(Api(api.client, {"Authorization": f"Bearer {token}"}, ctx), ctx, clock)


async def downgrade_to(engine: AsyncEngine, revision: str) -> None:
    """Migrate the database down to ``revision`` (a migration test then upgrades it again)."""
    async with engine.begin() as conn:
        await conn.run_sync(lambda c: command.downgrade(alembic_config(c), revision))


async def column_names(engine: AsyncEngine, table: str) -> set[str]:
    async with engine.connect() as conn:
        return await conn.run_sync(
            lambda c: {col["name"] for col in sa.inspect(c).get_columns(table)}
        )
