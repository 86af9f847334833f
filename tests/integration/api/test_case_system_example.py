"""examples/case_system.py, run as an integrator would run it (a process of its own, its command
line) against the real application on a real port with its worker: it creates a dispatch, gets
``dispatch.served`` through a webhook it verified, and saves the proof of service and the
evidence bundle (issue 14, part 6)."""

from __future__ import annotations

import asyncio
import io
import json
import sys
import zipfile
from pathlib import Path

import pytest
from aiohttp import web
from api_client import Api
from cli_runner import free_port
from conftest import COURT

from delivery.api.app import create_app

pytestmark = pytest.mark.usefixtures("worker")
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "case_system.py"


async def test_the_case_system_example_runs_end_to_end(
    api: Api, api_key: str, tmp_path: Path
) -> None:
    runner = web.AppRunner(create_app(api.ctx))
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        example = await asyncio.create_subprocess_exec(
            sys.executable,
            str(EXAMPLE),
            "--base-url",
            f"http://127.0.0.1:{port}",
            "--api-key",
            api_key,
            "--court",
            COURT,
            "--out",
            str(tmp_path / "proof"),
            "--wait",
            "60",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(example.communicate(), 150)
    finally:
        await runner.cleanup()
    assert example.returncode == 0, err.decode()
    summary = json.loads(out)

    dispatch_id = summary["dispatch_id"]
    event = summary["event"]
    assert (event["type"], event["data"]["dispatch_id"]) == ("dispatch.served", dispatch_id)
    assert event["data"]["legal_basis"] == summary["legal_basis"] == "OLR-31"
    # Only what verified was kept: the signed webhooks of the dispatch's life.
    assert {"dispatch.created", "attempt.updated", "dispatch.served"} <= set(
        summary["verified_webhooks"]
    )
    served = await api.dispatch(dispatch_id)
    assert summary["verification_url"] == served["verification_url"]
    assert summary["verification_url"].startswith(f"http://songda.test/verify/{dispatch_id}?h=")

    proof, bundle = (Path(p) for p in summary["files"])
    assert proof.read_bytes().startswith(b"%PDF-")
    with zipfile.ZipFile(io.BytesIO(bundle.read_bytes())) as archive:
        assert {"certificate.pdf", "events.json", "manifest.json", "manifest.sig"} <= set(
            archive.namelist()
        )
        assert archive.read("certificate.pdf") == proof.read_bytes()
    # The example removed the endpoint it registered.
    listing = await api.client.get("/api/v1/webhook-endpoints", headers=api.auth)
    assert (await listing.json())["items"] == []
