"""What the e-mail channel adds to the web app: the bounce and reply reports from the
court's mail processor."""

from __future__ import annotations

from aiohttp import web

from channels.email import hooks


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/v1/bounces", hooks.report_bounce)
    app.router.add_post("/api/v1/replies", hooks.report_reply)
