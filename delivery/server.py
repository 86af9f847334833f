"""Running the service: web, worker, or both in one process (``songda run``)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets
import signal
from pathlib import Path

from aiohttp import web

from delivery.api.app import create_app
from delivery.carrier_standin import CarrierStandIn
from delivery.clock import Clock, SystemClock
from delivery.config import Settings
from delivery.context import Context
from delivery.embedded_redis import EmbeddedRedis
from delivery.runtime import close_context, open_context
from delivery.sandbox import SmtpSink, add_routes
from delivery.services.api_keys import ApiKeyVerifier, create_api_key
from delivery.storage.migrate import upgrade
from delivery.twilio_standin import TwilioStandIn
from delivery.worker import build_worker

log = logging.getLogger(__name__)


async def _sandbox_api_key(ctx: Context) -> str:
    """The sandbox keeps one API key in the data directory so a walk-through survives restarts."""
    path: Path = ctx.settings.data_dir / "sandbox_api_key"
    token = _read_secret_file(path)
    if token and await ApiKeyVerifier(ctx.engine).verify(token) is not None:
        return token
    _key, token = await create_api_key(ctx.engine, ctx.clock, "sandbox", [ctx.settings.court_name])
    _write_secret_file(path, token)
    return token


def _read_secret_file(path: Path) -> str | None:
    return path.read_text().strip() if path.exists() else None


def _write_secret_file(path: Path, value: str) -> None:
    path.write_text(value)
    path.chmod(0o600)


async def _start_twilio_standin() -> tuple[TwilioStandIn, web.AppRunner, str]:
    """The sandbox's SMS provider: the real twilio client talks to it on loopback."""
    standin = TwilioStandIn(auth_token=secrets.token_hex(16))
    runner = web.AppRunner(standin.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return standin, runner, f"http://127.0.0.1:{port}"


async def _start_carrier_standin(
    clock: Clock, webhook_url: str
) -> tuple[CarrierStandIn, web.AppRunner, str]:
    """The sandbox's court-express-mail carrier: the reference adapter talks to it on loopback,
    and it sends Songda signed tracking webhooks when the user plays the postman."""
    standin = CarrierStandIn(
        key=secrets.token_hex(16),
        clock=clock,
        webhook_url=webhook_url,
        webhook_secret=secrets.token_hex(32),
    )
    runner = web.AppRunner(standin.app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    return standin, runner, f"http://127.0.0.1:{port}"


async def _wait_for_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def serve(
    settings: Settings, *, web_server: bool, worker: bool, migrate: bool = False
) -> None:
    embedded: EmbeddedRedis | None = None
    sink: SmtpSink | None = None
    twilio: TwilioStandIn | None = None
    twilio_runner: web.AppRunner | None = None
    carrier: CarrierStandIn | None = None
    carrier_runner: web.AppRunner | None = None
    redis_url = settings.redis_url
    if redis_url is None:
        embedded = EmbeddedRedis(settings.data_dir)
        redis_url = await embedded.start()
    if settings.sandbox:
        clock = SystemClock()
        sink = SmtpSink(clock)
        smtp_port = await sink.start()
        twilio, twilio_runner, twilio_url = await _start_twilio_standin()
        carrier_name = settings.carrier.name
        carrier, carrier_runner, carrier_url = await _start_carrier_standin(
            clock, f"{settings.public_base_url}/hooks/carrier/{carrier_name}"
        )
        settings = dataclasses.replace(
            settings,
            smtp=dataclasses.replace(settings.smtp, host="127.0.0.1", port=smtp_port),
            twilio=dataclasses.replace(
                settings.twilio,
                account_sid="AC" + "5a" * 16,
                auth_token=twilio.auth_token,
                sender="+10000000000",
                api_base_url=twilio_url,
            ),
            carrier=dataclasses.replace(
                settings.carrier,
                url=carrier_url,
                key=carrier.key,
                webhook_secret=carrier.webhook_secret,
            ),
        )
        ctx = await open_context(settings, redis_url, clock)
    else:
        ctx = await open_context(settings, redis_url)
    runner: web.AppRunner | None = None
    arq_worker = None
    worker_task: asyncio.Task[None] | None = None
    try:
        if migrate:
            await upgrade(ctx.engine)
        if web_server:
            app = create_app(ctx)
            if sink is not None:
                add_routes(app, sink, twilio, carrier)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, settings.host, settings.port).start()
            print(
                f"Songda is listening on http://{settings.host}:{settings.port} "
                f"(public URL {settings.public_base_url})",
                flush=True,
            )
        if sink is not None:
            token = await _sandbox_api_key(ctx)
            print(
                "Sandbox mode: e-mail goes to the in-process mailbox at "
                f"{settings.public_base_url}/sandbox/mailbox",
                flush=True,
            )
            print(f"Sandbox API key (court {settings.court_name!r}): {token}", flush=True)
        if worker:
            arq_worker = build_worker(ctx)
            worker_task = asyncio.create_task(arq_worker.async_run())
        await _wait_for_signal()
    finally:
        if arq_worker is not None:
            await arq_worker.close()
        if worker_task is not None:
            worker_task.cancel()
        if runner is not None:
            await runner.cleanup()
        await close_context(ctx)
        if sink is not None:
            await sink.stop()
        if twilio_runner is not None:
            await twilio_runner.cleanup()
        if carrier_runner is not None:
            await carrier_runner.cleanup()
        if embedded is not None:
            await embedded.stop()
