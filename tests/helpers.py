"""What many tests share: pages and forms as a browser uses them (the CSRF token, logging in,
a proof's multipart form), staff accounts, a composed service message and the recipient link in
it, a reply to it, a signed address confirmation form, and a deployment behind a reverse proxy
or without Redis."""

from __future__ import annotations

import dataclasses
import re
import secrets
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

from aiohttp import FormData
from aiohttp.test_utils import TestClient
from api_client import RECIPIENT_EMAIL, Api
from arq.connections import ArqRedis
from cli_runner import free_port
from conftest import COURT, settled

from delivery.channel_api import ServiceMessage
from delivery.context import Context
from delivery.identity import identity_digest
from delivery.ids import new_id
from delivery.jobs.job_queue import JobQueue
from delivery.sandbox.pages import SmtpSink
from delivery.services.staff_accounts import create_staff_user
from delivery.staff import Role, StaffUser
from delivery.storage.address_confirmations import (
    AddressConfirmation,
    ConfirmedAddress,
    insert_confirmation,
)

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
LINK_RE = re.compile(r"http://songda\.test(/r/[A-Za-z0-9_\-.]+)")
# The address confirmation form's link (delivery/services/confirmation_requests.py), on the
# test server or on a live one (tests/standins.py).
CONFIRMATION_LINK_RE = re.compile(r"https?://[^/\s]+(/c/[A-Za-z0-9_\-.]+)")


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


async def code_link(api: Api, sms_standin: Any, smtp_sink: Any) -> tuple[str, str]:
    """(dispatch id, link path) of a court-found e-mail whose recipient also has a phone, so
    that the link's page offers a one-time code by SMS."""
    _fake, channel = sms_standin
    api.ctx.channels["sms"] = channel
    body = await api.new_dispatch_body(source="court_found")
    body["recipient"]["phones"] = [{"number": "+8613800138000", "source": "court_found"}]
    created = await api.create(body)
    await api.until(created["id"], lambda d: d["attempts"][0]["state"] == "sent")
    await settled(api.ctx)
    email = next(m for m in smtp_sink.messages if "/r/" in m.text)
    return created["id"], link_path(email.text)


async def confirmation_link(api: Api, smtp_sink: SmtpSink, dispatch_id: str) -> str:
    """The path of the address confirmation link a clerk's request sent by e-mail."""
    response = await api.client.post(
        f"/api/v1/dispatches/{dispatch_id}/actions",
        json={"action": "request_address_confirmation", "note": "请确认送达地址 / please confirm"},
        headers=api.auth,
    )
    assert response.status == 200, await response.text()
    found = CONFIRMATION_LINK_RE.search(smtp_sink.messages[-1].text)
    assert found, smtp_sink.messages[-1].text
    return found.group(1)


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


def reply_message(answers: str, sender: str = RECIPIENT_EMAIL, **headers: str) -> bytes:
    """The raw e-mail a recipient sends back to the message ``answers`` (its Message-ID)."""
    message = EmailMessage()
    message["From"] = f"张三 <{sender}>"
    message["To"] = "court@example.com"
    message["Subject"] = "Re: 送达通知"
    message["Message-ID"] = "<reply-1@example.com>"
    message["In-Reply-To"] = answers
    message["References"] = f"<older@example.com> {answers}"
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content("已收到，谢谢。")
    return bytes(message)


# dispatch_body's identity number.
ID_NUMBER = "33010619900101123X"


async def signed_form(
    api: Api,
    dispatch_id: str,
    case_number: str,
    addresses: Sequence[ConfirmedAddress],
    *,
    id_number: str = ID_NUMBER,
    consent: bool = True,
    confirmed_at: datetime | None = None,
    form_sha256: str = "f" * 64,
) -> AddressConfirmation:
    """An address confirmation form as the recipient's confirmation page records it, answering
    ``dispatch_id`` (CPL-INT-136): signed now unless ``confirmed_at`` says when."""
    confirmation = AddressConfirmation(
        id=new_id(),
        court=COURT,
        case_number=case_number,
        dispatch_id=dispatch_id,
        id_hmac=identity_digest(api.ctx.settings.secret_key, id_number),
        confirmed_at=confirmed_at or api.ctx.clock.now(),
        consent_given=consent,
        addresses=tuple(addresses),
        signer_name="张三",
        form_sha256=form_sha256,
    )
    async with api.ctx.engine.begin() as conn:
        await insert_confirmation(conn, confirmation)
    return confirmation
