"""Running the service: web, worker, or both in one process (``songda run``)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import signal
from pathlib import Path

from aiohttp import web
from arq.worker import Worker

from delivery.api.app import create_app
from delivery.clock import Clock, SystemClock
from delivery.config import Settings
from delivery.config_checks import SANDBOX_API_KEY_FILE
from delivery.context import Context
from delivery.infra.keys import create_key, key_problems
from delivery.jobs.embedded_redis import EmbeddedRedis
from delivery.jobs.job_queue import QueueKind
from delivery.jobs.resilience import run_until_stopped
from delivery.jobs.worker import build_workers, stop_workers
from delivery.methods import StandIn, sandbox_standins
from delivery.runtime import close_context, open_context
from delivery.sandbox.pages import add_routes
from delivery.sandbox.tsa_standin import (
    SANDBOX_TSA_DIR,
    TsaStandIn,
    create_tsa_identity,
    start_tsa_standin,
)
from delivery.services.api_keys import ApiKeyVerifier, create_api_key
from delivery.services.database_setup import prepare_database
from delivery.services.staff_accounts import (
    check_password,
    create_staff_user,
    generate_password,
    get_staff_user,
    set_password,
)
from delivery.staff import Role

log = logging.getLogger(__name__)


async def _sandbox_api_key(ctx: Context) -> str:
    """The sandbox keeps one API key in the data directory so a walk-through survives restarts."""
    path: Path = ctx.settings.data_dir / SANDBOX_API_KEY_FILE
    token = _read_secret_file(path)
    if token and await ApiKeyVerifier(ctx.engine).verify(token) is not None:
        return token
    _key, token = await create_api_key(ctx.engine, ctx.clock, "sandbox", [ctx.settings.court_name])
    _write_secret_file(path, token)
    return token


SANDBOX_STAFF = (
    ("clerk", "演示书记员", Role.CLERK),
    ("supervisor", "演示审核法官", Role.SUPERVISOR),
    ("field", "演示送达员", Role.FIELD_SERVER),
    ("admin", "演示管理员", Role.ADMIN),
)


async def sandbox_staff_accounts(ctx: Context) -> dict[str, str]:
    """One demo account per role for the sandbox court, username → password.

    The passwords are kept in a 0600 file in the data directory, so they stay the same across
    restarts; an account whose password no longer matches the file is given it again.
    """
    path: Path = ctx.settings.data_dir / "sandbox_staff_passwords"
    known: dict[str, str] = {}
    text = _read_secret_file(path)
    if text:
        try:
            loaded = json.loads(text)
        except ValueError:
            loaded = {}
        if isinstance(loaded, dict):
            known = {str(k): str(v) for k, v in loaded.items()}
    passwords: dict[str, str] = {}
    for username, display_name, role in SANDBOX_STAFF:
        password = known.get(username) or generate_password()
        passwords[username] = password
        if await get_staff_user(ctx.engine, username) is None:
            await create_staff_user(
                ctx.engine,
                ctx.clock,
                username=username,
                display_name=display_name,
                roles=[role],
                courts=[ctx.settings.court_name],
                password=password,
            )
        elif await check_password(ctx.engine, username, password) is None:
            await set_password(ctx.engine, username, password)
    if passwords != known:
        _write_secret_file(path, json.dumps(passwords, ensure_ascii=False))
    return passwords


def _read_secret_file(path: Path) -> str | None:
    return path.read_text().strip() if path.exists() else None


def _write_secret_file(path: Path, value: str) -> None:
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(value)


SANDBOX_TSA_NAME = "Songda Sandbox TSA"


async def _start_tsa_standin(settings: Settings, clock: Clock) -> tuple[web.AppRunner, str, Path]:
    """The sandbox's time-stamping authority: real RFC 3161 tokens on loopback, signed by a
    certificate of its own kept in the data directory (so old tokens keep verifying)."""
    cert_path, key_path = create_tsa_identity(
        settings.data_dir / SANDBOX_TSA_DIR, SANDBOX_TSA_NAME, clock
    )
    runner, url = await start_tsa_standin(TsaStandIn(cert_path, key_path, clock))
    return runner, url, cert_path


def _stop_on_signal() -> asyncio.Event:
    """Set on SIGINT or SIGTERM. Handled from the very start: a signal while starting up then
    stops the service cleanly once it is up, instead of killing the process and orphaning the
    private redis-server (and the render workers) it has already started."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def serve(
    settings: Settings,
    *,
    web_server: bool,
    queues: tuple[QueueKind, ...] = (),
    migrate: bool = False,
) -> None:
    """Serve the web app (``web_server``) and a worker per queue kind in ``queues`` (none: no
    worker), until SIGINT or SIGTERM. The private Redis (no SONGDA_REDIS_URL) is stopped
    whatever happens after it started."""
    stop = _stop_on_signal()
    if settings.redis_url is not None:
        await _serve(settings, settings.redis_url, stop, web_server, queues, migrate)
        return
    embedded = EmbeddedRedis(settings.data_dir)
    try:
        redis_url = await embedded.start()
        await _serve(settings, redis_url, stop, web_server, queues, migrate)
    finally:
        await embedded.stop()


async def _serve(
    settings: Settings,
    redis_url: str,
    stop: asyncio.Event,
    web_server: bool,
    queues: tuple[QueueKind, ...],
    migrate: bool,
) -> None:
    standins: list[StandIn] = []
    tsa_runner: web.AppRunner | None = None
    if settings.sandbox:
        clock = SystemClock()
        if key_problems(settings.keys_dir):
            # The sandbox signs with a key set of its own, made on first start (kept in the data
            # dir) — and again when an older data dir's key has no PDF signing certificate.
            created = create_key(settings.keys_dir, clock, settings.court_name)
            print(
                f"Sandbox court signing key {created.kid} created in {settings.keys_dir}",
                flush=True,
            )
        # Each method's provider stand-in (delivery/methods.py), the method pointed at it.
        for standin in sandbox_standins(clock):
            settings = await standin.serve(settings)
            standins.append(standin)
        tsa_runner, tsa_url, tsa_cert = await _start_tsa_standin(settings, clock)
        settings = dataclasses.replace(settings, tsa_url=tsa_url, tsa_cert_path=tsa_cert)
        ctx = await open_context(settings, redis_url, clock)
    else:
        ctx = await open_context(settings, redis_url)
    runner: web.AppRunner | None = None
    arq_workers: list[Worker] = []
    worker_tasks: list[asyncio.Task[None]] = []
    try:
        if migrate:
            await prepare_database(ctx.engine, settings)
        if web_server:
            app = create_app(ctx)
            if settings.sandbox:
                add_routes(app, *standins)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, settings.host, settings.port).start()
            print(
                f"Songda is listening on http://{settings.host}:{settings.port} "
                f"(public URL {settings.public_base_url})",
                flush=True,
            )
        if settings.sandbox:
            token = await _sandbox_api_key(ctx)
            print(
                "Sandbox mode: e-mail goes to the in-process mailbox at "
                f"{settings.public_base_url}/sandbox/mailbox",
                flush=True,
            )
            print(f"Sandbox API key (court {settings.court_name!r}): {token}", flush=True)
            print(
                f"Sandbox time-stamping authority (RFC 3161) at {settings.tsa_url}, "
                f"certificate {settings.tsa_cert_path}",
                flush=True,
            )
            staff = await sandbox_staff_accounts(ctx)
            print(
                f"Sandbox staff accounts (log in at {settings.public_base_url}/login; "
                f"passwords also in {settings.data_dir / 'sandbox_staff_passwords'}):",
                flush=True,
            )
            for username, _name, role in SANDBOX_STAFF:
                print(f"  {role.value:<12} {username:<10} {staff[username]}", flush=True)
        print(settings.fonts.report(), flush=True)
        arq_workers = build_workers(ctx, queues)
        worker_tasks = [asyncio.create_task(run_until_stopped(w, ctx)) for w in arq_workers]
        await stop.wait()
    finally:
        await stop_workers(arq_workers, worker_tasks)
        if runner is not None:
            await runner.cleanup()
        await close_context(ctx)
        for standin in standins:
            await standin.stop()
        if tsa_runner is not None:
            await tsa_runner.cleanup()
