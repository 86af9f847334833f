"""Building and closing a process's :class:`Context` from settings."""

from __future__ import annotations

from delivery.clock import Clock, SystemClock
from delivery.config import Settings, court_calendar_file
from delivery.context import Context
from delivery.infra.certificate_signing import CourtTimeStamper, certificate_timestamper
from delivery.infra.document_store import DocumentStore
from delivery.infra.keys import load_signing_identity, load_signing_key
from delivery.jobs.job_queue import JobQueue
from delivery.methods import channel_adapters
from delivery.storage.engine import create_engine
from escalation.calendar import load_calendar
from escalation.policy import load_policy_book


async def open_context(settings: Settings, redis_url: str, clock: Clock | None = None) -> Context:
    engine = create_engine(settings.database_url)
    queue = await JobQueue.connect(redis_url, settings.queue_name)
    return Context(
        settings=settings,
        engine=engine,
        clock=clock or SystemClock(),
        queue=queue,
        documents=DocumentStore(settings.documents_dir),
        channels=channel_adapters(settings),
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
