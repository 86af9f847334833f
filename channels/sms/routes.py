"""What the SMS channel adds to the web app: Twilio's signed status callback and
inbound messages."""

from __future__ import annotations

from aiohttp import web

from channels.sms import hooks


def add_routes(app: web.Application) -> None:
    app.router.add_post(hooks.PATH, hooks.status_callback)
    app.router.add_post(hooks.INBOUND_PATH, hooks.inbound_message)
