"""The raw certificate rate: what Songda's render pool alone makes of signed certificates, and
what each one costs the process that awaits them.

Run: ``.venv/bin/python bench/certificate_rate.py [--n 200] [--tsa]``; ``email_throughput.py``
measures it once per run (B-B, as its service runs without a TSA) for the allowance of issue 16,
item 1: a batch's certificates all issued within (N ÷ this rate) × 1.2.

N sample served dispatches (``proof_record.py``: e-mail service, an SMS, ~20 events, both
locales) go through the function the certificate job calls,
:func:`delivery.infra.certificate_signing.signed_certificate_pdf` — render, the signature field,
the court's PAdES signature; B-T with ``--tsa`` — in the arrangement the service uses: the render
pool of ``delivery/infra/pdf_rendering.py`` (``MAX_RENDERS`` spawned processes at
``RENDER_NICENESS``), all N submitted at once after a warm-up of a few. That runs in a child
process of its own, which starts and ends the pool: **certificates/s**, and that process's own
CPU time per certificate (``time.process_time``, its threads included, the pool's processes
not): what issuing costs the process that sends e-mail — the event loop's share of a
certificate. With ``--tsa`` the TSA stand-in (``delivery.sandbox.tsa_standin``) answers from
the parent process, so its token signing is not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from proof_record import served_record, view_of
from throughput_service import COURT

from delivery.clock import SystemClock
from delivery.infra import pdf_rendering
from delivery.infra.certificate_signing import (
    CertificateSignature,
    CourtTimeStamper,
    signed_certificate_pdf,
)
from delivery.infra.keys import create_key, load_signing_identity
from delivery.sandbox.tsa_standin import TsaStandIn, create_tsa_identity, start_tsa_standin
from templates.fonts import font_set

ZONE = ZoneInfo("Asia/Shanghai")
VERIFY_BASE_URL = "https://court.example"
WARM_UP = 4  # certificates before the clock: fonts, template and layout caches in each worker


@dataclass(frozen=True)
class CertificateRate:
    n: int
    rate: float  # certificates/s
    main_cpu_ms: float  # CPU of the awaiting process per certificate
    tokens: bool  # B-T (a TSA's token on each signature) rather than B-B


async def _batch(n: int, tsa_url: str | None) -> CertificateRate:
    """In the child process: N signed certificates through Songda's render pool."""
    fonts = font_set(None)
    with tempfile.TemporaryDirectory(prefix="songda-cert-rate-") as tmp:
        create_key(Path(tmp) / "keys", SystemClock(), COURT)
        identity = load_signing_identity(Path(tmp) / "keys")
    timestamper = None if tsa_url is None else CourtTimeStamper(tsa_url, timeout=30)
    records = [served_record(i) for i in range(n)]
    clock = SystemClock()

    async def issue(i: int) -> bytes:
        view = view_of(records[i % n], ZONE, VERIFY_BASE_URL)
        signature = CertificateSignature(identity, clock.now(), timestamper)
        return await signed_certificate_pdf(view, signature, fonts)

    try:
        await asyncio.gather(*(issue(i) for i in range(WARM_UP)))
        cpu, started = time.process_time(), time.perf_counter()
        pdfs = await asyncio.gather(*(issue(i) for i in range(n)))
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        if timestamper is not None:
            await timestamper.close()
    if not all(p.startswith(b"%PDF-") and b"/ByteRange" in p for p in pdfs):
        raise RuntimeError("a certificate is not a signed PDF")
    return CertificateRate(n, n / elapsed, cpu / n * 1000, timestamper is not None)


async def measure_certificates(n: int, tsa: bool = False) -> CertificateRate:
    """N certificates in a child process (its render pool started and ended with it); with
    ``tsa``, B-T against a TSA stand-in served by this process."""
    with tempfile.TemporaryDirectory(prefix="songda-cert-tsa-") as tmp:
        runner, tsa_args = None, []
        if tsa:
            clock = SystemClock()
            cert, key = create_tsa_identity(Path(tmp), "Bench TSA", clock)
            runner, url = await start_tsa_standin(TsaStandIn(cert, key, clock))
            tsa_args = ["--tsa-url", url]
        try:
            # A plain `python` process, as the service is: a multiprocessing child would wait
            # at exit for the render pool's processes, which only end at interpreter shutdown.
            child = await asyncio.create_subprocess_exec(
                sys.executable, __file__, "--child", "--n", str(n), *tsa_args,
                stdout=asyncio.subprocess.PIPE,
            )  # fmt: skip
            out, _ = await child.communicate()
        finally:
            if runner is not None:
                await runner.cleanup()
    if child.returncode != 0:
        raise RuntimeError(f"the certificate batch failed (exit code {child.returncode})")
    return CertificateRate(**json.loads(out.decode().splitlines()[-1]))


def describe(result: CertificateRate) -> str:
    kind = "B-T, a TSA token each" if result.tokens else "B-B"
    return (
        f"{result.rate:.1f} certificates/s ({result.n}, {kind}, {pdf_rendering.MAX_RENDERS} "
        f"render processes); {result.main_cpu_ms:.1f} ms CPU per certificate in the awaiting "
        "process"
    )


async def main(n: int, tsa: bool) -> int:
    print(f"raw certificates: {describe(await measure_certificates(n, tsa))}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--tsa", action="store_true", help="PAdES B-T: a TSA stand-in's token")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--tsa-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:  # the measuring process: its figures as one line of JSON
        print(json.dumps(asdict(asyncio.run(_batch(args.n, args.tsa_url)))))
        sys.exit(0)
    sys.exit(asyncio.run(main(args.n, args.tsa)))
