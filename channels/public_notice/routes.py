"""What public notice adds to the web app: the notice board and notice pages (public and
staff), and the case-system upload of a posting's photo or video."""

from __future__ import annotations

from aiohttp import web

from channels.public_notice import media_routes, pages, staff_pages


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/v1/dispatches/{dispatch_id}/media", media_routes.upload)
    pages.add_routes(app)
    staff_pages.add_routes(app)
