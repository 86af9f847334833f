"""Faults while sending (issue 12, items 3 and 11): workers ride out Redis outages by
themselves — Redis flushed mid-batch, or stopped and started again under a running worker. Redis
is a private ``redis-server``, never the shared one."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from api_client import Api
from conftest import eventually, running_worker

from delivery.context import Context
from delivery.jobs.embedded_redis import redis_binary
from delivery.jobs.job_queue import JobQueue
from delivery.sandbox.pages import SmtpSink
from delivery.services.sweep import sweep
from integration.delivery.support import ready


class PrivateRedis:
    """A redis-server of the test's own on a unix socket (the shared one is never flushed or
    stopped), which the test can stop and start again."""

    def __init__(self, folder: Path) -> None:
        self.socket = folder / "redis.sock"
        self.url = f"unix://{self.socket}"
        self.process: subprocess.Popen[bytes] | None = None

    def spawn(self) -> None:
        self.process = subprocess.Popen(
            [redis_binary(), "--port", "0", "--unixsocket", str(self.socket), "--save", ""],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    async def start(self) -> None:
        self.spawn()
        await eventually(lambda: ready(self.socket.exists()))

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture
async def private_redis() -> AsyncIterator[PrivateRedis]:
    """(A short path: unix sockets have a length limit.)"""
    with tempfile.TemporaryDirectory(prefix="sd-", dir="/tmp") as folder:
        redis = PrivateRedis(Path(folder))
        await redis.start()
        yield redis
        redis.stop()


@contextlib.asynccontextmanager
async def queue_on(ctx: Context, url: str) -> AsyncIterator[JobQueue]:
    shared, ctx.queue = ctx.queue, await JobQueue.connect(url, ctx.settings.queue_name)
    try:
        yield ctx.queue
    finally:
        await ctx.queue.close()
        ctx.queue = shared


async def test_redis_flushed_mid_batch_serves_all_once(
    api: Api, smtp_sink: SmtpSink, private_redis: PrivateRedis
) -> None:
    ctx = api.ctx
    n = 12
    async with queue_on(ctx, private_redis.url) as queue:
        created = [await api.new_dispatch(reference=f"flush-{i}") for i in range(n)]
        async with running_worker(ctx):
            await eventually(lambda: ready(len(smtp_sink.messages) >= 3))
            await queue.pool.flushall()
            served: set[str] = set()

            async def all_served() -> bool:
                await sweep(ctx)
                for dispatch in created:
                    if (await api.dispatch(dispatch["id"]))["state"] == "served":
                        served.add(dispatch["id"])
                return len(served) == n

            await eventually(all_served, within=60)
    ids = [m.message_id for m in smtp_sink.messages]
    assert len(ids) == n and len(set(ids)) == n


async def test_the_worker_resumes_by_itself_when_redis_comes_back(
    api: Api, smtp_sink: SmtpSink, private_redis: PrivateRedis
) -> None:
    """Redis stops under a running worker, then starts again: the same worker process picks
    up new work without a restart (arq's own loop would have ended on the first error)."""
    ctx = api.ctx
    async with queue_on(ctx, private_redis.url), running_worker(ctx):
        first = await api.new_dispatch(reference="before-outage")
        await api.until_state(first["id"], "served")
        private_redis.stop()
        await eventually(lambda: ready(ctx.outages.is_down("redis")))
        await asyncio.sleep(1)
        await private_redis.start()
        second = await api.new_dispatch(reference="after-outage")
        await api.until_state(second["id"], "served")
        assert not ctx.outages.is_down("redis")
    assert len(smtp_sink.messages) == 2
