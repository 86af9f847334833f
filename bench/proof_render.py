"""Proof rendering: Songda's certificate path against plain WeasyPrint, and the API meanwhile.

Run: ``.venv/bin/python bench/proof_render.py [--n 200] [--probe-seconds 3]``.

In one run:

1. **Songda**: N certificates of served dispatches, each through Songda's whole issuing path —
   the view model (:func:`tracking.certificate.certificate_view` on a realistic record: e-mail
   and SMS attempts, three documents, ~20 events, a checkpoint) built on the loop, then in
   :func:`delivery.infra.certificate_signing.signed_certificate_pdf`: in the bounded render pool
   (off the event loop) every field's characters checked against the bundled fonts, the Jinja2
   template with its QR code and the signature's stamp, the page's text checked, WeasyPrint,
   pyHanko's preparation of the signature field and the court's PAdES signature; then on the
   event loop an RFC 3161 token on it from a TSA on loopback (PAdES-B-T: pyHanko's
   ``HTTPTimeStamper``, one HTTP session, against Songda's TSA stand-in, served by this
   process), added and written into the PDF by a second pool call; all N submitted at once:
   **certificates/s**.
2. **Raw**: the very same HTML documents (built before the clock starts) through WeasyPrint
   alone (:func:`templates.pdf.weasyprint_pdf`: ``HTML(...).write_pdf()`` with the same bundled
   fonts and font configuration, no check, no signature) on a pool of the same kind and size
   (``MAX_RENDERS``): **raw renders/s**. **Overhead** = 1 − certificates/s ÷ raw renders/s;
   target ≤ 15 %. Also, where the time goes: the same path unsigned (checks + render) and
   signed without the TSA (B-B), each as a batch of its own.
3. **API latency**: the Songda application (``create_app``) serves on loopback in this process,
   on the same event loop that awaits the renders (SQLite in a temporary directory, the local
   Redis for ``/healthz``). A child process calls ``GET /healthz`` back to back, first while idle
   and then during each batch (so both batches share the cores with it alike); p50/p99/max per
   phase. Renders that ran on the loop would
   show as p99 in the hundreds of milliseconds (one certificate takes that long).

Needs Redis (``SONGDA_BENCH_REDIS_URL``, default ``redis://127.0.0.1:6379/11``).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import sys
import tempfile
import time
import uuid
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from aiohttp import web
from healthz_probe import Probe
from proof_record import served_record, view_of

from delivery.api.app import create_app
from delivery.clock import SystemClock
from delivery.config import load_settings
from delivery.context import Context
from delivery.infra import pdf_rendering
from delivery.infra.certificate_signing import (
    CertificateSignature,
    CourtTimeStamper,
    signed_certificate_pdf,
)
from delivery.infra.document_store import DocumentStore
from delivery.infra.keys import create_key, load_signing_identity
from delivery.infra.secret_box import new_key
from delivery.jobs.job_queue import JobQueue
from delivery.sandbox.tsa_standin import TsaStandIn, create_tsa_identity, start_tsa_standin
from delivery.storage.engine import create_engine
from delivery.storage.migrate import upgrade
from templates.certificate import certificate_html, certificate_pdf
from templates.fonts import font_name
from templates.pdf import weasyprint_pdf

REDIS_URL = os.environ.get("SONGDA_BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
COURT = "杭州市西湖区人民法院"


def _pool(kind: str) -> Executor:
    if kind == "thread":
        return ThreadPoolExecutor(max_workers=pdf_rendering.MAX_RENDERS)
    spawn = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(max_workers=pdf_rendering.MAX_RENDERS, mp_context=spawn)


async def main(n: int, probe_seconds: float, kind: str) -> int:
    with tempfile.TemporaryDirectory(prefix="songda-proof-bench-") as tmp:
        settings = load_settings(
            {
                "SONGDA_DATA_DIR": tmp,
                "SONGDA_DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/songda.db",
                "SONGDA_REDIS_URL": REDIS_URL,
                "SONGDA_QUEUE_NAME": f"songda:bench:{uuid.uuid4().hex}",
                "SONGDA_SECRET_KEY": "bench-secret-key-that-is-long-enough-0123456789",
                "SONGDA_SECRETS_KEY": new_key(),
                "SONGDA_SMTP_HOST": "127.0.0.1",
                "SONGDA_SMTP_SENDER": "service@court.example",
                "SONGDA_COURT_NAME": "杭州市西湖区人民法院",
                "SONGDA_PUBLIC_BASE_URL": "https://court.example",
            }
        )
        engine = create_engine(settings.database_url)
        await upgrade(engine)
        queue = await JobQueue.connect(REDIS_URL, settings.queue_name)
        ctx = Context(
            settings=settings,
            engine=engine,
            clock=SystemClock(),
            queue=queue,
            documents=DocumentStore(settings.documents_dir),
        )
        runner = web.AppRunner(create_app(ctx), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        url = f"http://127.0.0.1:{port}/healthz"
        clock = SystemClock()
        create_key(Path(tmp) / "keys", clock, COURT)
        identity = load_signing_identity(Path(tmp) / "keys")
        tsa_cert, tsa_key = create_tsa_identity(Path(tmp) / "tsa", "Bench TSA", clock)
        tsa = TsaStandIn(tsa_cert, tsa_key, clock)
        tsa_runner, tsa_url = await start_tsa_standin(tsa)
        fonts = settings.fonts
        try:
            records = [served_record(i) for i in range(n)]
            zone, base = settings.zone, settings.public_base_url
            htmls = [certificate_html(view_of(r, zone, base), fonts) for r in records]
            pdf_rendering.use_executor(_pool(kind))
            print(f"proof issuing: N = {n}, pool = {pdf_rendering.MAX_RENDERS} {kind}es"
                  .replace("threades", "threads"))  # fmt: skip
            print(f"HTML per certificate: {sum(map(len, htmls)) // n:,} characters")
            print("fonts: " + "; ".join(font_name(f.path) for f in fonts.fonts))

            # One client for the run, as the service keeps one (Context.timestamper).
            timestamper = CourtTimeStamper(tsa_url, timeout=10)

            def signature(with_tsa: bool) -> CertificateSignature:
                return CertificateSignature(
                    identity, clock.now(), timestamper if with_tsa else None
                )

            async def issue(record: dict[str, Any]) -> bytes:
                """Songda's whole issuing path (what the certificate job runs)."""
                view = view_of(record, zone, base)
                return await signed_certificate_pdf(view, signature(True), fonts)

            async def signed_b_b(record: dict[str, Any]) -> bytes:
                view = view_of(record, zone, base)
                return await signed_certificate_pdf(view, signature(False), fonts)

            async def unsigned(record: dict[str, Any]) -> bytes:
                view = view_of(record, zone, base)
                return await pdf_rendering.render_in_pool(certificate_pdf, view, fonts)

            # Warm both paths (fonts, the stamp's font subset, template and layout caches).
            await asyncio.gather(*(issue(r) for r in records[:4]))
            raw_pool = _pool(kind)
            loop = asyncio.get_running_loop()
            await asyncio.gather(
                *(loop.run_in_executor(raw_pool, weasyprint_pdf, h, fonts) for h in htmls[:4])
            )

            idle = Probe(url, 3600)
            await idle.start()
            await asyncio.sleep(probe_seconds)
            idle_latency = await idle.stop()

            # The probe runs during both batches, so both share the cores with it alike.
            during_raw = Probe(url, 3600)
            await during_raw.start()
            t = time.perf_counter()
            raw_pdfs = await asyncio.gather(
                *(loop.run_in_executor(raw_pool, weasyprint_pdf, h, fonts) for h in htmls)
            )
            raw_seconds = time.perf_counter() - t
            raw_latency = await during_raw.stop()

            tokens_before = tsa.issued
            busy = Probe(url, 3600)
            await busy.start()
            t = time.perf_counter()
            pdfs = await asyncio.gather(*(issue(r) for r in records))
            songda_seconds = time.perf_counter() - t
            busy_latency = await busy.stop()
            tokens = tsa.issued - tokens_before

            stages = {}
            for name, path in (("checks + render", unsigned), ("+ PAdES B-B", signed_b_b)):
                t = time.perf_counter()
                await asyncio.gather(*(path(r) for r in records))
                stages[name] = time.perf_counter() - t
            raw_pool.shutdown()
            await timestamper.close()
        finally:
            pdf_rendering.use_executor(None)
            await tsa_runner.cleanup()
            await runner.cleanup()
            await queue.close()
            await engine.dispose()

    assert all(p.startswith(b"%PDF-") and b"/ByteRange" in p for p in pdfs)
    assert len(pdfs) == len(raw_pdfs) == n and tokens == n, (len(pdfs), tokens)
    songda_rate, raw_rate = n / songda_seconds, n / raw_seconds
    overhead = 1 - songda_rate / raw_rate
    print(f"Songda:  {songda_rate:7.1f} certificates/s  ({songda_seconds:.2f} s; "
          f"{tokens} RFC 3161 tokens)")  # fmt: skip
    print(f"raw:     {raw_rate:7.1f} renders/s       ({raw_seconds:.2f} s)")
    verdict = "PASS" if overhead <= 0.15 else "OVER"
    print(f"overhead {overhead * 100:5.1f} %  (target ≤ 15 %: {verdict})")
    print("where the time goes (same N, same pool; each a batch of its own):")
    print(f"  raw WeasyPrint           {raw_seconds:6.2f} s")
    for name, seconds in stages.items():
        print(f"  {name:<24} {seconds:6.2f} s")
    print(f"  + RFC 3161 token (B-T)   {songda_seconds:6.2f} s  (the whole issuing path)")
    print(f"GET /healthz idle:         {idle_latency}")
    print(f"GET /healthz during raw:   {raw_latency}")
    print(f"GET /healthz during batch: {busy_latency}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--probe-seconds", type=float, default=3.0)
    parser.add_argument(
        "--pool",
        choices=("process", "thread"),
        default="process",
        help="the render pool: Songda's (spawned processes) or a thread pool, to compare",
    )
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.n, args.probe_seconds, args.pool)))
