"""PDF rendering off the event loop: WeasyPrint is CPU-bound and synchronous.

Renders run in a small bounded pool of worker *processes* (``spawn``ed, so they inherit no event
loop, threads or connections). A thread pool kept the render off the loop but not off the GIL:
WeasyPrint's layout is mostly Python and held it, so the API's p99 went from ~5 ms to hundreds
of milliseconds while a batch of certificates rendered (``bench/proof_render.py``). Each worker
loads the fonts once and keeps its caches for every later render. Callers await
:func:`render_pdf`; at most :data:`MAX_RENDERS` renders run at once per process.

On Linux each render worker asks the kernel (``prctl(PR_SET_PDEATHSIG)``) to be killed when the
process that started it dies, so a ``songda run`` killed with -9 leaves no renderer behind; a
clean stop ends them through the pool as before.
"""

from __future__ import annotations

import asyncio
import ctypes
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from templates.fonts import FontSet
from templates.pdf import html_to_pdf

MAX_RENDERS = 2
# Renders are background work: at this niceness the kernel gives the CPU to the process that
# takes requests and sends first, and to the renderers whatever it leaves (decision 0050).
RENDER_NICENESS = 15
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
T = TypeVar("T")
_pool: Executor | None = None


def _executor() -> Executor:
    global _pool
    if _pool is None:
        _pool = ProcessPoolExecutor(
            max_workers=MAX_RENDERS,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=die_with_parent,
            initargs=(os.getpid(),),
        )
    return _pool


def die_with_parent(parent_pid: int) -> None:
    """In a render worker: be killed with the process that started it (Linux), or — if that
    one is already gone — end now rather than run as an orphan."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:
        os._exit(0)
    os.nice(RENDER_NICENESS)


def use_executor(executor: Executor | None) -> None:
    """Render with ``executor`` instead (a benchmark's thread pool); None: the default again."""
    global _pool
    _pool = executor


async def render_pdf(html: str, fonts: FontSet) -> bytes:
    """The PDF of a self-contained HTML document drawn with ``fonts`` (see
    ``templates.pdf.html_to_pdf``: raises ``MissingGlyphs`` rather than draw a box)."""
    return await render_in_pool(html_to_pdf, html, fonts)


async def render_in_pool(render: Callable[..., T], *args: Any) -> T:
    """``render(*args)`` in the pool: a module-level function whose arguments pickle (e.g. one
    that builds the HTML from a view model and renders it, all in the worker)."""
    global _pool
    loop = asyncio.get_running_loop()
    try:
        return await loop.run_in_executor(_executor(), render, *args)
    except BrokenProcessPool:
        # A worker died (killed, out of memory): start a fresh pool and try once more.
        _pool = None
        return await loop.run_in_executor(_executor(), render, *args)
