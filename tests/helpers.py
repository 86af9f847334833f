"""The test harness: an API client with the steps tests share, and a webhook receiver."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from aiohttp import ClientResponse, FormData, web
from aiohttp.test_utils import TestClient, TestServer
from arq.connections import ArqRedis
from asn1crypto import x509 as asn1_x509
from conftest import COURT, MINIMAL_PDF, REDIS_URL, eventually, settled
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from PIL import Image
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.status import PdfSignatureStatus
from pyhanko_certvalidator import ValidationContext
from pypdf import PdfWriter

from delivery.channel_api import ServiceMessage
from delivery.context import Context
from delivery.domain import Event
from delivery.infra.keys import ROOT_CERT
from delivery.infra.pdf_rendering import MAX_RENDERS, use_executor
from delivery.jobs.job_queue import JobQueue
from delivery.services.staff_accounts import create_staff_user
from delivery.staff import Role, StaffUser
from delivery.storage.rows import event_from_row
from delivery.storage.schema import events, metadata
from tracking.court_certificates import load_pem_chain

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
LINK_RE = re.compile(r"http://songda\.test(/r/[A-Za-z0-9_\-.]+)")
Body = dict[str, Any]
RECIPIENT_EMAIL = "zhang.san@example.com"  # dispatch_body's e-mail address


def dispatch_body(
    document_ids: list[str],
    *,
    reference: str = "case-sys-0001",
    source: str = "recipient_confirmed",
    email: str = RECIPIENT_EMAIL,
    consent: bool = True,
    court: str = COURT,
    policy: str = "cn-civil",
) -> Body:
    return {
        "court": court,
        "case_number": "(2026)浙0106民初1234号",
        "reference": reference,
        "policy": policy,
        "documents": document_ids,
        "recipient": {
            "name": "张三",
            "role": "defendant",
            "id_number": "33010619900101123X",
            "e_service_consent": {"given": True, "basis": "express"}
            if consent
            else {"given": False},
            "emails": [{"address": email, "source": source}],
        },
    }


def service_message(address: str) -> ServiceMessage:
    """A service message as the worker composes it, for channel tests."""
    return ServiceMessage(
        attempt_id="01ARZ3NDEKTSV4RRFFQ69G5FAV",
        dispatch_id="01ARZ3NDEKTSV4RRFFQ69G5FAW",
        address=address,
        locale="zh-CN",
        court="杭州市西湖区人民法院",
        case_number="(2026)浙0106民初1234号",
        recipient_name="张三",
        document_titles=("民事起诉状",),
        link_url="http://songda.test/r/token",
        link_expires_at=datetime(2026, 12, 23, tzinfo=UTC),
        time_zone="Asia/Shanghai",
        composed_at=datetime(2026, 11, 23, tzinfo=UTC),
    )


def link_path(text: str) -> str:
    match = LINK_RE.search(text)
    assert match, f"no recipient link in: {text}"
    return match.group(1)


async def staff_account(
    ctx: Context,
    *roles: Role,
    courts: tuple[str, ...] = (COURT,),
    username: str | None = None,
    display_name: str = "王书记员",
) -> tuple[StaffUser, str]:
    """A new staff account (default role: clerk) and its password."""
    password = secrets.token_urlsafe(12)
    user = await create_staff_user(
        ctx.engine,
        ctx.clock,
        username=username or f"staff-{secrets.token_hex(4)}",
        display_name=display_name,
        roles=[r.value for r in roles or (Role.CLERK,)],
        courts=courts,
        password=password,
    )
    return user, password


# Five bytes that name PDF, then a web page: not a PDF (delivery/infra/pdf_check.py).
PDF_THEN_HTML = b"%PDF-1.7\n<!doctype html><html><body><script>alert(1)</script></body></html>\n"


def scan_pdf() -> bytes:
    """A real one-page PDF, as a scanner writes one (pypdf opens it)."""
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def scan_image(kind: str = "PNG") -> bytes:
    """A real (small) PNG or JPEG photo of the signed paper."""
    out = io.BytesIO()
    Image.new("RGB", (60, 80), "white").save(out, kind)
    return out.getvalue()


def proof_form(
    fields: dict[str, str],
    scan: bytes | None = None,
    *,
    filename: str = "proof.pdf",
    content_type: str = "application/pdf",
) -> FormData:
    """record_outcome as multipart/form-data: text fields and the ``scan`` file (CPL-87)."""
    form = FormData(default_to_multipart=True)
    for name, value in fields.items():
        form.add_field(name, value)
    if scan is not None:
        form.add_field("scan", scan, filename=filename, content_type=content_type)
    return form


def form_csrf(html: str) -> str:
    """The CSRF token in a page's form."""
    match = CSRF_RE.search(html)
    assert match, f"no csrf_token field in: {html[:500]}"
    return match.group(1)


async def log_in(client: TestClient[Any, Any], username: str, password: str) -> str:
    """Log in through the login page as a browser would; the client keeps the session cookie.

    Returns the session's CSRF token (for forms' ``csrf_token`` and the API's ``X-CSRF-Token``).
    """
    page = await client.get("/login")
    assert page.status == 200, await page.text()
    response = await client.post(
        "/login",
        data={
            "csrf_token": form_csrf(await page.text()),
            "username": username,
            "password": password,
        },
        allow_redirects=False,
    )
    assert response.status == 303, await response.text()
    account = await client.get("/account", allow_redirects=False)
    assert account.status == 200, await account.text()
    return form_csrf(await account.text())


@dataclass
class Api:
    """The case system's side of the tests: authenticated calls and waits on their effects."""

    client: TestClient[Any, Any]
    auth: dict[str, str]
    ctx: Context

    async def upload(
        self, content: bytes = MINIMAL_PDF, *, title: str = "民事起诉状", kind: str = "complaint"
    ) -> ClientResponse:
        form = FormData()
        form.add_field("title", title)
        form.add_field("kind", kind)
        form.add_field("file", content, filename="doc.pdf", content_type="application/pdf")
        return await self.client.post("/api/v1/documents", data=form, headers=self.auth)

    async def document(self) -> str:
        response = await self.upload()
        assert response.status == 201, await response.text()
        return str((await response.json())["id"])

    async def create(self, body: Body) -> Body:
        response = await self.client.post("/api/v1/dispatches", json=body, headers=self.auth)
        assert response.status == 201, await response.text()
        return dict(await response.json())

    async def new_dispatch_body(self, **options: Any) -> Body:
        """Upload a document and build a dispatch body for it (options as for dispatch_body)."""
        return dispatch_body([await self.document()], **options)

    async def new_dispatch(self, **options: Any) -> Body:
        return await self.create(await self.new_dispatch_body(**options))

    async def dispatch(self, dispatch_id: str) -> Body:
        response = await self.client.get(f"/api/v1/dispatches/{dispatch_id}", headers=self.auth)
        assert response.status == 200, await response.text()
        return dict(await response.json())

    async def until(self, dispatch_id: str, condition: Callable[[Body], bool]) -> Body:
        """Wait until the dispatch, as the API shows it, meets ``condition``."""

        async def check() -> Body | None:
            body = await self.dispatch(dispatch_id)
            return body if condition(body) else None

        return dict(await eventually(check))

    async def until_state(self, dispatch_id: str, state: str) -> Body:
        return await self.until(dispatch_id, lambda d: d["state"] == state)

    async def until_attempt(self, dispatch_id: str, *states: str, tries: int | None = None) -> Body:
        """Wait until the first attempt is in one of ``states`` (after ``tries`` tries)."""

        def matches(d: Body) -> bool:
            first = d["attempts"][0] if d["attempts"] else None
            return (
                first is not None
                and first["state"] in states
                and (tries is None or first["tries"] == tries)
            )

        return await self.until(dispatch_id, matches)

    async def events(self, dispatch_id: str) -> list[Event]:
        async with self.ctx.engine.connect() as conn:
            rows = await conn.execute(
                sa.select(events).where(events.c.dispatch_id == dispatch_id).order_by(events.c.seq)
            )
            return [event_from_row(r) for r in rows.mappings()]

    async def event_types(self, dispatch_id: str) -> list[str]:
        return [e.type for e in await self.events(dispatch_id)]

    async def table_counts(self) -> dict[str, int]:
        """Rows per table: to show that a refused request stored nothing."""
        counts = {}
        async with self.ctx.engine.connect() as conn:
            for table in metadata.sorted_tables:
                query = sa.select(sa.func.count()).select_from(table)
                counts[table.name] = int(await conn.scalar(query) or 0)
        return counts

    async def register_webhook(self, url: str, event_types: list[str] | None = None) -> Body:
        body: Body = {"url": url, **({"event_types": event_types} if event_types else {})}
        response = await self.client.post("/api/v1/webhook-endpoints", json=body, headers=self.auth)
        assert response.status == 201, await response.text()
        return dict(await response.json())


@dataclass
class Receiver:
    """A webhook receiver on loopback: answers ``status``, or 503 for the first ``fail_first``."""

    status: int = 204
    fail_first: int = 0
    calls: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.calls.append((dict(request.headers), await request.read()))
        return web.Response(status=503 if len(self.calls) <= self.fail_first else self.status)

    def types(self) -> list[str]:
        return [json.loads(body)["type"] for _headers, body in self.calls]

    def has(self, event_type: str, times: int = 1) -> Callable[[], Awaitable[bool]]:
        """An ``eventually`` check: this type arrived at least ``times`` times."""

        async def check() -> bool:
            return self.types().count(event_type) >= times

        return check

    def called(self, times: int) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return len(self.calls) >= times

        return check


@asynccontextmanager
async def receiving(receiver: Receiver) -> AsyncIterator[Receiver]:
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    server = TestServer(app)
    await server.start_server()
    receiver.url = str(server.make_url("/hook"))
    try:
        yield receiver
    finally:
        await server.close()


def visits_of(dispatch: dict[str, Any]) -> list[dict[str, Any]]:
    return [a for a in dispatch["attempts"] if a["channel"] == "in_person"]


async def visit_task(api: Api, dispatch_id: str, visit_no: int = 1) -> str:
    """Wait until the ``visit_no``-th visit's field task is open; its id."""
    found = await api.until(
        dispatch_id,
        lambda d: len(visits_of(d)) >= visit_no and visits_of(d)[visit_no - 1]["state"] == "sent",
    )
    await settled(api.ctx)
    return str(visits_of(found)[visit_no - 1]["provider_ref"])


def behind_proxy(ctx: Context) -> Context:
    """``ctx`` as deployed behind a reverse proxy that appends ``X-Forwarded-For``: a test's
    requests then come from whatever address it names (:func:`from_address`). Shares the
    database, the queue and the limits with ``ctx``."""
    return dataclasses.replace(
        ctx, settings=dataclasses.replace(ctx.settings, trust_x_forwarded_for=True)
    )


def from_address(address: str) -> dict[str, str]:
    """The headers of a request from ``address`` (to an app on :func:`behind_proxy`)."""
    return {"X-Forwarded-For": address}


@asynccontextmanager
async def without_redis(ctx: Context) -> AsyncIterator[Context]:
    """``ctx`` with a Redis that does not answer (a loopback port nobody listens on): the
    queue and the limits are down, the database is not."""
    dead = ArqRedis(host="127.0.0.1", port=free_port(), socket_connect_timeout=1)
    try:
        yield dataclasses.replace(ctx, queue=JobQueue(dead, ctx.settings.queue_name))
    finally:
        await dead.aclose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def sandbox_process(
    data_dir: Path, name: str, *, embedded_redis: bool = False
) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """``songda run --sandbox`` (what ``make run`` starts) as a real process on a free port,
    its output on its stdout pipe; stopped with SIGTERM at the end (unless it has ended).
    (process, port). ``embedded_redis``: no SONGDA_REDIS_URL, so it starts its private Redis
    in ``data_dir`` (keep that path short: the unix socket's is limited)."""
    port = free_port()
    env = {
        "SONGDA_DATA_DIR": str(data_dir),
        "SONGDA_QUEUE_NAME": f"songda:test:{name}:{port}",
        "SONGDA_PORT": str(port),
    }
    if not embedded_redis:
        env["SONGDA_REDIS_URL"] = REDIS_URL
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SONGDA_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "delivery.cli.main", "run", "--sandbox"],
        env={**clean, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield process, port
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def read_until(process: subprocess.Popen[str], marker: str) -> list[str]:
    """A process's output lines up to the first that holds ``marker`` (fails at its end)."""
    assert process.stdout is not None
    lines: list[str] = []
    while not any(marker in line for line in lines):
        line = process.stdout.readline()
        assert line, lines
        lines.append(line)
    return lines


def cli_env(ctx: Context, **extra: str) -> dict[str, str]:
    """The settings a ``songda`` command needs to reach the test's database and keys."""
    s = ctx.settings
    return {
        "SONGDA_DATA_DIR": str(s.data_dir),
        "SONGDA_DATABASE_URL": s.database_url,
        "SONGDA_SECRET_KEY": s.secret_key,
        "SONGDA_SECRETS_KEY": ",".join(s.secrets_keys),
        "SONGDA_SMTP_HOST": "127.0.0.1",
        "SONGDA_SMTP_SENDER": "service@court.example",
        "SONGDA_COURT_NAME": COURT,
        **extra,
    }


def songda(
    *args: str, env: dict[str, str], umask: int | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """The CLI as a real process, with only the ``SONGDA_*`` settings given (and started under
    ``umask`` when one is given, as an operator's shell would)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SONGDA_")}
    return subprocess.run(
        [sys.executable, "-m", "delivery.cli.main", *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        preexec_fn=None if umask is None else lambda: os.umask(umask),
    )


def asn1(certificate: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))


def court_root(keys_dir: Path) -> x509.Certificate:
    """The court root ``songda keys create`` made in ``keys_dir``."""
    return load_pem_chain((keys_dir / ROOT_CERT).read_bytes())[0]


async def validate_signature(pdf: bytes, *roots: x509.Certificate) -> PdfSignatureStatus:
    """The one PDF signature of ``pdf`` as pyHanko's validator sees it, trusting ``roots``
    only (a reader trusting the court root)."""
    [signature] = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
    context = ValidationContext(trust_roots=[asn1(r) for r in roots], allow_fetching=False)
    return await async_validate_pdf_signature(signature, context, ts_validation_context=context)


class GatedRenderer(ThreadPoolExecutor):
    """The render pool's stand-in (``delivery.infra.pdf_rendering.use_executor``): renders in
    threads, counts the calls of each render function, and holds the calls of the ``held``
    functions until :meth:`open` — a renderer as slow as the test needs."""

    def __init__(self, *held: str, workers: int = MAX_RENDERS) -> None:
        super().__init__(max_workers=workers)
        self.held = set(held)
        self.submitted: Counter[str] = Counter()
        self.running: Counter[str] = Counter()  # calls inside a renderer (held ones included)
        self._gate = threading.Event()
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        name = fn.__name__
        self.submitted[name] += 1

        def render() -> Any:
            with self._lock:
                self.running[name] += 1
            try:
                if name in self.held:
                    self._gate.wait()
                return fn(*args, **kwargs)
            finally:
                with self._lock:
                    self.running[name] -= 1

        return super().submit(render)

    def open(self) -> None:
        self._gate.set()


@contextmanager
def rendering_with(renderer: GatedRenderer) -> Iterator[GatedRenderer]:
    """Render with ``renderer`` for the block; opened and dropped at its end."""
    use_executor(renderer)
    try:
        yield renderer
    finally:
        renderer.open()
        use_executor(None)
        renderer.shutdown(wait=False)
