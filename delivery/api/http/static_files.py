"""The workspace's vendored static files (``/static/<name>``), shipped in ``templates/static``."""

from __future__ import annotations

from aiohttp import web

from templates import TEMPLATE_DIR

STATIC_DIR = TEMPLATE_DIR / "static"


def add_routes(app: web.Application) -> None:
    app.router.add_static("/static/", STATIC_DIR, append_version=False)
