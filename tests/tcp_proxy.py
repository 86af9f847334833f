"""A TCP proxy on loopback that a test (or bench/faults.py) can cut and restore, and a
round-robin balancer built on it.

It stands between Songda and a shared server (PostgreSQL, Redis) to simulate that server going
away without touching the server itself, which other test runs are using: :meth:`cut` stops
listening and drops every open connection (clients see connection refused / reset, as when the
server is stopped); :meth:`restore` listens again on the same port.

:class:`RoundRobin` puts several ``songda web`` processes behind one port, as a load balancer in
front of replicas does: each new connection goes to the next backend in turn.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.connections = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self, port: int = 0) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", port or self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    @property
    def is_cut(self) -> bool:
        return self._server is None

    def cut(self) -> None:
        """Stop listening and drop every connection at once (callable from sync code)."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def restore(self) -> None:
        if self._server is None:
            await self.start(self.port)

    async def close(self) -> None:
        self.cut()

    def _next_target(self) -> tuple[str, int]:
        return self.target

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        target = self._next_target()
        self.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )
        for w in (writer, up_writer):
            self._writers.discard(w)
            w.transport.abort()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.transport.abort()


class RoundRobin(TcpProxy):
    """One port in front of several backends; connection ``i`` goes to backend ``i mod n``.

    ``served`` counts the connections each backend has been given, so a test can show that
    both took their share."""

    def __init__(self, targets: list[tuple[str, int]]) -> None:
        super().__init__(*targets[0])
        self.targets = targets
        self.served = [0] * len(targets)

    def _next_target(self) -> tuple[str, int]:
        index = self.connections % len(self.targets)
        self.served[index] += 1
        return self.targets[index]


@contextlib.asynccontextmanager
async def proxied(host: str, port: int) -> AsyncIterator[TcpProxy]:
    """A started proxy to ``host:port``, closed at the end."""
    proxy = TcpProxy(host, port)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.close()
