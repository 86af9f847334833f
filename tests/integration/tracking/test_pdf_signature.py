"""The court's PAdES signature on the stored certificate PDF, checked the way a judge's reader
would: pyHanko's validator trusting only the court root, and poppler's ``pdfsig``. Tampering (one
byte, an incremental update adding text), a key rotation after signing, PAdES-B-T with a TSA,
and key sets imported from a court's own CA (PEM and PKCS#12)."""

from __future__ import annotations

import asyncio
import io
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from api_client import Api
from asn1crypto import keys as asn1_keys
from cli_runner import songda
from conftest import COURT
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pdf_checks import asn1, court_root, validate_signature
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko.sign.validation.status import (
    SignatureCoverageLevel,
    TimestampSignatureStatus,
)
from pyhanko.stamp import TextStamp, TextStampStyle
from pypdf import PdfReader

from delivery.context import Context
from delivery.infra.keys import KEY_CERT, create_key, load_signing_identity
from integration.tracking.support import issued, production_env, proof
from templates.certificate import SIGNATURE_BOX_MM
from tracking import court_certificates as certs
from tracking.court_certificates import SigningIdentity
from tracking.pdf_signature import FIELD_NAME, Appearance, sign_pdf

SERVED = pytest.mark.usefixtures("worker")  # dispatches served through the API and worker
PDFSIG = shutil.which("pdfsig")


async def assert_signed_by(pdf: bytes, identity: SigningIdentity, root: x509.Certificate) -> None:
    """Intact, trusted under the court root, signer = the key set's certificate, the whole
    file covered, nothing changed after signing."""
    status = await validate_signature(pdf, root)
    assert status.intact and status.valid and status.trusted, status.pretty_print_details()
    assert status.signing_cert.dump() == asn1(identity.chain()[0]).dump()
    assert status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    assert status.modification_level == ModificationLevel.NONE
    assert status.docmdp_ok


async def stored_certificate(
    api: Api, reference: str = "case-sys-0001"
) -> tuple[dict[str, Any], bytes]:
    """A dispatch served by e-mail through the API and worker, and its stored certificate."""
    dispatch_id = (await api.new_dispatch(reference=reference))["id"]
    await api.until_state(dispatch_id, "served")
    [row] = await issued(api, dispatch_id)
    pdf = await (await proof(api, dispatch_id)).read()
    return row, pdf


@SERVED
async def test_the_stored_certificate_is_signed_by_the_court_with_a_visible_stamp(
    api: Api, ctx: Context
) -> None:
    row, pdf = await stored_certificate(api)
    identity = load_signing_identity(ctx.settings.keys_dir)
    await assert_signed_by(pdf, identity, court_root(ctx.settings.keys_dir))
    status = await validate_signature(pdf, court_root(ctx.settings.keys_dir))
    assert status.signer_reported_dt == ctx.clock.now()  # the injected clock's time
    assert status.signing_cert.subject.native["organization_name"] == COURT
    assert identity.chain()[0].public_key().curve.name == "secp256r1"  # type: ignore[union-attr]
    assert status.timestamp_validity is None  # B-B: no TSA configured

    # Visible: the page draws the stamp (court, signing time in the court's zone, chain head)
    # with the bundled fonts, and the signature's widget covers exactly that box.
    reader = PdfFileReader(io.BytesIO(pdf))
    [signature] = reader.embedded_signatures
    assert signature.field_name == FIELD_NAME
    field = signature.sig_field
    left, bottom, right, top = (float(v) for v in field["/Rect"])
    width, height = (round(v * 72 / 25.4) for v in SIGNATURE_BOX_MM)
    assert (round(right - left), round(top - bottom)) == (width, height)
    assert field["/P"] == reader.root["/Pages"]["/Kids"][-1]  # the last page
    last_page = PdfReader(io.BytesIO(pdf)).pages[-1]
    inside: list[str] = []

    def in_box(text: str, cm: Any, tm: Any, _font: Any, _size: Any) -> None:
        x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]  # the text's origin on the page
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        if left - 1 <= x <= right and bottom - 1 <= y <= top:
            inside.append(text)

    last_page.extract_text(visitor_text=in_box)
    drawn = "".join("".join(inside).split())
    for expected in (COURT, "签名时间2026-11-2310:00:00(Asia/Shanghai)", row["chain_head"]):
        assert expected in drawn, (expected, drawn)


@SERVED
async def test_previews_are_not_signed(api: Api) -> None:
    dispatch_id = (await api.new_dispatch())["id"]
    await api.until_state(dispatch_id, "in_progress")
    response = await proof(api, dispatch_id)
    assert response.headers["Songda-Certificate"] == "preview"
    assert PdfFileReader(io.BytesIO(await response.read())).embedded_signatures == []


@SERVED
async def test_tampering_is_reported(api: Api, ctx: Context) -> None:
    _row, pdf = await stored_certificate(api)
    root = court_root(ctx.settings.keys_dir)

    one_byte = bytearray(pdf)
    one_byte[11] ^= 0x01  # in the header's binary comment: the file still parses
    flipped = await validate_signature(bytes(one_byte), root)
    assert not flipped.intact and not flipped.bottom_line

    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    TextStamp(writer, TextStampStyle(stamp_text="NOT SERVED")).apply(0, 100, 400)
    out = io.BytesIO()
    writer.write(out)
    updated = await validate_signature(out.getvalue(), root)
    assert updated.intact  # the signed revision itself is untouched...
    assert updated.coverage != SignatureCoverageLevel.ENTIRE_FILE  # ...but it is not the file
    assert updated.modification_level == ModificationLevel.OTHER
    assert not updated.docmdp_ok or updated.modification_level > ModificationLevel.FORM_FILLING


@SERVED
@pytest.mark.skipif(PDFSIG is None, reason="poppler-utils (pdfsig) is not installed")
async def test_pdfsig_reads_the_p256_signature_and_the_tampered_copy_fails(
    api: Api, tmp_path: Path
) -> None:
    _row, pdf = await stored_certificate(api)
    signed, tampered = tmp_path / "signed.pdf", tmp_path / "tampered.pdf"
    signed.write_bytes(pdf)
    tampered.write_bytes(pdf[:11] + bytes([pdf[11] ^ 0x01]) + pdf[12:])

    def pdfsig(path: Path) -> str:
        assert PDFSIG is not None
        result = subprocess.run([PDFSIG, str(path)], capture_output=True, text=True, check=False)
        return result.stdout + result.stderr

    good = await asyncio.to_thread(pdfsig, signed)
    assert "Signature Validation: Signature is Valid." in good, good
    assert "Total document signed" in good
    assert f"Signer Certificate Common Name: {COURT}" in good
    # The court root is in no NSS database here: pdfsig says so, which is what a reader says
    # until the court root is trusted.
    assert "Certificate Validation:" in good
    bad = await asyncio.to_thread(pdfsig, tampered)
    assert "Signature is Valid." not in bad and "Signature Validation:" in bad, bad


@SERVED
async def test_a_certificate_signed_before_a_rotation_still_validates(
    api: Api, ctx: Context
) -> None:
    _row, before = await stored_certificate(api)
    old = load_signing_identity(ctx.settings.keys_dir)
    ctx.clock.advance(timedelta(days=1))  # type: ignore[attr-defined]
    create_key(ctx.settings.keys_dir, ctx.clock, COURT)
    new = load_signing_identity(ctx.settings.keys_dir)
    assert new.kid != old.kid
    root = court_root(ctx.settings.keys_dir)
    await assert_signed_by(before, old, root)  # old PDFs keep validating under the same root
    ctx.signing_identity = new  # as a restarted process would load it
    _row, after = await stored_certificate(api, "case-sys-0002")
    await assert_signed_by(after, new, root)


def test_the_ed25519_key_is_certified_by_the_court_root(tmp_path: Path, clock: Any) -> None:
    keys_dir = tmp_path / "keys"
    created = create_key(keys_dir, clock, COURT)
    certified, root = certs.load_pem_chain((keys_dir / f"{created.kid}{KEY_CERT}").read_bytes())
    assert certified.public_key() == created.public_key
    certified.verify_directly_issued_by(root)
    assert root == court_root(keys_dir)
    assert (keys_dir / "root.key").stat().st_mode & 0o777 == 0o600
    assert (keys_dir / f"{created.kid}.pdf.key").stat().st_mode & 0o777 == 0o600


async def test_the_court_certificates_are_published(api: Api, ctx: Context) -> None:
    response = await api.client.get("/.well-known/songda-court-certificates.json")
    assert response.status == 200
    published = await response.json()
    [root_pem] = published["roots"]
    [root] = certs.load_pem_chain(root_pem.encode())
    assert root == court_root(ctx.settings.keys_dir)
    [entry] = published["keys"]
    key = ctx.require_signing_key()
    assert entry["kid"] == key.kid
    certified, issuer = certs.load_pem_chain(entry["key_certificate"].encode())
    assert certified.public_key() == key.public_key and issuer == root
    certified.verify_directly_issued_by(root)
    signing = certs.load_pem_chain(entry["pdf_signing_chain"].encode())
    assert signing == load_signing_identity(ctx.settings.keys_dir).chain()
    assert "PRIVATE" not in await response.text()


def _tsa(now: datetime) -> tuple[DummyTimeStamper, x509.Certificate]:
    """A TSA: a root and a time-stamping certificate it issued (critical timeStamping EKU)."""
    root_key = certs.new_signing_key()
    tsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # pyHanko's dummy
    root = certs.new_root("Test TSA", root_key, now)
    tsa = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test TSA unit")]))
        .issuer_name(root.subject)
        .public_key(tsa_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    key_der = tsa_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    stamper = DummyTimeStamper(
        tsa_cert=asn1(tsa),
        tsa_key=asn1_keys.PrivateKeyInfo.load(key_der),
        certs_to_embed=[asn1(root)],
    )
    return stamper, root


@SERVED
async def test_pades_b_t_carries_the_tsa_token(api: Api, ctx: Context) -> None:
    stamper, tsa_root = _tsa(datetime.now(UTC))
    ctx.timestamper = stamper
    _row, pdf = await stored_certificate(api)
    root = court_root(ctx.settings.keys_dir)
    status = await validate_signature(pdf, root, tsa_root)
    assert status.intact and status.valid and status.trusted
    token = status.timestamp_validity
    assert isinstance(token, TimestampSignatureStatus)
    assert token.intact and token.valid and token.trusted


def _court_ca(tmp_path: Path, now: datetime) -> tuple[Path, Path, Path, x509.Certificate]:
    """A court's own CA (root → intermediate → signing certificate), as PEM files and PKCS#12
    (passphrase ``s3cret``): key, chain, p12, and the root to trust."""
    root_key, sub_key, leaf_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root = certs.new_root("某高级人民法院", root_key, now)
    sub = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "法院 CA 二级")]))
        .issuer_name(root.subject)
        .public_key(sub_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    intermediate = certs.Issuer(sub, sub_key)
    leaf = certs.issue_pdf_signing(intermediate, COURT, leaf_key.public_key(), now)
    key_path, chain_path, p12_path = (tmp_path / n for n in ("court.key", "chain.pem", "c.p12"))
    key_path.write_bytes(certs.key_pem(leaf_key))
    chain_path.write_bytes(certs.pem([root, leaf, sub]))  # any order: the import sorts it
    p12_path.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"court",
            leaf_key,
            leaf,
            [sub, root],
            serialization.BestAvailableEncryption(b"s3cret"),
        )
    )
    return key_path, chain_path, p12_path, root


@pytest.mark.parametrize("form", ["pem", "pkcs12"])
def test_keys_import_takes_the_court_cas_key_and_chain(tmp_path: Path, form: str) -> None:
    env = production_env(tmp_path)
    key_path, chain_path, p12_path, root = _court_ca(tmp_path, datetime.now(UTC))
    if form == "pem":
        args = ["--key", str(key_path), "--chain", str(chain_path)]
    else:
        args = ["--pkcs12", str(p12_path)]
        wrong = songda("keys", "import", *args, env={**env, "SONGDA_KEY_PASSPHRASE": "nope"})
        assert wrong.returncode == 2 and "passphrase" in wrong.stderr
        env["SONGDA_KEY_PASSPHRASE"] = "s3cret"
    imported = songda("keys", "import", *args, env=env)
    assert imported.returncode == 0, imported.stderr
    assert "PRIVATE" not in imported.stdout + imported.stderr
    assert "s3cret" not in imported.stdout + imported.stderr
    assert imported.stdout.rstrip().endswith("active")
    assert songda("config", "check", env=env).returncode == 0

    keys_dir = tmp_path / "var" / "keys"
    identity = load_signing_identity(keys_dir)
    assert [c.subject for c in identity.chain()][-1] == root.subject  # leaf first, root last
    assert len(identity.chain()) == 3
    pdf = sign_pdf(
        _blank_pdf(),
        identity,
        Appearance(COURT, datetime.now(UTC), (90.0, 24.0)),
    )
    asyncio.run(assert_signed_by(pdf, identity, root))
    # The Ed25519 key is vouched for by the imported signing certificate (no CA key here).
    certified, *issuers = certs.load_pem_chain(
        (keys_dir / f"{identity.kid}{KEY_CERT}").read_bytes()
    )
    certified.verify_directly_issued_by(issuers[0])
    assert issuers[0] == identity.chain()[0]


def _blank_pdf() -> bytes:
    from templates.fonts import font_set
    from templates.pdf import html_to_pdf

    return html_to_pdf("<html><body><p>Proof</p></body></html>", font_set())


def test_keys_import_refuses_a_key_without_its_chain(tmp_path: Path) -> None:
    env = production_env(tmp_path)
    key_path, chain_path, _p12, _root = _court_ca(tmp_path, datetime.now(UTC))
    only_leaf = tmp_path / "leaf.pem"
    only_leaf.write_bytes(certs.pem([certs.load_pem_chain(chain_path.read_bytes())[1]]))
    refused = songda("keys", "import", "--key", str(key_path), "--chain", str(only_leaf), env=env)
    assert refused.returncode == 2 and "root" in refused.stderr
    other = ec.generate_private_key(ec.SECP256R1())
    key_path.write_bytes(certs.key_pem(other))
    mismatched = songda(
        "keys", "import", "--key", str(key_path), "--chain", str(chain_path), env=env
    )
    assert mismatched.returncode == 2 and "no certificate" in mismatched.stderr
    # The CA's own key and certificate are not a document signer.
    ca_key = ec.generate_private_key(ec.SECP256R1())
    key_path.write_bytes(certs.key_pem(ca_key))
    chain_path.write_bytes(certs.pem([certs.new_root("某高级人民法院", ca_key, datetime.now(UTC))]))
    as_ca = songda("keys", "import", "--key", str(key_path), "--chain", str(chain_path), env=env)
    assert as_ca.returncode == 2 and "CA certificate" in as_ca.stderr
    assert not (tmp_path / "var" / "keys").exists()  # nothing stored


def test_config_check_names_a_missing_signing_certificate(tmp_path: Path) -> None:
    env = production_env(tmp_path)
    created = songda("keys", "create", env=env)
    kid = created.stdout.split("\t")[0]
    (tmp_path / "var" / "keys" / f"{kid}.pdf.pem").unlink()  # a key made before certificates
    check = songda("config", "check", env=env)
    assert check.returncode == 2
    assert "PDF signing certificate" in check.stdout and f"{kid}.pdf.pem" in check.stdout
    listed = songda("keys", "list", env=env)
    assert "no PDF signing certificate" in listed.stdout
    assert songda("keys", "create", env=env).returncode == 0  # a new key set fixes it
    assert songda("config", "check", env=env).returncode == 0
