"""What the e-mail channel adds to the web app: the bounce report from the court's processor."""

from __future__ import annotations

from aiohttp import web

from channels.email import hooks


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/v1/bounces", hooks.report_bounce)
