"""A stand-in time-stamping authority (RFC 3161 over HTTP) for the sandbox and the tests.

It issues real tokens: pyHanko's ``DummyTimeStamper`` signs them with a TSA certificate and key
of its own (:func:`create_tsa_identity`), and the stamps carry the time of the clock it is given
— the sandbox's clock, so moving the sandbox clock forward moves the TSA's time with it, as a
real TSA would agree with a correct court clock. Tests can make it slow (``delay``) or down
(``failing``) to show that service never waits for it.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from asn1crypto import cms, core, keys, tsp, x509
from cryptography import x509 as pyca_x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.sign.general import as_signing_certificate
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko_certvalidator.util import get_pyca_cryptography_hash

from delivery.clock import Clock
from delivery.infra.private_files import private_dir
from delivery.sandbox.loopback import serve_on_loopback

QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"
MAX_QUERY = 64 * 1024
CERT_FILE = "tsa.pem"
KEY_FILE = "tsa.key"
VALIDITY = timedelta(days=3650)


SANDBOX_TSA_DIR = "sandbox_tsa"


def sandbox_tsa_certificate(data_dir: Path) -> Path:
    """Where the sandbox keeps its TSA's certificate (``songda verify --db --sandbox``)."""
    return data_dir / SANDBOX_TSA_DIR / CERT_FILE


def create_tsa_identity(directory: Path, name: str, clock: Clock) -> tuple[Path, Path]:
    """A self-signed RSA time-stamping certificate and its key in ``directory`` (kept when
    already there): (certificate PEM, key PEM). The key file is 0600 from its first byte."""
    cert_path, key_path = directory / CERT_FILE, directory / KEY_FILE
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    private_dir(directory)
    # DummyTimeStamper signs with RSA only.
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = pyca_x509.Name(
        [
            pyca_x509.NameAttribute(NameOID.COMMON_NAME, name),
            pyca_x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Songda sandbox"),
        ]
    )
    now = clock.now()
    cert = (
        pyca_x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(pyca_x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + VALIDITY)
        .add_extension(pyca_x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            pyca_x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(pyca_x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key_pem)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def _attribute(name: str, value: Any) -> cms.CMSAttribute:
    return cms.CMSAttribute({"type": name, "values": (value,)})


class _ParsedKeyTimeStamper(DummyTimeStamper):
    """``DummyTimeStamper`` with its RSA key parsed once: pyHanko's parses the key again for
    every token, and OpenSSL's RSA key check made that ~35 ms of CPU per token — on the
    sandbox's (and the benchmark's) own event loop. Signs as pyHanko does (RFC 3161 signed
    attributes, PKCS#1 v1.5)."""

    def __init__(self, cert: x509.Certificate, key: rsa.RSAPrivateKey, **options: Any) -> None:
        key_info = keys.PrivateKeyInfo.load(
            key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        super().__init__(cert, key_info, **options)
        self._parsed_key = key

    def _sign_tst_info(
        self, tst_info_data: bytes, md_algorithm: str, dt: datetime
    ) -> tuple[bytes, cms.CMSAttributes]:
        digest = hashes.Hash(get_pyca_cryptography_hash(md_algorithm))
        digest.update(tst_info_data)
        signed_attrs = cms.CMSAttributes(
            [
                _attribute("content_type", "tst_info"),
                _attribute("signing_time", cms.Time({"utc_time": core.UTCTime(dt)})),
                _attribute("signing_certificate", as_signing_certificate(self.tsa_cert)),
                _attribute("message_digest", digest.finalize()),
            ]
        )
        signature = self._parsed_key.sign(
            signed_attrs.dump(), PKCS1v15(), get_pyca_cryptography_hash(md_algorithm.upper())
        )
        return signature, signed_attrs


@dataclass
class TsaStandIn:
    """An RFC 3161 endpoint (``POST /``) around pyHanko's ``DummyTimeStamper`` (its key parsed
    once)."""

    cert_path: Path
    key_path: Path
    clock: Clock
    delay: float = 0.0  # seconds before answering: a slow TSA
    failing: bool = False  # answer 503: a TSA that is down
    issued: int = 0

    def __post_init__(self) -> None:
        self._cert = x509.Certificate.load(
            pyca_x509.load_pem_x509_certificate(self.cert_path.read_bytes()).public_bytes(
                serialization.Encoding.DER
            )
        )
        key = serialization.load_pem_private_key(self.key_path.read_bytes(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"{self.key_path}: the stand-in TSA signs with RSA only")
        self._key = key

    async def handle(self, request: web.Request) -> web.Response:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.failing:
            return web.Response(status=503, text="the sandbox TSA is down")
        if request.content_type != QUERY_TYPE:
            return web.Response(status=415, text=f"send {QUERY_TYPE}")
        body = await request.content.read(MAX_QUERY + 1)
        if len(body) > MAX_QUERY:
            return web.Response(status=413, text="query too large")
        try:
            query = tsp.TimeStampReq.load(body)
            query.native  # noqa: B018 — parse it all now, so a bad query is a 400 here
        except (ValueError, TypeError):
            return web.Response(status=400, text="not an RFC 3161 TimeStampReq")
        stamper = _ParsedKeyTimeStamper(self._cert, self._key, fixed_dt=self.clock.now())
        reply = stamper.request_tsa_response(query)
        self.issued += 1
        return web.Response(body=reply.dump(), content_type=REPLY_TYPE)

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_QUERY)
        app.router.add_post("/", self.handle)
        return app


async def start_tsa_standin(standin: TsaStandIn) -> tuple[web.AppRunner, str]:
    """Serve ``standin`` on a free loopback port: (runner to clean up, its URL)."""
    runner, url = await serve_on_loopback(standin.app())
    return runner, f"{url}/"
