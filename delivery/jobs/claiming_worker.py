"""arq's worker, picking up a poll's jobs in one Redis script, not three round trips each.

arq leaves a running job in its queue until it ends, so every poll lists the worker's own
running jobs first. Its ``start_jobs`` then waits for a free slot and asks Redis about each
listed job in turn (``WATCH``, ``EXISTS``, ``ZSCORE``, then ``MULTI``/``PSETEX``/``EXEC`` to
start it): with fifty jobs running, a new job started only after fifty round trips about jobs
this very process was running, and the worker sat idle between them (docs/decisions/0061).

:class:`ClaimingWorker` skips the jobs it is running itself without asking, and starts the rest
with one script per batch of free slots: for each job, the same test arq makes (no in-progress
key, still queued, due) and the same in-progress key, atomically, as arq's ``WATCH``/``MULTI``
made it. Everything else (running, retrying, finishing a job) is arq's own.
"""

from __future__ import annotations

from typing import Any, cast

from arq.constants import in_progress_key_prefix
from arq.utils import timestamp_ms
from arq.worker import Worker
from redis.commands.core import AsyncScript

# KEYS: the queue, then each job's in-progress key; ARGV: now (ms), the in-progress timeout
# (ms), how many jobs to start at most, then the job ids in the order of the keys. Returns how
# many jobs it looked at, then the started ones as id, score, id, score ...
CLAIM_SCRIPT = """
local limit = tonumber(ARGV[3])
local now = tonumber(ARGV[1])
local started = {}
local looked = 0
for i = 2, #KEYS do
  if #started >= 2 * limit then break end
  looked = looked + 1
  if redis.call('exists', KEYS[i]) == 0 then
    local score = redis.call('zscore', KEYS[1], ARGV[i + 2])
    if score and tonumber(score) <= now then
      redis.call('psetex', KEYS[i], ARGV[2], '1')
      started[#started + 1] = ARGV[i + 2]
      started[#started + 1] = score
    end
  end
end
return {looked, started}
"""
# How many listed jobs one script looks at per free slot: enough to pass over a few taken by
# another worker, few enough that a script stays short.
LOOK_AHEAD = 4


class ClaimingWorker(Worker):
    """An arq ``Worker`` whose pick-up costs one round trip per batch of free slots."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._claim_script: AsyncScript | None = None  # registered on the pool at first use

    def _running_here(self, job_id: str) -> bool:
        task = self.tasks.get(job_id)
        return task is not None and not task.done()

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        """Start the listed jobs that are due and not running anywhere, as slots free up.

        Each started job holds one unit of arq's semaphore and one count of ``job_counter``
        until its task ends (arq's done callback gives both back), as in arq's own pick-up.
        """
        waiting = [j for j in (b.decode() for b in job_ids) if not self._running_here(j)]
        while waiting:
            await self.sem.acquire()
            room = min(len(waiting), self.max_jobs - self.job_counter)
            if room < 1:
                self.sem.release()
                return
            slots = 1
            while slots < room and not self.sem.locked():
                await self.sem.acquire()  # a free unit: taken at once
                slots += 1
            looked_at = waiting[: slots * LOOK_AHEAD]
            try:
                looked, started = await self._claim(looked_at, slots)
            except BaseException:
                # Redis failed (the restarted poll loop runs on this same worker): the slots
                # taken for this claim are free again, or each failure would cost some for ever.
                for _ in range(slots):
                    self.sem.release()
                raise
            waiting = waiting[looked:]
            for _ in range(slots - len(started)):
                self.sem.release()
            for job_id, score in started:
                self.job_counter += 1
                task = self.loop.create_task(self.run_job(job_id, score))
                task.add_done_callback(lambda _: self._release_sem_dec_counter_on_complete())
                self.tasks[job_id] = task

    async def _claim(self, job_ids: list[str], limit: int) -> tuple[int, list[tuple[str, int]]]:
        """Mark at most ``limit`` of ``job_ids`` in progress; (how many were looked at, the
        started ones with their scores)."""
        keys = [self.queue_name, *(in_progress_key_prefix + j for j in job_ids)]
        timeout_ms = int(self.in_progress_timeout_s * 1000)
        args: list[str | int] = [timestamp_ms(), timeout_ms, limit, *job_ids]
        if self._claim_script is None:
            self._claim_script = self.pool.register_script(CLAIM_SCRIPT)
        looked, flat = cast(
            "tuple[int, list[bytes]]", await self._claim_script(keys=keys, args=args)
        )
        pairs = zip(flat[::2], flat[1::2], strict=True)
        return int(looked), [(j.decode(), int(float(s))) for j, s in pairs]
