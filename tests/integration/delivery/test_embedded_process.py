"""The embedded process cleans up after itself (issue 12, item 4), with real processes:
``songda run`` killed with -9 leaves no render worker behind, its restart ends the private
redis-server the killed run left (and says so), a second ``songda run`` on a data directory in
use is refused with exit 2, and only ever one redis-server works in the directory."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from api_client import Api
from cli_runner import read_until, sandbox_process
from conftest import eventually

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
SANDBOX_COURT = "沙箱人民法院"


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return state[0] != "Z"


def _processes() -> Iterator[Path]:
    return (p for p in Path("/proc").iterdir() if p.name.isdigit() and _running(int(p.name)))


def redis_servers(directory: Path) -> set[int]:
    """The redis-server processes working in ``directory``."""
    found = set()
    for proc in _processes():
        try:
            exe = (proc / "exe").resolve(strict=True)
            cwd = (proc / "cwd").resolve(strict=True)
        except OSError:
            continue
        if exe.name == "redis-server" and cwd == directory.resolve():
            found.add(int(proc.name))
    return found


def render_workers(parent: int) -> set[int]:
    """The multiprocessing (render pool) children of ``parent``."""
    found = set()
    for proc in _processes():
        try:
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if ppid == parent and b"spawn_main" in cmdline:
            found.add(int(proc.name))
    return found


@pytest.fixture
def short_data_dir() -> Iterator[Path]:
    """A data directory with a short path: the private Redis's unix socket lives in it."""
    root = Path(tempfile.mkdtemp(prefix="sd-", dir="/tmp"))
    yield root / "var"
    shutil.rmtree(root, ignore_errors=True)


async def _render_something(port: int, lines: list[str]) -> None:
    """A proof preview through the API: the render pool starts its workers."""
    token = next(m.group(1) for ln in lines if (m := re.search(r"API key .*: (\S+)", ln)))
    auth = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{port}") as http:
        api = Api(http, auth, None)  # type: ignore[arg-type]
        created = await api.create(await api.new_dispatch_body(court=SANDBOX_COURT))
        async with http.get(f"/api/v1/dispatches/{created['id']}/proof.pdf", headers=auth) as r:
            assert r.status == 200, await r.text()


async def _output_until(process: subprocess.Popen[str], marker: str) -> list[str]:
    """The output up to ``marker``; the rest is read (and dropped) in the background so the
    process never blocks on a full pipe (renders log a lot)."""
    lines = await asyncio.wait_for(asyncio.to_thread(read_until, process, marker), 90)
    assert process.stdout is not None
    threading.Thread(target=process.stdout.read, daemon=True).start()
    return lines


async def test_kill_9_leaves_no_orphans_and_one_run_holds_the_directory(
    short_data_dir: Path,
) -> None:
    redis_dir = short_data_dir / "redis"
    with sandbox_process(short_data_dir, "embedded", embedded_redis=True) as (first, port):
        await _render_something(port, await _output_until(first, "Sandbox API key"))

        async def renderers_started() -> set[int]:
            return render_workers(first.pid)

        renderers = await eventually(renderers_started)
        [redis_pid] = redis_servers(redis_dir)

        with sandbox_process(short_data_dir, "second", embedded_redis=True) as (second, _port):
            assert await asyncio.to_thread(second.wait, 60) == 2
            assert second.stdout is not None
            refusal = second.stdout.read()
        assert "another `songda run`" in refusal and str(short_data_dir) in refusal
        assert redis_servers(redis_dir) == {redis_pid}

        first.kill()
        await asyncio.to_thread(first.wait, 30)

        async def renderers_gone() -> bool:
            return not any(_running(pid) for pid in renderers)

        await eventually(renderers_gone, within=10)
        assert redis_servers(redis_dir) == {redis_pid}  # the orphan, until the next start

    with sandbox_process(short_data_dir, "restart", embedded_redis=True) as (third, port):
        lines = await _output_until(third, "Songda is listening")
        assert any("redis-server" in ln and str(redis_pid) in ln for ln in lines), lines
        assert not _running(redis_pid)
        [new_redis] = redis_servers(redis_dir)
        assert new_redis != redis_pid
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{port}/healthz") as health,
        ):
            assert health.status == 200, await health.text()

    async def all_stopped() -> bool:
        return not redis_servers(redis_dir)

    await eventually(all_stopped, within=15)
