"""What the SMS channel adds to the web app: Twilio's signed status callback and inbound
messages, Alibaba Cloud's delivery reports and uplink messages."""

from __future__ import annotations

from aiohttp import web

from channels.sms import aliyun_hooks, hooks


def add_routes(app: web.Application) -> None:
    app.router.add_post(hooks.PATH, hooks.status_callback)
    app.router.add_post(hooks.INBOUND_PATH, hooks.inbound_message)
    app.router.add_post(aliyun_hooks.REPORT_PATH, aliyun_hooks.delivery_report)
    app.router.add_post(aliyun_hooks.UP_PATH, aliyun_hooks.uplink)
