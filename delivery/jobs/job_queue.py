"""The job queue, kept behind this module so that arq (in maintenance mode) could be swapped.

Job ids are deterministic and name the step they perform (the dispatch's event count, the
attempt's try number), so the same work enqueued twice runs once, while the next step of the same
dispatch is never mistaken for a duplicate. Jobs keep no result: the database is the record.

Work is split over two queues (:class:`QueueKind`), each drained by its own arq worker with its
own bound on concurrent jobs: the send path (advances, sends, webhooks, tracking polls) on the
configured queue name, and certificates with their timestamps on ``<name>:render``. A backlog of
renders then waits for the renderers without holding the slots a new dispatch's e-mail needs
(docs/decisions/0025).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from datetime import datetime
from enum import StrEnum
from typing import cast

from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.constants import in_progress_key_prefix, job_key_prefix, result_key_prefix
from arq.jobs import serialize_job
from arq.utils import timestamp_ms
from redis.asyncio import BlockingConnectionPool
from redis.exceptions import RedisError

from delivery.storage.followups import FollowUps

log = logging.getLogger(__name__)
REDIS_TIMEOUT_SECONDS = 3.0  # any command Songda sends is answered in milliseconds
# Connections one process may hold at once: a send worker's jobs (SONGDA_WORKER_CONCURRENCY),
# its renders, its polls and its web requests' limits each hold one for a command at a time.
MAX_REDIS_CONNECTIONS = 256


# arq's ``enqueue_job`` as one atomic script: it WATCHes the job's key, asks whether the job or
# its result exists, then sets the job and adds it to the queue in MULTI/EXEC — three round
# trips. The script does the same in one: the same keys, the same serialised job, and a job id
# enqueued twice is enqueued once (docs/decisions/0059).
ENQUEUE_SCRIPT = """
if redis.call('exists', KEYS[1], KEYS[2]) > 0 then return 0 end
redis.call('psetex', KEYS[1], ARGV[1], ARGV[2])
redis.call('zadd', KEYS[3], ARGV[3], ARGV[4])
return 1
"""


def redis_settings(url: str) -> RedisSettings:
    return RedisSettings.from_dsn(url)


class QueueKind(StrEnum):
    SEND = "send"  # advance, send, deliver_webhook, the polls (and the sweep)
    RENDER = "render"  # render_certificate, timestamp_checkpoint


def queue_name_of(base: str, kind: QueueKind) -> str:
    """The arq queue (a Redis key) that holds ``kind``'s jobs: the send path keeps the
    configured name, so a deployment's existing queue keeps its meaning."""
    return base if kind is QueueKind.SEND else f"{base}:{kind.value}"


class JobQueue:
    def __init__(self, pool: ArqRedis, queue_name: str) -> None:
        self.pool = pool
        self.queue_name = queue_name
        self._enqueue_script = pool.register_script(ENQUEUE_SCRIPT)

    def name_of(self, kind: QueueKind) -> str:
        return queue_name_of(self.queue_name, kind)

    @property
    def queue_names(self) -> tuple[str, ...]:
        return tuple(self.name_of(kind) for kind in QueueKind)

    @classmethod
    async def connect(cls, url: str, queue_name: str) -> JobQueue:
        """The process's one Redis client (jobs, limits, liveness), once Redis answers (arq's
        ``create_pool`` retries the first connection)."""
        probe = await create_pool(redis_settings(url), default_queue_name=queue_name)
        arq_pool = probe.connection_pool
        await probe.aclose()
        # redis-py's ConnectionPool (5.3) holds a lock across each checkout's readiness check,
        # which waits a turn of the event loop: every Redis command of the process took turns
        # behind it. The blocking pool checks outside its lock (docs/decisions/0061). arq sets a
        # connect timeout but none on reads: a Redis that stops answering would hold a request
        # (or a job) for ever, so reads get one too.
        shared = BlockingConnectionPool(
            connection_class=arq_pool.connection_class,
            max_connections=MAX_REDIS_CONNECTIONS,
            timeout=int(REDIS_TIMEOUT_SECONDS),  # waiting for a free connection
            **{**arq_pool.connection_kwargs, "socket_timeout": REDIS_TIMEOUT_SECONDS},
        )
        return cls(ArqRedis(shared, default_queue_name=queue_name), queue_name)

    async def _enqueue(
        self, function: str, job_id: str, *args: str, kind: QueueKind = QueueKind.SEND
    ) -> None:
        """``function(*args)`` as the job ``job_id`` on ``kind``'s queue, to run now, unless a
        job of that id is queued or running (what arq's ``enqueue_job`` does, in one round
        trip; the job expires as arq's do, a day after it was due)."""
        enqueued_ms = timestamp_ms()
        job = serialize_job(
            function, args, {}, None, enqueued_ms, serializer=self.pool.job_serializer
        )
        keys = [job_key_prefix + job_id, result_key_prefix + job_id, self.name_of(kind)]
        await self._enqueue_script(
            keys=keys, args=[self.pool.expires_extra_ms, job, enqueued_ms, job_id]
        )

    async def advance(self, dispatch_id: str, event_seq: int) -> None:
        await self._enqueue("advance", f"advance:{dispatch_id}:{event_seq}", dispatch_id)

    async def send(self, dispatch_id: str, attempt_id: str, tries: int) -> None:
        await self._enqueue("send", f"send:{attempt_id}:{tries}", dispatch_id, attempt_id)

    async def deliver_webhook(self, delivery_id: str, tries: int) -> None:
        await self._enqueue("deliver_webhook", f"deliver:{delivery_id}:{tries}", delivery_id)

    async def poll(self, job: str, attempt_id: str, provider_ref: str, due: datetime) -> None:
        """One poll of a provider (``job``: the poller's job, delivery.methods.Poller)."""
        job_id = f"poll:{attempt_id}:{due.timestamp():.0f}"
        await self._enqueue(job, job_id, attempt_id, provider_ref)

    async def render_certificate(self, dispatch_id: str, served_seq: int) -> None:
        job_id = f"certificate:{dispatch_id}:{served_seq}"
        await self._enqueue("render_certificate", job_id, dispatch_id, kind=QueueKind.RENDER)

    async def timestamp_checkpoint(self, dispatch_id: str, checkpoint_seq: int, tries: int) -> None:
        job_id = f"timestamp:{dispatch_id}:{checkpoint_seq}:{tries}"
        await self._enqueue(
            "timestamp_checkpoint", job_id, dispatch_id, str(checkpoint_seq), kind=QueueKind.RENDER
        )

    async def after_commit(self, followups: FollowUps) -> None:
        """Hand a committed transaction's follow-up work to the worker.

        The work is already recorded as due in the database, so if Redis fails here the caller
        still succeeded: the sweep enqueues it later. Only log.
        """
        try:
            for attempt_id in followups.send_attempts:
                await self.send(followups.dispatch_id, attempt_id, 0)
            for delivery_id in followups.deliveries:
                await self.deliver_webhook(delivery_id, 0)
            for served_seq in followups.certificates:
                await self.render_certificate(followups.dispatch_id, served_seq)
            for checkpoint_seq, tries in followups.timestamps:
                await self.timestamp_checkpoint(followups.dispatch_id, checkpoint_seq, tries)
        except (RedisError, OSError) as exc:
            log.warning(
                "queue unavailable; the sweep will pick the work up",
                extra={"dispatch_id": followups.dispatch_id, "error": type(exc).__name__},
            )

    # --- the jobs each worker process is running, so a dead one's can be freed at once ---

    def _running_key(self, worker_id: str) -> str:
        return f"{self.queue_name}:running:{worker_id}"

    # redis-py types its commands as sync-or-async; this pool is the asyncio client.
    async def job_started(self, worker_id: str, job_id: str) -> None:
        await cast("Awaitable[int]", self.pool.sadd(self._running_key(worker_id), job_id))

    async def job_ended(self, worker_id: str, job_id: str) -> None:
        await cast("Awaitable[int]", self.pool.srem(self._running_key(worker_id), job_id))

    async def free_orphaned_jobs(self, live_workers: list[str], dead_workers: list[str]) -> int:
        """Let jobs whose worker died run again now; how many were freed.

        arq keeps a started job "in progress" for the longest job timeout + 10 s, even when its
        worker was killed. Every queued job that is marked in progress but is not in a live
        worker's running set is freed (and the dead workers' sets are dropped): that also
        catches a job killed in the instant between arq's start and our note of it. A job of a
        live worker mistaken so would only run twice, which jobs are written to allow.
        """
        running: set[bytes] = set()
        for worker_id in live_workers:
            running |= await cast(
                "Awaitable[set[bytes]]", self.pool.smembers(self._running_key(worker_id))
            )
        queued = [
            job_id for name in self.queue_names for job_id in await self.pool.zrange(name, 0, -1)
        ]
        candidates = [job_id for job_id in queued if job_id not in running]
        keys = [in_progress_key_prefix + job_id.decode() for job_id in candidates]
        held = [key for key, exists in zip(keys, await self._exist(keys), strict=True) if exists]
        if held:
            await self.pool.delete(*held)
        if dead_workers:
            await self.pool.delete(*(self._running_key(w) for w in dead_workers))
        return len(held)

    async def _exist(self, keys: list[str]) -> list[bool]:
        async with self.pool.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.exists(key)
            return [bool(n) for n in await pipe.execute()]

    async def ping(self) -> bool:
        return bool(await self.pool.ping())

    async def close(self) -> None:
        await self.pool.aclose(close_connection_pool=True)
