"""Songda's enqueue (delivery/jobs/job_queue.py) is arq's ``enqueue_job`` in one round trip
(docs/decisions/0059): the job it queues is the one arq would have queued, arq's worker runs
it (every end-to-end test runs jobs queued so), and a job id enqueued twice — or while its job
or its result is still kept — is queued once."""

from __future__ import annotations

import pickle
import secrets
import time

from api_client import Api
from arq.constants import job_key_prefix, result_key_prefix
from arq.jobs import Job, JobStatus

from delivery.ids import new_id
from delivery.jobs.job_queue import JobQueue, QueueKind


async def test_a_job_is_queued_as_arq_queues_it_and_only_once(api: Api) -> None:
    # A queue of its own on the context's Redis: no worker drains it while the test looks.
    queue = JobQueue(api.ctx.queue.pool, f"songda-test-enqueue-{secrets.token_hex(4)}")
    dispatch_id, attempt_id = new_id(), new_id()
    before_ms = int(time.time() * 1000)

    await queue.send(dispatch_id, attempt_id, 3)
    await queue.send(new_id(), attempt_id, 3)  # the same job id: not queued, not overwritten

    job_id = f"send:{attempt_id}:3"
    pool = queue.pool
    name = queue.name_of(QueueKind.SEND)
    assert [m.decode() for m in await pool.zrange(name, 0, -1)] == [job_id]
    stored = pickle.loads(await pool.get(job_key_prefix + job_id))
    assert stored["f"] == "send"
    assert stored["a"] == (dispatch_id, attempt_id)
    assert stored["k"] == {}
    assert stored["t"] is None
    assert before_ms <= stored["et"] <= int(time.time() * 1000) + 1  # arq rounds to the ms
    assert await pool.zscore(name, job_id) == stored["et"]  # due at once
    expires_ms = await pool.pttl(job_key_prefix + job_id)
    assert pool.expires_extra_ms - 5000 < expires_ms <= pool.expires_extra_ms
    job = Job(job_id, pool, _queue_name=name)
    assert await job.status() == JobStatus.queued
    info = await job.info()
    assert info is not None and info.function == "send"

    # Another step of the same work is another job; a certificate goes to the render queue.
    await queue.send(dispatch_id, attempt_id, 4)
    await queue.render_certificate(dispatch_id, 9)
    assert await pool.zcard(name) == 2
    render = queue.name_of(QueueKind.RENDER)
    assert [m.decode() for m in await pool.zrange(render, 0, -1)] == [
        f"certificate:{dispatch_id}:9"
    ]
    # A job whose result is kept is not queued again; a Redis that lost the script (a restart,
    # SCRIPT FLUSH) is given it again.
    await pool.script_flush()
    kept = f"send:{attempt_id}:5"
    await pool.set(result_key_prefix + kept, b"kept")
    await queue.send(dispatch_id, attempt_id, 5)
    await queue.send(dispatch_id, attempt_id, 6)
    assert sorted(m.decode() for m in await pool.zrange(name, 0, -1)) == sorted(
        [job_id, f"send:{attempt_id}:4", f"send:{attempt_id}:6"]
    )
    await pool.delete(
        result_key_prefix + kept,
        job_key_prefix + f"send:{attempt_id}:6",
        name,
        render,
        *(
            job_key_prefix + j
            for j in (job_id, f"send:{attempt_id}:4", f"certificate:{dispatch_id}:9")
        ),
    )
