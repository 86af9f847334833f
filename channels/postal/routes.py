"""What the postal channel adds to the web app: the carrier's signed tracking webhook, the
printable mail pieces and return cards of the case-system API, and the clerks' print run."""

from __future__ import annotations

from aiohttp import web

from channels.postal import hooks, print_run_page
from channels.postal import mail_piece_routes as mail_pieces

ATTEMPT = "/api/v1/dispatches/{dispatch_id}/attempts/{attempt_id}"


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(f"{ATTEMPT}/mail-piece.pdf", mail_pieces.mail_piece)
    r.add_post(f"{ATTEMPT}/return-card", mail_pieces.upload_return_card)
    r.add_get("/api/v1/mail-pieces.pdf", mail_pieces.day_of_mail_pieces)
    r.add_post(hooks.PATH, hooks.tracking_callback)
    print_run_page.add_routes(app)
