"""Court express mail for clerks and the case system: printable mail pieces and return cards.

- ``GET …/attempts/{attempt_id}/mail-piece.pdf``: one piece (cover letter, address label,
  return-receipt card), A4;
- ``GET /api/v1/mail-pieces.pdf?date=YYYY-MM-DD``: every piece of the caller's courts created
  that day (in the court's time zone), one page set per piece, to print in one go;
- ``POST …/attempts/{attempt_id}/return-card``: the scanned signed return card (PDF, JPEG or
  PNG, recognised by its first bytes), stored hashed as evidence.
"""

from __future__ import annotations

from aiohttp import BodyPartReader, web

from channels.postal import pieces as postal
from delivery.api.case_system.dispatches import dispatch_caller
from delivery.api.case_system.documents import one_file
from delivery.api.http.bodies import part_chunks
from delivery.api.http.problems import Problem, not_found, validation_problem
from delivery.api.http.request_context import ctx_of, json_response, path_id
from delivery.clock import parse_day
from delivery.context import Context
from delivery.infra.document_store import JPEG_MAGIC, PDF_MAGIC, PNG_MAGIC, StoredFile
from delivery.infra.pdf_rendering import render_pdf
from delivery.storage import queries
from templates import render
from templates.barcode import code128_data_uri
from templates.i18n import translate
from templates.labels import label
from templates.pdf import qr_data_uri

# Who may sign the return receipt, as its boxes offer them (CPL-91, PM-7).
RECEIPT_RELATIONS = (
    "self",
    "guardian",
    "family",
    "entity_mailroom",
    "agent",
    "designated_receiver",
)
RETURN_CARD_TYPES = {
    PDF_MAGIC: "application/pdf",
    JPEG_MAGIC: "image/jpeg",
    PNG_MAGIC: "image/png",
}


def mail_pieces_html(ctx: Context, pieces: list[postal.MailPiece]) -> str:
    zone = ctx.settings.zone
    return render(
        "pdf/mail_pieces.html",
        fonts=ctx.settings.fonts,
        translate=translate,
        relations=RECEIPT_RELATIONS,
        label_in=lambda locale, relation: label(locale, "relation", relation),
        pieces=[
            {
                **p.__dict__,
                "created_on": p.created_at.astimezone(zone).date().isoformat(),
                "verify_qr": qr_data_uri(p.verification_url),
                "confirmation_qr": qr_data_uri(p.confirmation_url) if p.confirmation_url else None,
                "tracking_qr": qr_data_uri(p.tracking_number),
                "barcode": code128_data_uri(p.tracking_number),
            }
            for p in pieces
        ],
    )


def _pdf(body: bytes, filename: str) -> web.Response:
    return web.Response(
        body=body,
        content_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{filename}"'},
    )


async def _visible(request: web.Request, dispatch_id: str) -> None:
    """404 unless the caller's courts include the dispatch."""
    courts = dispatch_caller(request).courts
    found = await queries.read_dispatch_detail(ctx_of(request).engine, dispatch_id, courts)
    if found is None:
        raise not_found("dispatch")


async def mail_piece(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    dispatch_id = path_id(request, "dispatch_id", "dispatch")
    attempt_id = path_id(request, "attempt_id", "attempt")
    piece = await postal.mail_piece(ctx, dispatch_id, attempt_id, dispatch_caller(request).courts)
    if piece is None:
        raise not_found("mail piece (a postal attempt whose shipment was created)")
    pdf = await render_pdf(mail_pieces_html(ctx, [piece]), ctx.settings.fonts)
    return _pdf(pdf, f"mail-piece-{piece.tracking_number}.pdf")


async def day_of_mail_pieces(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    day = parse_day(request.query.get("date", ""))
    if day is None:
        raise validation_problem([{"field": "date", "message": "required, YYYY-MM-DD"}])
    pieces = await postal.mail_pieces_on(ctx, day, dispatch_caller(request).courts)
    if not pieces:
        raise Problem(404, "not-found", "Not found", f"no mail pieces created on {day}")
    pdf = await render_pdf(mail_pieces_html(ctx, pieces), ctx.settings.fonts)
    return _pdf(pdf, f"mail-pieces-{day}.pdf")


async def upload_return_card(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    dispatch_id = path_id(request, "dispatch_id", "dispatch")
    attempt_id = path_id(request, "attempt_id", "attempt")
    await _visible(request, dispatch_id)
    if not await postal.is_postal_attempt(ctx, dispatch_id, attempt_id):
        raise not_found("postal attempt")

    async def store(part: BodyPartReader) -> tuple[StoredFile, str]:
        return await ctx.documents.store_media(
            part_chunks(part),
            ctx.settings.max_upload_bytes,
            RETURN_CARD_TYPES,
            "a return card must be a PDF, JPEG or PNG",
        )

    file, media_type = await one_file(request, store, "PDF, JPEG or PNG")
    try:
        media = await postal.record_return_card(
            ctx, dispatch_id, attempt_id, file, media_type, actor=dispatch_caller(request).actor
        )
    except KeyError:
        raise not_found("postal attempt") from None
    return json_response(media, status=201)
