"""PDFs in the tests: scans as a clerk uploads them (and a file that only claims to be a PDF), a
PDF signature validated against the court root, and a render pool that holds renders until the
test opens it."""

from __future__ import annotations

import io
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from PIL import Image
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.status import PdfSignatureStatus
from pyhanko_certvalidator import ValidationContext
from pypdf import PdfWriter

from delivery.infra.keys import ROOT_CERT
from delivery.infra.pdf_rendering import MAX_RENDERS, use_executor
from tracking.court_certificates import load_pem_chain

# Five bytes that name PDF, then a web page: not a PDF (delivery/infra/pdf_check.py).
PDF_THEN_HTML = b"%PDF-1.7\n<!doctype html><html><body><script>alert(1)</script></body></html>\n"


def scan_pdf() -> bytes:
    """A real one-page PDF, as a scanner writes one (pypdf opens it)."""
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def scan_image(kind: str = "PNG") -> bytes:
    """A real (small) PNG or JPEG photo of the signed paper."""
    out = io.BytesIO()
    Image.new("RGB", (60, 80), "white").save(out, kind)
    return out.getvalue()


def asn1(certificate: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))


def court_root(keys_dir: Path) -> x509.Certificate:
    """The court root ``songda keys create`` made in ``keys_dir``."""
    return load_pem_chain((keys_dir / ROOT_CERT).read_bytes())[0]


async def validate_signature(pdf: bytes, *roots: x509.Certificate) -> PdfSignatureStatus:
    """The one PDF signature of ``pdf`` as pyHanko's validator sees it, trusting ``roots``
    only (a reader trusting the court root)."""
    [signature] = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
    context = ValidationContext(trust_roots=[asn1(r) for r in roots], allow_fetching=False)
    return await async_validate_pdf_signature(signature, context, ts_validation_context=context)


class GatedRenderer(ThreadPoolExecutor):
    """The render pool's stand-in (``delivery.infra.pdf_rendering.use_executor``): renders in
    threads, counts the calls of each render function, and holds the calls of the ``held``
    functions until :meth:`open` — a renderer as slow as the test needs."""

    def __init__(self, *held: str, workers: int = MAX_RENDERS) -> None:
        super().__init__(max_workers=workers)
        self.held = set(held)
        self.submitted: Counter[str] = Counter()
        self.running: Counter[str] = Counter()  # calls inside a renderer (held ones included)
        self._gate = threading.Event()
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        name = fn.__name__
        self.submitted[name] += 1

        def render() -> Any:
            with self._lock:
                self.running[name] += 1
            try:
                if name in self.held:
                    self._gate.wait()
                return fn(*args, **kwargs)
            finally:
                with self._lock:
                    self.running[name] -= 1

        return super().submit(render)

    def open(self) -> None:
        self._gate.set()


@contextmanager
def rendering_with(renderer: GatedRenderer) -> Iterator[GatedRenderer]:
    """Render with ``renderer`` for the block; opened and dropped at its end."""
    use_executor(renderer)
    try:
        yield renderer
    finally:
        renderer.open()
        use_executor(None)
        renderer.shutdown(wait=False)
