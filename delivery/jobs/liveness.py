"""Worker liveness: who is running, by a heartbeat the sweep can read (docs/decisions/0024).

A ``sending`` attempt names the worker that claimed it. The sweep releases the claim only when
that worker has stopped heartbeating, so a dead worker's sends are retried within a minute and a
live, slow worker's are never taken from it.

Heartbeats are operational time, not legal time: they are read and written on a real wall clock
injected beside ``ctx.clock`` (which the sandbox moves by days and tests freeze). And after a
database outage every heartbeat looks stale at once, so a sweeper releases nothing until its own
heartbeats have gone through for longer than the staleness window (:meth:`steady_for`): by then
every live worker has beaten again.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

from delivery.clock import Clock
from delivery.ids import new_id
from delivery.storage.engine import Engine
from delivery.storage.workers import (
    WorkerIds,
    beaten_since,
    forget_worker,
    heartbeat,
    silent_since,
)

HEARTBEAT_EVERY = timedelta(seconds=5)
STALE_AFTER = timedelta(seconds=20)
# A row of a worker that stopped this long ago is removed (no claim can still name it: the sweep
# released them long before).
FORGET_AFTER = timedelta(days=1)


class WorkerLiveness:
    """This worker process's identity, heartbeat and in-flight sends."""

    def __init__(self, engine: Engine, wall_clock: Clock) -> None:
        self.engine = engine
        self.wall_clock = wall_clock
        self.worker_id = new_id()
        self.host = socket.gethostname()[:255]
        self.pid = os.getpid()
        self.started_at = wall_clock.now()
        # Since when every heartbeat has gone through (None: the last one failed).
        self.steady_since: datetime | None = None
        # Attempts this process is sending right now: its own claims it must not release.
        self.in_flight: set[str] = set()

    async def beat(self) -> None:
        """Write the heartbeat (the row is made on the first beat, or again if removed)."""
        now = self.wall_clock.now()
        await heartbeat(
            self.engine,
            self.worker_id,
            now,
            host=self.host,
            pid=self.pid,
            started_at=self.started_at,
            forget_before=now - FORGET_AFTER,
        )
        if self.steady_since is None:
            self.steady_since = now

    def missed(self) -> None:
        """A heartbeat could not be written: steadiness starts again from the next one."""
        self.steady_since = None

    def steady_for(self, window: timedelta) -> bool:
        """Have this worker's heartbeats gone through for at least ``window``?"""
        return self.steady_since is not None and self.wall_clock.now() - self.steady_since >= window

    async def stop(self) -> None:
        """A clean stop: the row goes, so this worker's leftover claims are released at once."""
        await forget_worker(self.engine, self.worker_id)


def alive_workers(wall_now: datetime) -> WorkerIds:
    """The ids of workers that have beaten within :data:`STALE_AFTER` of ``wall_now``."""
    return beaten_since(wall_now - STALE_AFTER)


def dead_workers(wall_now: datetime) -> WorkerIds:
    """The ids of workers whose heartbeat stopped :data:`STALE_AFTER` before ``wall_now``."""
    return silent_since(wall_now - STALE_AFTER)
