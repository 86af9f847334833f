"""Building and closing a process's :class:`Context` from settings."""

from __future__ import annotations

from channels.email.adapter import EmailChannel
from channels.postal.adapter import PostalChannel, ReferenceCarrier
from channels.sms.adapter import SmsChannel, SmsSettings
from delivery.channel_api import Channel
from delivery.clock import Clock, SystemClock
from delivery.config import Settings, court_calendar_file
from delivery.context import Context
from delivery.infra.certificate_signing import CourtTimeStamper, certificate_timestamper
from delivery.infra.document_store import DocumentStore
from delivery.infra.keys import load_signing_identity, load_signing_key
from delivery.jobs.job_queue import JobQueue
from delivery.storage.engine import create_engine
from escalation.calendar import load_calendar
from escalation.policy import load_policy_book


def sms_settings(settings: Settings) -> SmsSettings:
    twilio = settings.twilio
    assert twilio.account_sid and twilio.auth_token and twilio.sender
    return SmsSettings(
        account_sid=twilio.account_sid,
        auth_token=twilio.auth_token,
        sender=twilio.sender,
        status_callback_url=f"{settings.public_base_url}/hooks/twilio/status",
        api_base_url=twilio.api_base_url,
        max_segments=twilio.max_segments,
    )


def postal_channel(settings: Settings) -> PostalChannel:
    carrier = settings.carrier
    assert carrier.url and carrier.key
    return PostalChannel(
        ReferenceCarrier(carrier.url, carrier.key, carrier.name), carrier.webhook_secret or ""
    )


async def open_context(settings: Settings, redis_url: str, clock: Clock | None = None) -> Context:
    engine = create_engine(settings.database_url)
    queue = await JobQueue.connect(redis_url, settings.queue_name)
    channels: dict[str, Channel] = {}
    if settings.smtp.host:
        channels["email"] = EmailChannel(settings.smtp)
    if settings.twilio.configured:
        channels["sms"] = SmsChannel(sms_settings(settings))
    if settings.carrier.configured:
        channels["postal"] = postal_channel(settings)
    return Context(
        settings=settings,
        engine=engine,
        clock=clock or SystemClock(),
        queue=queue,
        documents=DocumentStore(settings.documents_dir),
        channels=channels,
        calendar=load_calendar(court_calendar_file(settings)),
        policies=load_policy_book(settings.policy_dir),
        signing_key=load_signing_key(settings.keys_dir),
        signing_identity=load_signing_identity(settings.keys_dir),
        timestamper=certificate_timestamper(settings),
    )


async def close_context(ctx: Context) -> None:
    for channel in ctx.channels.values():
        await channel.close()
    if isinstance(ctx.timestamper, CourtTimeStamper):
        await ctx.timestamper.close()
    await ctx.queue.close()
    await ctx.engine.dispose()
