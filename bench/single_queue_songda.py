"""``songda <command>`` as it was before issue 12: one arq queue, one worker, one job bound.

Run as ``python bench/single_queue_songda.py worker`` (or ``run``/``web``) with the usual
``SONGDA_*`` environment. Every kind of job goes to the configured queue name, and one worker
runs them all with ``SONGDA_WORKER_CONCURRENCY`` slots — what ``bench/backlog.py`` compares the
per-queue workers with. Nothing else differs from :func:`delivery.cli.main`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

from arq.worker import Worker

from delivery import server
from delivery.context import Context
from delivery.jobs import job_queue as queue
from delivery.jobs import worker
from delivery.jobs.job_queue import QueueKind


def one_queue(base: str, _kind: QueueKind) -> str:
    return base


def one_worker(ctx: Context, _kinds: Iterable[QueueKind] = (), **options: Any) -> list[Worker]:
    """The send worker, also running the render functions in its own slots."""
    single = worker.build_worker(ctx, QueueKind.SEND, **options)
    single.functions.update(worker.build_worker(ctx, QueueKind.RENDER, **options).functions)
    return [single]


def main() -> int:
    queue.queue_name_of = one_queue  # type: ignore[assignment]
    server.build_workers = one_worker  # type: ignore[assignment]
    from delivery.cli.main import main as songda_main

    return songda_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
