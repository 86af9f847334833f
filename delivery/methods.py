"""The methods of service, one line each: what each channel package adds to Songda.

A method is a folder under ``channels/`` (adapter, receipts, outcomes, routes, stand-in); this
list is where the core learns of it. A method with an outside provider gives an ``adapter``
(its :class:`~delivery.channel_api.Channel` built from settings, or None when not configured);
a method the court carries out itself gives an ``opener`` (it opens the court's work item — a
field task, a notice draft — in the transaction that "sends" the attempt, and the attempt then
waits for the person's recorded act; an opener may run twice, jobs being at-least-once). Each
adds its pages and provider hooks through ``add_routes``. A provider whose news can also be
asked for gives a ``poller``; one the sandbox stands in for gives a ``standin``. SMS has several
providers (``SMS_PROVIDERS``), so the runtime builds its channel: a router over those configured
(delivery/services/sms_routing.py).

The list is here, in the core's wiring room, rather than in ``channels/``: no module under
``channels/`` imports another channel, and a module listing all five would. Read by the runtime
(:func:`delivery.runtime.open_context`), the app factory, the sending service, the sweep and the
worker (polls), and ``songda run --sandbox`` (stand-ins).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web

from channels.email import adapter as email
from channels.email import routes as email_routes
from channels.email.standin import SmtpSink
from channels.in_person import routes as in_person_routes
from channels.in_person.tasks import open_task as open_field_task
from channels.postal import adapter as postal
from channels.postal import receipts as postal_receipts
from channels.postal import routes as postal_routes
from channels.postal.standin import CarrierStandIn
from channels.public_notice import routes as notice_routes
from channels.public_notice.notices import open_notice
from channels.sms import adapter as sms
from channels.sms import aliyun
from channels.sms import polls as sms_polls
from channels.sms import routes as sms_routes
from channels.sms.aliyun_standin import AliyunStandIn
from channels.sms.standin import TwilioStandIn
from delivery import channel_api
from delivery.clock import Clock
from delivery.config import Settings
from delivery.context import Context
from delivery.domain import Attempt
from delivery.storage.unit_of_work import DispatchTransaction
from delivery.vocabulary import Channel, SmsProvider

Opener = Callable[[Context, DispatchTransaction, Attempt], Awaitable[None]]


@dataclass(frozen=True)
class Poller:
    """Asking a provider for the news its webhooks may not bring (postal tracking).

    ``track`` runs in the transaction that records the provider's acceptance of an attempt, to
    remember what to ask about (the provider's reference, or None); the sweep takes the due
    polls from ``claim_due`` as (the poll's key — the attempt's id, or the SMS send's —, the
    provider's reference) and enqueues one job per poll,
    named ``job`` — a name of its own, kept: it is what the queue holds — which runs ``poll``.
    """

    job: str
    track: Callable[[Context, DispatchTransaction, Attempt, str | None], Awaitable[None]]
    claim_due: Callable[[Context], Awaitable[list[tuple[str, str]]]]
    poll: Callable[[Context, str, str], Awaitable[None]]


class StandIn(Protocol):
    """A provider's stand-in as ``songda run --sandbox`` runs it, in the process, on loopback
    (``channels/<method>/standin.py``); the sandbox pages show it."""

    async def serve(self, settings: Settings) -> Settings:
        """Start serving; ``settings`` with the method pointed at the stand-in."""

    async def stop(self) -> None: ...


@dataclass(frozen=True)
class Method:
    name: str
    add_routes: Callable[[web.Application], None]
    adapter: Callable[[Settings], channel_api.Channel | None] | None = None
    opener: Opener | None = None
    poller: Poller | None = None
    standin: Callable[[Clock], StandIn] | None = None


POSTAL_TRACKING = Poller(
    "poll_tracking",
    postal_receipts.record_piece,
    postal_receipts.claim_due_polls,
    postal_receipts.poll_piece,
)

SMS_RECEIPTS = Poller(
    "poll_sms_receipts",
    sms_polls.nothing_to_track,
    sms_polls.claim_due_polls,
    sms_polls.poll_receipt,
)

# The SMS channel's providers (docs/decisions/0044): each built from settings, or None when not
# configured; the sending service routes between them (delivery/services/sms_routing.py).
SMS_PROVIDERS: dict[SmsProvider, Callable[[Settings], channel_api.Channel | None]] = {
    SmsProvider.TWILIO: sms.from_settings,
    SmsProvider.ALIYUN: aliyun.from_settings,
}
# The providers whose receipts Songda also asks for when they do not come (polling).
POLLED_SMS_PROVIDERS = frozenset({SmsProvider.ALIYUN})

METHODS = (
    Method(Channel.EMAIL, email_routes.add_routes, adapter=email.from_settings, standin=SmtpSink),
    Method(
        Channel.SMS,
        sms_routes.add_routes,
        poller=SMS_RECEIPTS,
        standin=TwilioStandIn.for_sandbox,
    ),
    Method(
        Channel.POSTAL,
        postal_routes.add_routes,
        adapter=postal.from_settings,
        poller=POSTAL_TRACKING,
        standin=CarrierStandIn.for_sandbox,
    ),
    Method(Channel.IN_PERSON, in_person_routes.add_routes, opener=open_field_task),
    Method(Channel.PUBLIC_NOTICE, notice_routes.add_routes, opener=open_notice),
)

# The court's own methods: no provider to talk to, "sending" opens the work item.
COURT_CHANNELS: dict[str, Opener] = {m.name: m.opener for m in METHODS if m.opener is not None}
POLLERS: dict[str, Poller] = {m.name: m.poller for m in METHODS if m.poller is not None}


def channel_adapters(settings: Settings) -> dict[str, channel_api.Channel]:
    """The configured methods' outbound adapters, by channel name."""
    built = {m.name: m.adapter(settings) for m in METHODS if m.adapter is not None}
    return {name: channel for name, channel in built.items() if channel is not None}


def add_routes(app: web.Application) -> None:
    for method in METHODS:
        method.add_routes(app)


def sandbox_standins(clock: Clock) -> list[StandIn]:
    """A stand-in for each method that has one, in the methods' order (not started yet)."""
    standins = [m.standin(clock) for m in METHODS if m.standin is not None]
    # The SMS channel's second provider has a stand-in too (routes send mainland numbers to it).
    return [*standins, AliyunStandIn.for_sandbox(clock)]
