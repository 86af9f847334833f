"""PAdES signatures on certificate PDFs (pyHanko): what any PDF reader can check.

:func:`sign_pdf` signs PDF bytes with the court's PDF-signing key and chain
(:class:`tracking.court_certificates.SigningIdentity`) as PAdES baseline B-B, or B-T when given
an RFC 3161 :class:`~pyhanko.sign.timestamps.TimeStamper`. The signature is visible on the page:
a stamp with the court's name, the signing time in the court's zone and the chain head the
certificate pins. CPU work and synchronous: call it in the render pool's worker process.

- The stamp sits where the document reserved room for it: the named destination
  :data:`STAMP_ANCHOR` (WeasyPrint writes one for every element ``id``), its top-left corner,
  with the size the caller gives (the template's box); without the anchor, at the foot of the
  last page.
- Its text is drawn with the bundled Noto Sans CJK SC, subset once per process to the
  characters of the stamp (the full font is 16 MB: parsing it per signature would cost more
  than the render). A character the font lacks stops signing (``MissingGlyphs``, field
  ``signature_stamp``, so the certificate is flagged as blocked): never an empty box on a
  signed proof.
- The signing time is the caller's (the injected clock), the same instant in the CMS
  ``signingTime``, the signature dictionary and the stamp.
"""

from __future__ import annotations

import asyncio
import functools
import io
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from fontTools import subset
from fontTools.ttLib import TTFont
from pyhanko.keys import load_private_key_from_pemder_data
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.font.api import FontEngineFactory
from pyhanko.pdf_utils.font.opentype import GlyphAccumulator
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.pdf_utils.writer import BasePdfFileWriter
from pyhanko.sign import signers
from pyhanko.sign.fields import SigFieldSpec, SigSeedSubFilter
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.stamp import TextStampStyle
from pyhanko_certvalidator.registry import SimpleCertificateStore

from templates.fonts import MissingGlyphs
from tracking.court_certificates import SigningIdentity

FIELD_NAME = "CourtSignature"
STAMP_ANCHOR = "court-signature"
FONT_FILE = "NotoSansCJKsc-Regular.otf"
FONT_SIZE = 8
CMS_BYTES = 4096  # signed attributes, the ECDSA/RSA signature, structure; plus the chain's DER
TOKEN_BYTES = 16384  # an RFC 3161 token with the TSA's certificates
POINTS_PER_MM = 72 / 25.4
# Where the stamp goes when the document has no anchor: the last page's lower left (points).
FALLBACK_ORIGIN = (42.0, 42.0)
STAMP_TEXT = (
    "%(court)s\n"
    "电子签名 Digitally signed\n"
    "签名时间 Signed %(signed_at)s\n"
    "证据链哈希 Chain head\n"
    "%(head1)s\n"
    "%(head2)s"
)


@dataclass(frozen=True)
class Appearance:
    """What the visible signature says, and how large its box is (millimetres)."""

    court: str
    signed_at: datetime
    zone: str
    chain_head: str
    size_mm: tuple[float, float]
    reason: str = "送达回证 / Proof of service"

    def text_params(self) -> dict[str, str]:
        local = self.signed_at.astimezone(ZoneInfo(self.zone))
        half = len(self.chain_head) // 2
        return {
            "court": self.court,
            "signed_at": f"{local:%Y-%m-%d %H:%M:%S} ({self.zone})",
            "head1": self.chain_head[:half],
            "head2": self.chain_head[half:],
        }


def sign_pdf(
    pdf: bytes,
    identity: SigningIdentity,
    appearance: Appearance,
    *,
    timestamper: TimeStamper | None = None,
) -> bytes:
    """``pdf`` with the court's PAdES signature appended (an incremental update covering the
    whole file): B-B, or B-T with ``timestamper``'s token on the signature."""
    return asyncio.run(_sign(pdf, identity, appearance, timestamper))


async def _sign(
    pdf: bytes,
    identity: SigningIdentity,
    appearance: Appearance,
    timestamper: TimeStamper | None,
) -> bytes:
    chain = [asn1_x509.Certificate.load(der) for _, _, der in pem.unarmor(identity.chain_pem, True)]
    signer = signers.SimpleSigner(
        signing_cert=chain[0],
        signing_key=load_private_key_from_pemder_data(identity.key_pem, passphrase=None),
        cert_registry=SimpleCertificateStore.from_certs(chain[1:]),  # type: ignore[no-untyped-call]
    )
    params = appearance.text_params()
    style = TextStampStyle(
        stamp_text=STAMP_TEXT,
        text_box_style=TextBoxStyle(
            font=_stamp_font("".join(params.values())), font_size=FONT_SIZE
        ),
        border_width=1,
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    page, box = _stamp_box(writer.prev, appearance.size_mm)
    meta = signers.PdfSignatureMetadata(
        field_name=FIELD_NAME,
        md_algorithm="sha256",
        subfilter=SigSeedSubFilter.PADES,
        reason=appearance.reason,
        location=appearance.court,
    )
    pdf_signer = signers.PdfSigner(
        meta,
        signer,
        timestamper=timestamper,
        stamp_style=style,
        new_field_spec=SigFieldSpec(FIELD_NAME, on_page=page, box=box),
    )
    # pyHanko's one-call sign_pdf takes its own clock; these are its documented steps, with
    # the signing time set to the caller's.
    session = pdf_signer.init_signing_session(writer)
    session.system_time = appearance.signed_at
    validation = await session.perform_presign_validation(writer)
    # A fixed room for the CMS, not pyHanko's estimate: estimating signs a dummy and, for B-T,
    # asks the TSA for a dummy token — a second TSA round trip per certificate, since the
    # timestamper (and its cache) is unpickled afresh in the pool for every call.
    reserved = CMS_BYTES + sum(len(c.dump()) for c in chain)
    if timestamper is not None:
        reserved += TOKEN_BYTES
    reserved += reserved % 2  # pyHanko wants an even count
    tbs = session.prepare_tbs_document(
        validation_info=validation, bytes_reserved=reserved, appearance_text_params=params
    )
    digest, output = tbs.digest_tbs_document()
    post = await tbs.perform_signature(
        document_digest=digest.document_digest,
        pdf_cms_signed_attrs=PdfCMSSignedAttributes(signing_time=appearance.signed_at),
    )
    await post.post_signature_processing(output)
    output.seek(0)
    signed: bytes = output.read()
    return signed


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


def _font_path() -> Any:
    return resources.files("templates").joinpath("fonts", FONT_FILE)


@functools.cache
def _full_font_cmap() -> dict[int, str]:
    with _font_path().open("rb") as handle:
        cmap: dict[int, str] = TTFont(handle, lazy=True).getBestCmap()
    return cmap


@functools.lru_cache(maxsize=16)
def _subset_font(characters: frozenset[str]) -> bytes:
    with _font_path().open("rb") as handle:
        font = TTFont(handle)
    options = subset.Options()
    options.layout_features = ["*"]
    options.notdef_outline = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(text="".join(sorted(characters)))
    subsetter.subset(font)
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


# Every stamp shares these: cached together, a new court name or time adds no subsetting.
_STAMP_CHARACTERS = frozenset(STAMP_TEXT + "".join(chr(c) for c in range(0x20, 0x7F)))


def _stamp_font(text: str) -> FontEngineFactory:
    """The bundled CJK font subset to the stamp's characters (cached per process)."""
    cmap = _full_font_cmap()
    missing = sorted({c for c in text if not c.isspace() and ord(c) not in cmap})
    if missing:
        raise MissingGlyphs({"signature_stamp": missing})
    return _SubsetFont(_subset_font(_STAMP_CHARACTERS | frozenset(text)))


class _SubsetFont(FontEngineFactory):
    """pyHanko's GlyphAccumulator over font bytes in memory (its own factory opens a path)."""

    def __init__(self, font: bytes) -> None:
        self.font = font

    def create_font_engine(
        self, writer: BasePdfFileWriter, obj_stream: Any = None
    ) -> GlyphAccumulator:
        if obj_stream is None and writer.stream_xrefs:
            obj_stream = writer.prepare_object_stream()  # type: ignore[no-untyped-call]
        return GlyphAccumulator(writer, io.BytesIO(self.font), FONT_SIZE, obj_stream=obj_stream)
