"""The court's X.509 identity: a root, the PDF-signing certificate, and the checkpoint key's
certificate. Pure: keys, names and times in, certificates out; :mod:`delivery.infra.keys` keeps
files.

- PDF signatures (PAdES) use **ECDSA P-256**: what Adobe Reader and poppler/NSS validate.
  Ed25519 PDF signatures are poorly supported by readers, so the Ed25519 key keeps signing
  what only Songda's verifier reads (checkpoints, bundle manifests — deterministic, so a bundle
  stays byte-identical between downloads) and is tied to the same identity by a certificate the
  court root issues for it (docs/decisions/0020-pades-and-court-certificates.md).
- A court without its own PKI gets a root made here (``songda keys create``); a court with one
  imports a key and chain its CA issued (``songda keys import``), checked by :func:`check_chain`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PDF_SIGNING_ALG = "ECDSA P-256"
ROOT_YEARS = 20
SIGNING_YEARS = 5
# Issued a little before "now", so a verifier whose clock is slightly behind still accepts it.
BACKDATE = timedelta(hours=1)
MIN_RSA_BITS = 2048
CN_BYTES = 64
READER_CURVES = (ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


class CertificateError(ValueError):
    """A key or certificate chain Songda cannot sign with; the message says why."""


@dataclass(frozen=True)
class Issuer:
    """Who issues a certificate: its certificate and private key."""

    certificate: x509.Certificate
    key: PrivateKey


def _name(court: str, role: str) -> x509.Name:
    """Country, the court as organisation, and a common name: the court's name followed by
    ``role`` when that fits X.509's 64-byte limit, else the role alone (the organisation
    still names the court in full)."""
    common = f"{court} {role}".strip() if role else court
    if len(common.encode()) > CN_BYTES:
        common = role or court.encode()[:CN_BYTES].decode(errors="ignore")
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, court),
            x509.NameAttribute(NameOID.COMMON_NAME, common),
        ]
    )


def _key_usage(*, sign: bool, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=sign,
        content_commitment=sign,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def new_signing_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def new_root(court: str, key: ec.EllipticCurvePrivateKey, now: datetime) -> x509.Certificate:
    """A self-signed court root (CA, may issue end-entity certificates only)."""
    name = _name(court, "电子送达根证书")
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + timedelta(days=365 * ROOT_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(sign=False, ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


def _end_entity(
    issuer: Issuer,
    subject: x509.Name,
    public_key: ec.EllipticCurvePublicKey | Ed25519PublicKey,
    now: datetime,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.certificate.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(
            min(now + timedelta(days=365 * SIGNING_YEARS), issuer.certificate.not_valid_after_utc)
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(sign=True, ca=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
    )


def issue_pdf_signing(
    issuer: Issuer, court: str, public_key: ec.EllipticCurvePublicKey, now: datetime
) -> x509.Certificate:
    """The certificate a PDF reader shows as the signer: the court's name as its common name."""
    return (
        _end_entity(issuer, _name(court, ""), public_key, now)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        )
        .sign(issuer.key, hashes.SHA256())
    )


def issue_checkpoint(
    issuer: Issuer, court: str, kid: str, public_key: Ed25519PublicKey, now: datetime
) -> x509.Certificate:
    """The certificate tying the Ed25519 checkpoint/manifest key ``kid`` to the court."""
    subject = _name(court, f"证据链签名密钥 {kid}")
    return _end_entity(issuer, subject, public_key, now).sign(issuer.key, hashes.SHA256())


def pem(certificates: Sequence[x509.Certificate]) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates)


def key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_pem_chain(data: bytes) -> list[x509.Certificate]:
    try:
        chain = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise CertificateError("not a PEM certificate chain") from None
    return chain


def load_pem_key(data: bytes, passphrase: bytes | None = None) -> PrivateKey:
    try:
        key = serialization.load_pem_private_key(data, password=passphrase)
    except (ValueError, TypeError):
        raise CertificateError(
            "not a PEM private key (or it is encrypted and the passphrase is wrong)"
        ) from None
    return _usable_key(key)


def load_pkcs12(data: bytes, passphrase: bytes) -> tuple[PrivateKey, list[x509.Certificate]]:
    """The key and chain (its certificate first) of a PKCS#12 file."""
    try:
        key, certificate, others = pkcs12.load_key_and_certificates(data, passphrase or None)
    except ValueError:
        raise CertificateError("not a PKCS#12 file, or the passphrase is wrong") from None
    if key is None or certificate is None:
        raise CertificateError("the PKCS#12 file holds no private key with its certificate")
    return _usable_key(key), [certificate, *others]


def _usable_key(key: object) -> PrivateKey:
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, READER_CURVES):
        return key
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size >= MIN_RSA_BITS:
        return key
    raise CertificateError(
        "the key must be ECDSA (P-256, P-384 or P-521) or RSA of at least 2048 bits: "
        "the algorithms PDF readers validate"
    )


def _signed_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def order_chain(
    leaf: x509.Certificate, others: Sequence[x509.Certificate]
) -> list[x509.Certificate]:
    """``leaf`` followed by its issuers among ``others``, up to a self-signed root if present."""
    chain, pool = [leaf], [c for c in others if c != leaf]
    while pool and not _signed_by(chain[-1], chain[-1]):
        issuer = next((c for c in pool if _signed_by(chain[-1], c)), None)
        if issuer is None:
            break
        chain.append(issuer)
        pool.remove(issuer)
    return chain


def check_chain(
    key: PrivateKey, certificates: Sequence[x509.Certificate], now: datetime | None
) -> list[x509.Certificate]:
    """The chain ordered from the key's certificate to the root; :class:`CertificateError`
    when the key has no certificate here, it is not valid ``now`` (unless None), or the chain
    does not reach a self-signed root (a verifier needs the root to trust)."""
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    leaf = next(
        (
            c
            for c in certificates
            if c.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            == public
        ),
        None,
    )
    if leaf is None:
        raise CertificateError("no certificate in the chain is for this private key")
    if now is not None and not leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc:
        raise CertificateError(
            f"the signing certificate is valid {leaf.not_valid_before_utc:%Y-%m-%d} to "
            f"{leaf.not_valid_after_utc:%Y-%m-%d}, not now"
        )
    _check_document_signer(leaf)
    chain = order_chain(leaf, certificates)
    if not _signed_by(chain[-1], chain[-1]):
        raise CertificateError(
            "the chain does not reach a self-signed root: give every issuer up to the "
            "court's root certificate"
        )
    return chain


def _check_document_signer(leaf: x509.Certificate) -> None:
    """A certificate that signs documents: not a CA's (a reader would not accept a root or
    intermediate as the signer), and, when it states key usage, digitalSignature or
    nonRepudiation among them."""
    try:
        is_ca = leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if is_ca:
        raise CertificateError(
            "the key's certificate is a CA certificate (BasicConstraints CA:TRUE): import the "
            "key of the court's document-signing certificate that the CA issued, not the CA's"
        )
    try:
        usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return
    if not (usage.digital_signature or usage.content_commitment):
        raise CertificateError(
            "the key's certificate may not sign documents (its key usage has neither "
            "digitalSignature nor nonRepudiation)"
        )


@dataclass(frozen=True)
class SigningIdentity:
    """What signs a certificate PDF: the PEM key and chain (leaf first, root last). Plain bytes,
    so it pickles to the render pool's worker process with the view model."""

    kid: str
    key_pem: bytes = field(repr=False)
    chain_pem: bytes

    def key(self) -> PrivateKey:
        return load_pem_key(self.key_pem)

    def chain(self) -> list[x509.Certificate]:
        return load_pem_chain(self.chain_pem)


def describe(certificate: x509.Certificate) -> str:
    """One line for ``songda keys list``: subject, validity and SHA-256 fingerprint."""
    fingerprint = certificate.fingerprint(hashes.SHA256()).hex()[:16]
    return (
        f"{certificate.subject.rfc4514_string()} "
        f"(valid to {certificate.not_valid_after_utc:%Y-%m-%d}, sha256 {fingerprint}…)"
    )
