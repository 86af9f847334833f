"""The methods of service, one line each: what each channel package adds to Songda.

A method is a folder under ``channels/`` (adapter, receipts, outcomes, routes, stand-in); this
list is where the core learns of it. A method with an outside provider gives an ``adapter``
(its :class:`~delivery.channel_api.Channel` built from settings, or None when not configured);
a method the court carries out itself gives an ``opener`` (it opens the court's work item — a
field task, a notice draft — in the transaction that "sends" the attempt, and the attempt then
waits for the person's recorded act; an opener may run twice, jobs being at-least-once). Each
adds its pages and provider hooks through ``add_routes``.

The list is here, in the core's wiring room, rather than in ``channels/``: no module under
``channels/`` imports another channel, and a module listing all five would. Read by the runtime
(:func:`delivery.runtime.open_context`), the app factory and the sending service.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from channels.email import adapter as email
from channels.email import routes as email_routes
from channels.in_person import routes as in_person_routes
from channels.in_person.tasks import open_task as open_field_task
from channels.postal import adapter as postal
from channels.postal import routes as postal_routes
from channels.public_notice import routes as notice_routes
from channels.public_notice.notices import open_notice
from channels.sms import adapter as sms
from channels.sms import routes as sms_routes
from delivery.channel_api import Channel
from delivery.config import Settings
from delivery.context import Context
from delivery.domain import Attempt
from delivery.storage.unit_of_work import DispatchTransaction
from delivery.vocabulary import Channel as Vocab

Opener = Callable[[Context, DispatchTransaction, Attempt], Awaitable[None]]


@dataclass(frozen=True)
class Method:
    name: str
    add_routes: Callable[[web.Application], None]
    adapter: Callable[[Settings], Channel | None] | None = None
    opener: Opener | None = None


METHODS = (
    Method(Vocab.EMAIL, email_routes.add_routes, adapter=email.from_settings),
    Method(Vocab.SMS, sms_routes.add_routes, adapter=sms.from_settings),
    Method(Vocab.POSTAL, postal_routes.add_routes, adapter=postal.from_settings),
    Method(Vocab.IN_PERSON, in_person_routes.add_routes, opener=open_field_task),
    Method(Vocab.PUBLIC_NOTICE, notice_routes.add_routes, opener=open_notice),
)

# The court's own methods: no provider to talk to, "sending" opens the work item.
COURT_CHANNELS: dict[str, Opener] = {m.name: m.opener for m in METHODS if m.opener is not None}


def channel_adapters(settings: Settings) -> dict[str, Channel]:
    """The configured methods' outbound adapters, by channel name."""
    built = {m.name: m.adapter(settings) for m in METHODS if m.adapter is not None}
    return {name: channel for name, channel in built.items() if channel is not None}


def add_routes(app: web.Application) -> None:
    for method in METHODS:
        method.add_routes(app)
