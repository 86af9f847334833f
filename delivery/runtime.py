"""Building and closing a process's :class:`Context` from settings."""

from __future__ import annotations

from delivery.clock import Clock, SystemClock
from delivery.config import Settings, court_calendar_file
from delivery.context import Context
from delivery.infra.certificate_signing import CourtTimeStamper, certificate_timestamper
from delivery.infra.document_store import DocumentStore
from delivery.infra.keys import load_signing_identity, load_signing_key
from delivery.jobs.job_queue import JobQueue
from delivery.methods import POLLED_SMS_PROVIDERS, SMS_PROVIDERS, channel_adapters
from delivery.services.sms_health import ProviderBoard
from delivery.services.sms_routing import SmsRouter
from delivery.storage.engine import create_engine
from delivery.vocabulary import Channel
from escalation.calendar import load_calendar
from escalation.policy import load_policy_book


async def open_context(settings: Settings, redis_url: str, clock: Clock | None = None) -> Context:
    engine = create_engine(settings.database_url)
    queue = await JobQueue.connect(redis_url, settings.queue_name)
    clock = clock or SystemClock()
    channels = channel_adapters(settings)
    router = sms_router(settings, ProviderBoard(engine, clock, settings.sms_routing.health))
    if router is not None:
        channels[Channel.SMS] = router
    return Context(
        settings=settings,
        engine=engine,
        clock=clock,
        queue=queue,
        documents=DocumentStore(settings.documents_dir),
        channels=channels,
        calendar=load_calendar(court_calendar_file(settings)),
        policies=load_policy_book(settings.policy_dir),
        signing_key=load_signing_key(settings.keys_dir),
        signing_identity=load_signing_identity(settings.keys_dir),
        timestamper=certificate_timestamper(settings),
    )


def sms_router(settings: Settings, board: ProviderBoard) -> SmsRouter | None:
    """The ``sms`` channel over the configured SMS providers; None when there is none."""
    built = {name: make(settings) for name, make in SMS_PROVIDERS.items()}
    providers = {str(name): channel for name, channel in built.items() if channel is not None}
    if not providers:
        return None
    return SmsRouter(providers, settings.sms_routing, board, POLLED_SMS_PROVIDERS)


async def close_context(ctx: Context) -> None:
    for channel in ctx.channels.values():
        await channel.close()
    if isinstance(ctx.timestamper, CourtTimeStamper):
        await ctx.timestamper.close()
    await ctx.queue.close()
    await ctx.engine.dispose()
