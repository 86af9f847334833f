"""Third-party time for chain checkpoints: RFC 3161 requests, replies and tokens.

Pure (bytes in, answers out), so the worker that fetches tokens and ``songda verify`` that checks
them apply the same rule (docs/decisions/0021):

- **What is stamped**: the ``chain_checkpoint`` event itself. The request's message imprint is
  SHA-256 whose value *is* the event's chain hash (which covers the court's signature, the head it
  pins and the event's recorded time), so a token proves that this exact checkpoint existed at the
  TSA's ``genTime``, and fits no other event of any chain.
- **Whose time**: the token must be signed by the TSA certificate in configuration (or a
  certificate chaining to one of the certificates there, each link checked at ``genTime``) with
  ``timeStamping`` among its extended key usages. Nothing is fetched: no revocation check, since
  checking stays offline.
- **When**: ``genTime`` may not be earlier than the checkpoint's recorded time by more than
  :data:`CLOCK_SKEW` (the chain would then record a time the TSA contradicts). A ``genTime`` later
  than :data:`TOLERANCE` after it is genuine but corroborates only that the checkpoint existed by
  then, and verification says so.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from asn1crypto import cms, core, pem, tsp, x509
from cryptography import x509 as pyca_x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko.sign.general import CMSExtractionError, extract_certificate_info
from pyhanko.sign.validation.generic_cms import validate_sig_integrity

from delivery.vocabulary import EventType

IMPRINT_ALGORITHM = "sha256"
CLOCK_SKEW = timedelta(minutes=5)
TOLERANCE = timedelta(hours=24)
MAX_CHAIN = 8
TIME_STAMPING_OID = "1.3.6.1.5.5.7.3.8"
EVENT = EventType.CHECKPOINT_TIMESTAMPED


class TokenError(ValueError):
    """A reply or token that does not stand for the checkpoint; the message says why."""


@dataclass(frozen=True)
class Stamp:
    """What a good token says: who (the TSA's name) vouches for which time."""

    tsa: str
    gen_time: datetime


def timestamp_request(checkpoint_hash: str) -> tuple[bytes, int]:
    """The DER ``TimeStampReq`` for a checkpoint event's hash and the nonce it carries."""
    nonce = secrets.randbits(62) | (1 << 62)
    request = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": {"algorithm": IMPRINT_ALGORITHM},
                "hashed_message": _imprint(checkpoint_hash),
            },
            "nonce": nonce,
            "cert_req": True,
        }
    )
    return request.dump(), nonce


def token_from_reply(reply: bytes, nonce: int) -> bytes:
    """The DER token of a granted ``TimeStampResp`` answering the request with ``nonce``."""
    try:
        response = tsp.TimeStampResp.load(reply)
        status = response["status"]["status"].native
        if status not in ("granted", "granted_with_mods"):
            text = "; ".join(response["status"]["status_string"].native or [])
            raise TokenError(f"the TSA refused the request ({status}{': ' if text else ''}{text})")
        token = response["time_stamp_token"]
        if _tst_info(token)["nonce"].native != nonce:
            raise TokenError("the reply does not carry the request's nonce")
        return bytes(token.dump())
    except (ValueError, TypeError, KeyError) as exc:
        if isinstance(exc, TokenError):
            raise
        raise TokenError(f"not an RFC 3161 reply ({type(exc).__name__})") from None


def load_certificates(data: bytes) -> list[x509.Certificate]:
    """Every certificate of a PEM file (a TSA certificate or its chain); ValueError if none."""
    certs = [
        x509.Certificate.load(der)
        for kind, _headers, der in pem.unarmor(data, multiple=True)
        if kind == "CERTIFICATE"
    ]
    if not certs:
        raise ValueError("no PEM certificate in it")
    return certs


def tsa_name(cert: x509.Certificate) -> str:
    """The TSA's name as people read it: the certificate's common name, or its whole subject."""
    subject = cert.subject
    native = subject.native
    return str(native.get("common_name") or subject.human_friendly)


def check_token(
    token: bytes,
    checkpoint_hash: str,
    checkpoint_recorded_at: datetime,
    trusted: Sequence[x509.Certificate],
) -> Stamp:
    """The stamp of ``token`` if it covers exactly the checkpoint whose chain hash is
    ``checkpoint_hash`` and is signed under a ``trusted`` certificate; :class:`TokenError`
    naming the first thing that is wrong otherwise."""
    try:
        content = cms.ContentInfo.load(token)
        info = _tst_info(content)
        imprint = info["message_imprint"]
        algorithm = imprint["hash_algorithm"]["algorithm"].native
        hashed = imprint["hashed_message"].native
        gen_time = info["gen_time"].native
        signed_data = content["content"]
    except (ValueError, TypeError, KeyError):
        raise TokenError("not an RFC 3161 time-stamp token") from None
    if algorithm != IMPRINT_ALGORITHM or hashed != _imprint(checkpoint_hash):
        raise TokenError("the token covers another message, not this checkpoint")
    signer, others = _signer(signed_data, trusted)
    _check_signature(signed_data, signer)
    _check_trust(signer, [*others, *trusted], trusted, gen_time)
    if gen_time < checkpoint_recorded_at - CLOCK_SKEW:
        raise TokenError(
            "the TSA's time is before the checkpoint's recorded time: the chain's time is wrong"
        )
    return Stamp(tsa=tsa_name(signer), gen_time=gen_time)


def beyond_tolerance(stamp: Stamp, checkpoint_recorded_at: datetime) -> bool:
    """Whether the token came too late to corroborate the recorded time itself."""
    return stamp.gen_time > checkpoint_recorded_at + TOLERANCE


def _imprint(checkpoint_hash: str) -> bytes:
    try:
        digest = bytes.fromhex(checkpoint_hash)
    except (ValueError, TypeError):
        raise TokenError("the checkpoint hash is not hex") from None
    if len(digest) != hashlib.sha256().digest_size:
        raise TokenError("the checkpoint hash is not a SHA-256 value")
    return digest


def _tst_info(token: cms.ContentInfo) -> tsp.TSTInfo:
    if token["content_type"].native != "signed_data":
        raise ValueError("not SignedData")
    encapsulated = token["content"]["encap_content_info"]
    if encapsulated["content_type"].native != "tst_info":
        raise ValueError("not a TSTInfo")
    content = encapsulated["content"]
    if not isinstance(content, core.ParsableOctetString):
        raise ValueError("no TSTInfo")
    parsed = content.parsed
    if not isinstance(parsed, tsp.TSTInfo):
        raise ValueError("not a TSTInfo")
    return parsed


def _signer(
    signed_data: cms.SignedData, trusted: Sequence[x509.Certificate]
) -> tuple[x509.Certificate, list[x509.Certificate]]:
    """The signer's certificate (embedded, or one of the trusted) and the other embedded ones."""
    try:
        found = extract_certificate_info(signed_data)
        return found.signer_cert, list(found.other_certs)
    except CMSExtractionError:
        pass
    try:
        (signer_info,) = signed_data["signer_infos"]
        sid = signer_info["sid"].chosen
        for cert in trusted:
            if isinstance(sid, cms.IssuerAndSerialNumber) and (
                cert.issuer == sid["issuer"] and cert.serial_number == sid["serial_number"].native
            ):
                return cert, []
    except ValueError:
        pass
    raise TokenError("the token names no signer certificate it carries or that is configured")


def _check_signature(signed_data: cms.SignedData, signer: x509.Certificate) -> None:
    try:
        (signer_info,) = signed_data["signer_infos"]
        algorithm = signer_info["digest_algorithm"]["algorithm"].native
        content = bytes(signed_data["encap_content_info"]["content"])
        digest = hashlib.new(algorithm, content).digest()
        intact, valid = validate_sig_integrity(signer_info, signer, "tst_info", digest)
    except (ValueError, TypeError, KeyError) as exc:
        raise TokenError(f"the token's signature cannot be checked ({exc})") from None
    if not (intact and valid):
        raise TokenError("the TSA's signature does not verify (the token was altered or forged)")


def _check_trust(
    signer: x509.Certificate,
    pool: Sequence[x509.Certificate],
    trusted: Sequence[x509.Certificate],
    at: datetime,
) -> None:
    """The signer is a trusted certificate, or chains to one, every link valid at ``at``."""
    leaf = _pyca(signer)
    try:
        usages = leaf.extensions.get_extension_for_class(pyca_x509.ExtendedKeyUsage).value
    except pyca_x509.ExtensionNotFound:
        usages = pyca_x509.ExtendedKeyUsage([])
    if TIME_STAMPING_OID not in {u.dotted_string for u in usages}:
        raise TokenError(f"{tsa_name(signer)!r} is not a time-stamping certificate")
    anchors = {bytes(c.dump()) for c in trusted}
    candidates = [_pyca(c) for c in pool]
    current = leaf
    for _ in range(MAX_CHAIN):
        if not current.not_valid_before_utc <= at <= current.not_valid_after_utc:
            raise TokenError(f"{current.subject.rfc4514_string()} was not valid at {at}")
        if current.public_bytes(Encoding.DER) in anchors:
            return
        issuer = next((c for c in candidates if _issued(current, c)), None)
        if issuer is None:
            break
        current = issuer
    raise TokenError(
        f"signed by {tsa_name(signer)!r}, which is not the configured TSA certificate "
        "nor issued under it"
    )


def _issued(child: pyca_x509.Certificate, parent: pyca_x509.Certificate) -> bool:
    if child == parent or child.issuer != parent.subject:
        return False
    try:
        constraints = parent.extensions.get_extension_for_class(pyca_x509.BasicConstraints)
        if not constraints.value.ca:
            return False
        child.verify_directly_issued_by(parent)
    except (pyca_x509.ExtensionNotFound, InvalidSignature, ValueError, TypeError):
        return False
    return True


def _pyca(cert: x509.Certificate) -> pyca_x509.Certificate:
    return pyca_x509.load_der_x509_certificate(bytes(cert.dump()))
