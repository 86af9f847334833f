"""``songda run --sandbox`` (what ``make run`` starts) has third-party time: its own TSA on
loopback stamps the checkpoint of a service, and the QR page and ``/healthz`` say so."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import aiohttp
from api_client import Api
from cli_runner import read_until, sandbox_process


async def test_the_sandbox_stamps_checkpoints_with_its_own_tsa(tmp_path: Path) -> None:
    with sandbox_process(tmp_path / "var", "sandbox-tsa") as (process, port):
        lines = await asyncio.wait_for(
            asyncio.to_thread(read_until, process, "Sandbox time-stamping authority"), 60
        )
        token = next(re.search(r"API key .*: (\S+)", ln) for ln in lines if "API key" in ln)
        assert token is not None
        tsa_line = lines[-1]
        assert "http://127.0.0.1:" in tsa_line
        assert str(tmp_path / "var" / "sandbox_tsa" / "tsa.pem") in tsa_line
        async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{port}") as http:
            api = Api(http, {"Authorization": f"Bearer {token.group(1)}"}, None)  # type: ignore[arg-type]
            body = await api.new_dispatch_body(court="沙箱人民法院")
            created = await api.create(body)
            served = await api.until(
                created["id"],
                lambda d: any(e["type"] == "checkpoint_timestamped" for e in d["events"]),
            )
            stamp: dict[str, Any] = next(
                e for e in served["events"] if e["type"] == "checkpoint_timestamped"
            )
            head = next(e for e in served["events"] if e["type"] == "dispatch_served")
            assert stamp["data"]["tsa"] == "Songda Sandbox TSA"
            async with http.get(f"/verify/{created['id']}?h={head['hash']}&lang=en") as page:
                html = await page.text()
            assert "timestamped by Songda Sandbox TSA at" in html
            async with http.get("/healthz") as health:
                assert (await health.json())["timestamps_overdue"] == 0
