"""Fair work (issue 12, item 2): a backlog of certificates never holds the slots sends need.

The render pool is replaced by a :class:`GatedRenderer` that holds every certificate render:
the backlog of a 500-dispatch batch, as far as the workers can tell.
"""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from api_client import Api
from cli_runner import songda
from conftest import eventually, running_worker
from pdf_checks import GatedRenderer, rendering_with

from delivery.sandbox.pages import SmtpSink

SEND_SLOTS = 4  # SONGDA_WORKER_CONCURRENCY for the test: the backlog fills this many slots
SIGNED_RENDER = "drawn_and_signed"
TARGET_SECONDS = 2.0


@pytest.mark.both_databases
async def test_a_new_dispatch_is_sent_while_certificates_wait_for_the_renderers(
    api: Api, smtp_sink: SmtpSink
) -> None:
    api.ctx.settings = dataclasses.replace(api.ctx.settings, worker_concurrency=SEND_SLOTS)
    with rendering_with(GatedRenderer(SIGNED_RENDER)) as renderer:
        async with running_worker(api.ctx):
            for i in range(SEND_SLOTS):
                served = await api.new_dispatch(reference=f"backlog-{i}", email=f"r{i}@example.com")
                await api.until_state(served["id"], "served")

            async def backlog_waits() -> bool:
                return renderer.submitted[SIGNED_RENDER] >= SEND_SLOTS

            await eventually(backlog_waits)  # each served dispatch's certificate job is stuck

            loop = asyncio.get_running_loop()
            started = loop.time()
            created = await api.new_dispatch(reference="after-the-batch", email="new@example.com")

            async def mailed() -> bool:
                return any("new@example.com" in m.to for m in smtp_sink.messages)

            await eventually(mailed, within=10)
            assert loop.time() - started < TARGET_SECONDS
            await api.until_state(created["id"], "served")
            renderer.open()  # the backlog renders; the workers stop once it is done


def test_songda_worker_names_an_unknown_queue() -> None:
    result = songda("worker", "--queues", "send,print", env={})
    assert result.returncode == 2
    assert "send, render" in result.stderr
