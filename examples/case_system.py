"""A case system's side of Songda in one file: create a dispatch, hear what happens to it through
signed webhooks, and download the proof of service once it is served.

Against the sandbox (``make run`` in another terminal)::

    python examples/case_system.py --base-url http://127.0.0.1:8080 \\
        --api-key "$(cat var/sandbox_api_key)" --out proof/

It needs only ``aiohttp`` and ``standardwebhooks`` (``pip install aiohttp standardwebhooks``).
What it does, step by step:

1. starts a small webhook receiver on a loopback port (the sandbox lets webhooks reach
   loopback over plain http; a real court wants an https URL on a public address);
2. registers it (``POST /api/v1/webhook-endpoints``): the answer carries the signing secret,
   shown once — keep it like a password;
3. uploads a PDF and creates a dispatch for it (``POST /api/v1/dispatches``, idempotent on
   ``reference``): the recipient's e-mail address is one they gave the court themselves, so
   the court's mail server accepting the e-mail serves it (OLR-31, CPL-INT-135);
4. verifies every webhook with ``standardwebhooks`` (anything that does not verify is refused
   with 400 and never believed) and waits for ``dispatch.served`` (or ``--event``);
5. waits for the certificate (the dispatch's ``verification_url`` appears once it is issued)
   and downloads it (``proof.pdf``) and the signed evidence bundle (``evidence.zip``, which
   ``songda verify`` checks offline); then removes its webhook endpoint.

Times: the ``webhook-timestamp`` header is wall-clock (what ``standardwebhooks`` checks for
freshness); the times in the bodies are Songda's clock, which in the sandbox may be moved ahead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

SANDBOX_COURT = "沙箱人民法院"
# A blank one-page PDF to serve when no --document is given (Songda opens every upload: a file
# that only starts like a PDF is refused).
BLANK_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>> endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>> endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>> endobj\n"
    b"xref\n0 4\n0000000000 65535 f \n0000000009 00000 n \n0000000053 00000 n \n"
    b"0000000103 00000 n \ntrailer<</Size 4/Root 1 0 R>>\nstartxref\n167\n%%EOF\n"
)


@dataclass
class Inbox:
    """The webhook receiver: verifies each delivery, keeps what verified, wakes the waiter."""

    verifier: Webhook | None = None  # set once the endpoint is registered (the secret)
    received: dict[str, dict[str, Any]] = field(default_factory=dict)  # by webhook-id
    arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.verifier is None:
            return web.Response(status=503)  # not ready: Songda tries again (5 s, 5 min, …)
        try:
            payload = self.verifier.verify(body, dict(request.headers))
        except WebhookVerificationError:
            return web.Response(status=400)
        # A retry carries the same webhook-id: keep one of each.
        self.received[request.headers["webhook-id"]] = payload
        async with self.arrived:
            self.arrived.notify_all()
        return web.Response(status=204)

    async def wait_for(self, event_type: str, dispatch_id: str) -> dict[str, Any]:
        """The first verified webhook of this type about this dispatch."""
        async with self.arrived:
            while True:
                for payload in self.received.values():
                    data = payload["data"]
                    if payload["type"] == event_type and data["dispatch_id"] == dispatch_id:
                        return payload
                await self.arrived.wait()


async def _call(
    api: aiohttp.ClientSession, method: str, path: str, *ok: int, **request: Any
) -> Any:
    """One API call: its JSON answer (None for an empty one), or an error carrying Songda's
    problem (RFC 9457: what is wrong, field by field) when the status is not one of ``ok``."""
    async with api.request(method, path, **request) as response:
        if response.status not in ok:
            raise RuntimeError(f"{method} {path}: {response.status} {await response.text()}")
        return await response.json() if response.content_type == "application/json" else None


async def _save(api: aiohttp.ClientSession, path: str, target: Path) -> Path:
    async with api.get(path) as response:
        if response.status != 200:
            raise RuntimeError(f"GET {path}: {response.status} {await response.text()}")
        content = await response.read()
    await asyncio.to_thread(target.write_bytes, content)  # files off the event loop
    return target


async def _serve_receiver(inbox: Inbox, host: str) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_post("/songda-webhooks", inbox.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, host, 0)  # port 0: any free port
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://{host}:{port}/songda-webhooks"


async def _create_dispatch(
    api: aiohttp.ClientSession, court: str, email: str, pdf: bytes
) -> dict[str, Any]:
    form = aiohttp.FormData()
    form.add_field("title", "传票")
    form.add_field("kind", "summons")
    form.add_field("file", pdf, filename="summons.pdf", content_type="application/pdf")
    document = await _call(api, "POST", "/api/v1/documents", 201, data=form)
    reference = f"example-{uuid.uuid4().hex[:12]}"  # the case system's own id for it
    body = {
        "court": court,
        "case_number": "(2026)浙0106民初1234号",
        "reference": reference,
        "documents": [document["id"]],
        "recipient": {
            "name": "张三",
            "role": "defendant",
            "id_number": "33010619900101123X",
            "e_service_consent": {"given": True, "basis": "express"},
            "emails": [{"address": email, "source": "recipient_confirmed"}],
        },
    }
    # Idempotency-Key = reference: sending the same request again after a timeout is safe.
    headers = {"Idempotency-Key": reference}
    return dict(
        await _call(api, "POST", "/api/v1/dispatches", 201, 200, json=body, headers=headers)
    )


async def _download_proof(
    api: aiohttp.ClientSession, dispatch_id: str, out_dir: Path
) -> tuple[dict[str, Any], list[Path]]:
    """Save the evidence bundle and, once the dispatch is served, its certificate: a worker
    renders and signs it seconds after service; ``verification_url`` appears with it."""
    path = f"/api/v1/dispatches/{dispatch_id}"
    while True:
        dispatch = await _call(api, "GET", path, 200)
        if dispatch["state"] != "served" or dispatch["verification_url"] is not None:
            break
        await asyncio.sleep(1)
    await asyncio.to_thread(out_dir.mkdir, parents=True, exist_ok=True)
    saved = []
    if dispatch["certificate_id"] is not None:
        proof = f"{path}/proof.pdf?certificate={dispatch['certificate_id']}"
        saved.append(await _save(api, proof, out_dir / f"{dispatch_id}-proof.pdf"))
    saved.append(await _save(api, f"{path}/evidence.zip", out_dir / f"{dispatch_id}-evidence.zip"))
    return dispatch, saved


async def main(
    base_url: str,
    api_key: str,
    *,
    court: str = SANDBOX_COURT,
    email: str = "zhang.san@example.com",
    event: str = "dispatch.served",
    out_dir: Path = Path("."),
    pdf: bytes = BLANK_PDF,
    host: str = "127.0.0.1",
    wait_seconds: float = 120.0,
) -> dict[str, Any]:
    """Run the whole exchange; a summary of it (also what the command prints)."""
    inbox = Inbox()
    runner, hook_url = await _serve_receiver(inbox, host)
    headers = {"Authorization": f"Bearer {api_key}"}
    try:
        async with aiohttp.ClientSession(base_url, headers=headers) as api:
            hooks = "/api/v1/webhook-endpoints"
            endpoint = await _call(api, "POST", hooks, 201, json={"url": hook_url})
            inbox.verifier = Webhook(endpoint["secret"])
            try:
                created = await _create_dispatch(api, court, email, pdf)
                waited = await asyncio.wait_for(inbox.wait_for(event, created["id"]), wait_seconds)
                dispatch, files = await asyncio.wait_for(
                    _download_proof(api, created["id"], out_dir), wait_seconds
                )
            finally:
                await _call(api, "DELETE", f"{hooks}/{endpoint['id']}", 204)
    finally:
        await runner.cleanup()
    return {
        "dispatch_id": created["id"],
        "event": waited,
        "verified_webhooks": [p["type"] for p in inbox.received.values()],
        "service_date": dispatch["service_date"],
        "legal_basis": dispatch["legal_basis"],
        "verification_url": dispatch["verification_url"],
        "files": [str(path) for path in files],
    }


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--base-url", required=True, help="Songda's address")
    parser.add_argument("--api-key", required=True, help="a case-system API key (sdk_…)")
    parser.add_argument("--court", default=SANDBOX_COURT, help="a court the key may serve for")
    parser.add_argument("--email", default="zhang.san@example.com", help="the recipient's")
    parser.add_argument("--event", default="dispatch.served", help="the webhook to wait for")
    parser.add_argument("--document", type=Path, help="the PDF to serve (default: a blank page)")
    parser.add_argument("--out", type=Path, default=Path("."), help="where the proof goes")
    parser.add_argument("--wait", type=float, default=120.0, help="seconds per wait, at most")
    return parser.parse_args(argv)


if __name__ == "__main__":
    args = _arguments(sys.argv[1:])
    summary = asyncio.run(
        main(
            args.base_url,
            args.api_key,
            court=args.court,
            email=args.email,
            event=args.event,
            out_dir=args.out,
            pdf=args.document.read_bytes() if args.document else BLANK_PDF,
            wait_seconds=args.wait,
        )
    )
    print(json.dumps(summary, ensure_ascii=False, indent=2))
