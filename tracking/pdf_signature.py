"""PAdES signatures on certificate PDFs (pyHanko): what any PDF reader can check.

The court's PDF-signing key and chain (:class:`tracking.court_certificates.SigningIdentity`)
sign PAdES baseline B-B, or B-T with an RFC 3161 token from a
:class:`~pyhanko.sign.timestamps.TimeStamper`. All of it is CPU work — the signature field and
its widget over the stamp box, the room for the CMS, the digest of the byte ranges, and the CMS
itself (mostly asn1crypto encoding the signed attributes and the chain: ~10 ms a certificate)
— and runs synchronously in the render pool's worker right after the render, except the wait
for the TSA (decision 0052):

- :func:`signed_pdf` — B-B: the PDF signed, in one call.
- B-T, in three steps (pyHanko's interrupted signing): :func:`signed_awaiting_token` — the
  PDF prepared with room for the token and the court's CMS made without it (pool);
  :func:`signature_time_stamp` — async, on the caller's event loop: the TSA's token on the
  signature value, pyHanko's own ``signature_time_stamp_token`` attribute; and
  :func:`with_time_stamp` — the token added to the CMS as that unsigned attribute and the CMS
  written into the room (pool). Waiting for the TSA holds no render worker: a remote TSA's
  round trip would otherwise keep a CPU-bound worker idle for every certificate.

The signature is visible on the page: the certificate template draws the stamp — the court's
name, the signing time in the court's zone, the chain head — in the box with the id
:data:`STAMP_ANCHOR`, with the bundled fonts and the same glyph check as every other word of the
certificate; the signature's widget covers exactly that box (WeasyPrint writes a named
destination for every element ``id``), so a reader shows it as the signature field. The signing
time is the caller's (the injected clock): the same instant on the page, in the CMS
``signingTime`` and in the signature dictionary.
"""

from __future__ import annotations

import asyncio
import functools
import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from asn1crypto import cms, pem
from asn1crypto import x509 as asn1_x509
from pyhanko.keys import load_private_key_from_pemder_data
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.attributes import TSTProvider
from pyhanko.sign.fields import SigFieldSpec, SigSeedSubFilter
from pyhanko.sign.general import simple_cms_attribute
from pyhanko.sign.signers.pdf_byterange import PreparedByteRangeDigest
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko.sign.signers.pdf_signer import PdfTBSDocument
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.stamp import TextStampStyle
from pyhanko_certvalidator.registry import SimpleCertificateStore

from tracking.court_certificates import SigningIdentity

FIELD_NAME = "CourtSignature"
STAMP_ANCHOR = "court-signature"
DIGEST = "sha256"
CMS_BYTES = 4096  # signed attributes, the ECDSA/RSA signature, structure; plus the chain's DER
TOKEN_BYTES = 16384  # an RFC 3161 token with the TSA's certificates
TOKEN_ATTRIBUTE = "signature_time_stamp_token"  # the CMS unsigned attribute for B-T (RFC 3161)
POINTS_PER_MM = 72 / 25.4
# Where the stamp goes when the document has no anchor: the last page's lower left (points).
FALLBACK_ORIGIN = (42.0, 42.0)


@dataclass(frozen=True)
class Appearance:
    """Where the signature is seen: the court (its location), when, and the size of the stamp
    box the page draws (millimetres)."""

    court: str
    signed_at: datetime
    size_mm: tuple[float, float]
    reason: str = "送达回证 / Proof of service"


@dataclass(frozen=True)
class PreparedPdf:
    """A PDF ready for its signature: its bytes with the room reserved for the CMS, and the
    digest of the byte ranges the signature covers (both pickle: they cross the pool)."""

    pdf: bytes
    digest: PreparedByteRangeDigest


@dataclass(frozen=True)
class AwaitingToken:
    """A PDF signed by the court whose CMS still lacks the TSA's token (B-T): the prepared PDF,
    the CMS without the token (DER) and its signature value — what the token is asked for.
    All of it pickles: it crosses the pool twice."""

    prepared: PreparedPdf
    cms: bytes
    signature: bytes


def signed_pdf(pdf: bytes, identity: SigningIdentity, appearance: Appearance) -> bytes:
    """``pdf`` signed by the court (PAdES-B-B): its signature field added (an incremental
    update) and the CMS written into it."""
    return asyncio.run(_signed(pdf, identity, appearance))


async def _signed(pdf: bytes, identity: SigningIdentity, appearance: Appearance) -> bytes:
    prepared = await _prepare(pdf, identity, appearance, with_token=False)
    return await _written(prepared, await _cms(prepared, identity, appearance.signed_at))


def signed_awaiting_token(
    pdf: bytes, identity: SigningIdentity, appearance: Appearance
) -> AwaitingToken:
    """``pdf`` with the court's signature field and room for the CMS and a token, and the CMS
    made without the token (for :func:`signature_time_stamp`, then :func:`with_time_stamp`)."""
    return asyncio.run(_awaiting_token(pdf, identity, appearance))


async def _awaiting_token(
    pdf: bytes, identity: SigningIdentity, appearance: Appearance
) -> AwaitingToken:
    prepared = await _prepare(pdf, identity, appearance, with_token=True)
    signed = await _cms(prepared, identity, appearance.signed_at)
    signature = signed["content"]["signer_infos"][0]["signature"].native
    return AwaitingToken(prepared, signed.dump(), signature)


async def signature_time_stamp(awaiting: AwaitingToken, timestamper: TimeStamper) -> bytes:
    """The TSA's token on the signature value (DER), asked for as pyHanko's signer asks for
    it when it is given the timestamper. Raises pyHanko's ``TimestampRequestError`` when the
    TSA does not answer."""
    provider = TSTProvider(
        digest_algorithm=DIGEST,
        data_to_ts=awaiting.signature,
        timestamper=timestamper,
        attr_type=TOKEN_ATTRIBUTE,
    )
    token: bytes = (await provider.build_attr_value()).dump()
    return token


def with_time_stamp(awaiting: AwaitingToken, token: bytes) -> bytes:
    """The signed PDF (PAdES-B-T): the token added to the CMS's signer info as its unsigned
    ``signature_time_stamp_token`` attribute — as pyHanko adds its own unsigned attributes to
    a finished CMS — and the CMS written into the reserved room."""
    signed = cms.ContentInfo.load(awaiting.cms)
    signer_info = signed["content"]["signer_infos"][0]
    stamp = cms.ContentInfo.load(token)
    attribute = simple_cms_attribute(TOKEN_ATTRIBUTE, stamp)  # type: ignore[no-untyped-call]
    signer_info["unsigned_attrs"] = cms.CMSAttributes([attribute])
    return asyncio.run(_written(awaiting.prepared, signed))


def sign_pdf(
    pdf: bytes,
    identity: SigningIdentity,
    appearance: Appearance,
    *,
    timestamper: TimeStamper | None = None,
) -> bytes:
    """Every step in one synchronous call (the CLI, the tests)."""
    if timestamper is None:
        return signed_pdf(pdf, identity, appearance)
    awaiting = signed_awaiting_token(pdf, identity, appearance)
    return with_time_stamp(awaiting, asyncio.run(signature_time_stamp(awaiting, timestamper)))


async def _prepare(
    pdf: bytes, identity: SigningIdentity, appearance: Appearance, with_token: bool
) -> PreparedPdf:
    """``pdf`` with the court's signature field added (an incremental update), ready for the
    CMS; ``with_token`` reserves room for an RFC 3161 token (B-T)."""
    signer = _signer(identity)
    chain = [signer.signing_cert, *signer.cert_registry]  # the CMS embeds them all
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    page, box = _stamp_box(writer.prev, appearance.size_mm)
    meta = signers.PdfSignatureMetadata(
        field_name=FIELD_NAME,
        md_algorithm=DIGEST,
        subfilter=SigSeedSubFilter.PADES,
        reason=appearance.reason,
        location=appearance.court,
    )
    pdf_signer = signers.PdfSigner(
        meta,
        signer,
        # The page draws the stamp; the widget adds only a frame around it.
        stamp_style=TextStampStyle(stamp_text="", border_width=1),
        new_field_spec=SigFieldSpec(FIELD_NAME, on_page=page, box=box),
    )
    # pyHanko's one-call sign_pdf takes its own clock; these are its documented steps, with
    # the signing time set to the caller's.
    session = pdf_signer.init_signing_session(writer)
    session.system_time = appearance.signed_at
    validation = await session.perform_presign_validation(writer)
    # A fixed room for the CMS, not pyHanko's estimate: estimating signs a dummy and, for B-T,
    # asks the TSA for a dummy token — a second TSA round trip per certificate.
    reserved = CMS_BYTES + sum(len(c.dump()) for c in chain)
    if with_token:
        reserved += TOKEN_BYTES
    reserved += reserved % 2  # pyHanko wants an even count
    tbs = session.prepare_tbs_document(validation_info=validation, bytes_reserved=reserved)
    digest, output = tbs.digest_tbs_document()
    output.seek(0)
    return PreparedPdf(output.read(), digest)


async def _cms(
    prepared: PreparedPdf, identity: SigningIdentity, signed_at: datetime
) -> cms.ContentInfo:
    """The court's CMS signature over the prepared digest, signed at ``signed_at``."""
    return await _signer(identity).async_sign(
        prepared.digest.document_digest,
        DIGEST,
        use_pades=True,
        signed_attr_settings=PdfCMSSignedAttributes(signing_time=signed_at),
    )


async def _written(prepared: PreparedPdf, signed: cms.ContentInfo) -> bytes:
    """``signed`` written into the prepared PDF's reserved room."""
    output = io.BytesIO(prepared.pdf)
    post = PdfTBSDocument.resume_signing(output, prepared.digest, signed)
    await post.post_signature_processing(output)
    return output.getvalue()


@functools.lru_cache(maxsize=8)
def _signer(identity: SigningIdentity) -> signers.SimpleSigner:
    """The court's signer for ``identity``, its key and chain parsed once per process."""
    chain = [asn1_x509.Certificate.load(der) for _, _, der in pem.unarmor(identity.chain_pem, True)]
    return signers.SimpleSigner(
        signing_cert=chain[0],
        signing_key=load_private_key_from_pemder_data(identity.key_pem, passphrase=None),
        cert_registry=SimpleCertificateStore.from_certs(chain[1:]),  # type: ignore[no-untyped-call]
    )


def _pages(reader: PdfFileReader) -> list[generic.Reference]:
    """The page references in document order (walking the page tree)."""
    found: list[generic.Reference] = []

    def walk(node: generic.IndirectObject) -> None:
        obj: Any = node.get_object()  # type: ignore[no-untyped-call]
        if obj.get("/Type") == "/Pages":
            for kid in obj["/Kids"]:
                walk(kid)
        else:
            found.append(node.reference)

    walk(reader.root.raw_get("/Pages"))
    return found


def _stamp_box(
    reader: PdfFileReader, size_mm: tuple[float, float]
) -> tuple[int, tuple[int, int, int, int]]:
    """(page index, box in points) of the stamp: at :data:`STAMP_ANCHOR`'s destination."""
    width, height = (round(v * POINTS_PER_MM) for v in size_mm)
    pages = _pages(reader)
    destination = _named_destination(reader, STAMP_ANCHOR)
    if destination is None:
        left, bottom = FALLBACK_ORIGIN
        return len(pages) - 1, (int(left), int(bottom), int(left) + width, int(bottom) + height)
    page_ref, left, top = destination
    page = pages.index(page_ref) if page_ref in pages else len(pages) - 1
    x, y = round(left), round(top)
    return page, (x, y - height, x + width, y)


def _named_destination(
    reader: PdfFileReader, name: str
) -> tuple[generic.Reference, float, float] | None:
    """The page and top-left point of a named ``/XYZ`` destination (a flat name tree, as
    WeasyPrint writes it), or None."""
    try:
        names: Any = reader.root["/Names"]["/Dests"]["/Names"]
    except KeyError:
        return None
    for i in range(0, len(names) - 1, 2):
        if str(names[i]) == name:
            target: Any = names[i + 1]
            if len(target) >= 4 and target[1] == "/XYZ":
                return target.raw_get(0).reference, float(target[2]), float(target[3])
    return None
