"""A small CPU-time sampling profiler for the service's main thread (no dependencies).

cProfile's figures for coroutines are hard to read: every resumption counts as a call, and its
overhead inflates code made of many small calls. This samples instead: ``ITIMER_PROF`` raises
``SIGPROF`` after every millisecond of the process's CPU time, and the handler (which Python runs in
the main thread at the next bytecode) records the stack it interrupted. A running coroutine's
``await`` chain is a real frame chain, and SQLAlchemy's greenlets are stitched back onto the
coroutine that started them, so each sample says which piece of Songda's work was being done
("stage", from known entry points, outermost first) and which library it was in ("layer", the
innermost frame's package). CPU used by other threads (aiosqlite's) lands on whatever the main
thread is doing then, usually waiting in epoll.
"""

from __future__ import annotations

import signal
from collections import Counter
from types import FrameType

import greenlet  # type: ignore[import-untyped]

INTERVAL = 0.001

# (path suffix, function) → stage label; the labels of all matching frames, outermost first,
# make up a sample's stage.
STAGES: dict[tuple[str, str], str] = {
    ("delivery/api/case_system/dispatches.py", "create"): "POST /dispatches",
    ("delivery/services/api_keys.py", "verify"): "API key check",
    ("delivery/api/case_system/dispatch_request.py", "parse_dispatch_request"): "validation",
    ("delivery/services/intake.py", "create_dispatch"): "intake transaction",
    ("delivery/api/case_system/dispatches.py", "_detail"): "read-back for the response",
    ("delivery/services/progress.py", "advance"): "job advance",
    ("escalation/decide.py", "decide"): "decide",
    ("delivery/services/sending.py", "send"): "job send",
    ("delivery/services/sending.py", "dispatch_of_attempt"): "attempt → dispatch lookup",
    ("delivery/services/sending.py", "record_result"): "record result",
    ("channels/email/adapter.py", "build_email"): "render e-mail",
    ("channels/email/adapter.py", "_send_pooled"): "SMTP conversation",
    ("delivery/storage/unit_of_work.py", "dispatch_transaction"): "dispatch transaction",
    ("delivery/storage/unit_of_work.py", "flush"): "flush",
    ("delivery/jobs/job_queue.py", "after_commit"): "enqueue follow-ups",
    ("delivery/services/sweep.py", "sweep"): "sweep",
    ("arq/worker.py", "start_jobs"): "arq: pick up jobs",
    ("arq/worker.py", "run_job"): "arq: run job",
    ("arq/worker.py", "finish_job"): "arq: finish job",
    ("arq/worker.py", "_poll_iteration"): "arq: poll",
    ("logging/__init__.py", "handle"): "logging",
    ("delivery/storage/dispatch_batches.py", "_write_all"): "group commit",
    ("delivery/storage/dispatch_batches.py", "_load"): "lock and read",
    ("delivery/storage/dispatch_batches.py", "_prefetch"): "prefetch",
    ("delivery/services/intake.py", "_creation"): "creation",
    ("delivery/services/sending.py", "_claim_if_due"): "claim",
    ("delivery/services/sending.py", "_record"): "receipt",
    ("delivery/storage/unit_of_work.py", "write_transactions"): "write",
    ("delivery/services/certificates.py", "issue_certificates"): "job certificate",
    ("delivery/storage/transaction_rows.py", "chained_event"): "chain event",
}
_BY_NAME: dict[str, list[tuple[str, str]]] = {}
for (_suffix, _name), _label in STAGES.items():
    _BY_NAME.setdefault(_name, []).append((_suffix, _label))
MACHINERY = {
    "aiohttp": "aiohttp (outside handlers)",
    "asyncpg": "asyncpg protocol callbacks",
    "redis": "redis client (outside jobs)",
    "aiosmtplib": "aiosmtplib protocol callbacks",
    "aiosqlite": "aiosqlite callbacks",
}


def layer_of(filename: str) -> str:
    """The package a source file belongs to: site-packages, repository or standard library."""
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in filename:
            return filename.split(marker, 1)[1].split("/", 1)[0].removesuffix(".py")
    return filename.rsplit("/", 1)[-1]


def _frames(frame: FrameType | None) -> list[FrameType]:
    chain = []
    while frame is not None:
        chain.append(frame)
        frame = frame.f_back
    return chain


def stack(frame: FrameType) -> list[FrameType]:
    """The interrupted stack, outermost first, continued through suspended parent greenlets."""
    chain = _frames(frame)
    parent = greenlet.getcurrent().parent
    while parent is not None:
        chain += _frames(parent.gr_frame)
        parent = parent.parent
    chain.reverse()
    return chain


def classify(chain: list[FrameType]) -> tuple[str, str]:
    """(stage, layer) for a stack, outermost frame first."""
    innermost = chain[-1].f_code
    layer = layer_of(innermost.co_filename)
    if layer == "selectors" and innermost.co_name in {"select", "poll"}:
        return "waiting in epoll (other threads' CPU)", layer
    labels = []
    for f in chain:
        code = f.f_code
        for suffix, label in _BY_NAME.get(code.co_name, ()):
            if code.co_filename.endswith(suffix):
                labels.append(label)
    if labels:
        return " > ".join(dict.fromkeys(labels)), layer
    for f in reversed(chain):
        stage = MACHINERY.get(layer_of(f.f_code.co_filename))
        if stage is not None:
            return stage, layer
    return "event loop, other", layer


class StackSampler:
    """Samples the main thread's stack per millisecond of process CPU time until stopped."""

    def __init__(self) -> None:
        self.samples: Counter[tuple[str, str]] = Counter()

    def _sample(self, _signum: int, frame: FrameType | None) -> None:
        if frame is not None:
            self.samples[classify(stack(frame))] += 1

    def start(self) -> None:
        """Call from the main thread."""
        signal.signal(signal.SIGPROF, self._sample)
        signal.setitimer(signal.ITIMER_PROF, INTERVAL, INTERVAL)

    def stop(self) -> dict[str, dict[str, int]]:
        """Stop and return ``{stage: {layer: samples}}``."""
        signal.setitimer(signal.ITIMER_PROF, 0, 0)
        signal.signal(signal.SIGPROF, signal.SIG_IGN)
        result: dict[str, dict[str, int]] = {}
        for (stage, layer), count in self.samples.items():
            result.setdefault(stage, {})[layer] = count
        return result
