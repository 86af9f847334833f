"""The API's latency while something else runs: ``GET /healthz`` back to back from a child
process (so the probe does not share the event loop it measures), as p50, p99 and max.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import statistics
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection

import aiohttp


def _probe(url: str, stop_after: float, out: Connection) -> None:
    """In a child process: GET ``url`` back to back until told to stop; latencies (ms)."""

    async def run() -> list[float]:
        found: list[float] = []
        async with aiohttp.ClientSession() as session:
            async with session.get(url) as response:  # connected: tell the parent
                await response.read()
            out.send("ready")
            deadline = time.perf_counter() + stop_after
            while time.perf_counter() < deadline:
                t = time.perf_counter()
                async with session.get(url) as response:
                    await response.read()
                    assert response.status == 200, response.status
                found.append((time.perf_counter() - t) * 1000)
                if out.poll():
                    break
                await asyncio.sleep(0.005)
        return found

    out.send(asyncio.run(run()))


@dataclass
class Latency:
    p50: float
    p99: float
    max: float
    n: int

    @classmethod
    def of(cls, values: list[float]) -> Latency:
        ordered = sorted(values)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        return cls(statistics.median(ordered), p99, ordered[-1], len(ordered))

    def __str__(self) -> str:
        return (
            f"p50 {self.p50:6.2f} ms  p99 {self.p99:6.2f} ms  max {self.max:7.2f} ms  (n={self.n})"
        )


class Probe:
    def __init__(self, url: str, seconds: float) -> None:
        self.parent, child = multiprocessing.Pipe()
        self.process = multiprocessing.get_context("spawn").Process(
            target=_probe, args=(url, seconds, child)
        )

    async def start(self) -> None:
        self.process.start()
        assert await asyncio.to_thread(self.parent.recv) == "ready"

    async def stop(self) -> Latency:
        self.parent.send("stop")
        values: list[float] = await asyncio.to_thread(self.parent.recv)
        self.process.join()
        return Latency.of(values)
