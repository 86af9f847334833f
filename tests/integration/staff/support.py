"""CSV batches as the clerk uploads them, for the batch tests and the both-databases pages; a
clerk's session and dispatches of this court or another, for the queue and dispatch pages."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from aiohttp import FormData
from api_client import Api
from conftest import COURT, MINIMAL_PDF, OTHER_COURT
from helpers import form_csrf, log_in, staff_account

from delivery.api.staff.flat_dispatch import COLUMNS
from delivery.services.api_keys import create_api_key
from delivery.staff import Role

COMPLAINT = MINIMAL_PDF
SUMMONS = MINIMAL_PDF + b"% summons\n"
FILES = {"起诉状.pdf": COMPLAINT, "传票.pdf": SUMMONS}
BATCH_URL = re.compile(r"^/staff/batches/([0-9A-Z]{26})$")
FOUND = "court_found"  # an address the court found: served only once read
NOTE = "电话核实，受送达人已搬离 / checked by phone"


def row(reference: str, **values: str) -> dict[str, str]:
    """A valid row: an e-mail the recipient confirmed, consent given, two documents."""
    return {
        "reference": reference,
        "case_number": "(2026)浙0106民初1234号",
        "recipient_name": "张三",
        "recipient_role": "defendant",
        "id_number": "33010619900101123X",
        "consent": "是",
        "consent_basis": "express",
        "email": f"{reference}@example.com",
        "email_source": "recipient_confirmed",
        "documents": "起诉状.pdf;传票.pdf",
        "document_kinds": "complaint;summons",
        **values,
    }


def csv_file(
    rows: list[dict[str, str]], encoding: str = "utf-8-sig", columns: tuple[str, ...] = COLUMNS
) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\r\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


async def upload(
    clerk: Any,
    data: bytes,
    files: dict[str, bytes] | None = None,
    *,
    court: str = COURT,
    csrf: str | None = None,
) -> Any:
    """The upload form as a browser sends it (CSRF token first)."""
    if csrf is None:
        csrf = form_csrf(await (await clerk.client.get("/staff/batches")).text())
    form = FormData(default_to_multipart=True)
    form.add_field("csrf_token", csrf)
    form.add_field("court", court)
    form.add_field("csv", data, filename="batch.csv", content_type="text/csv")
    for name, content in (FILES if files is None else files).items():
        form.add_field("documents", content, filename=name, content_type="application/pdf")
    return await clerk.client.post("/staff/batches", data=form, allow_redirects=False)


async def uploaded(clerk: Any, data: bytes, files: dict[str, bytes] | None = None) -> str:
    """Upload a batch that is accepted; its id."""
    response = await upload(clerk, data, files)
    assert response.status == 303, await response.text()
    match = BATCH_URL.match(response.headers["Location"])
    assert match, response.headers["Location"]
    return match.group(1)


async def clerk_session(api: Api, *roles: Role, **options: Any) -> str:
    """Log a clerk (or ``roles``) in on the test client; the session's CSRF token."""
    user, password = await staff_account(api.ctx, *roles, **options)
    return await log_in(api.client, user.username, password)


async def case_dispatch(
    api: Api,
    reference: str,
    *,
    case_number: str = "(2026)浙0106民初1234号",
    name: str = "张三",
    **options: Any,
) -> str:
    body = await api.new_dispatch_body(reference=reference, **options)
    body["case_number"] = case_number
    body["recipient"]["name"] = name
    return str((await api.create(body))["id"])


async def other_court_system(api: Api) -> Api:
    """The case system of another court (its own API key)."""
    _key, token = await create_api_key(api.ctx.engine, api.ctx.clock, "other", [OTHER_COURT])
    return Api(api.client, {"Authorization": f"Bearer {token}"}, api.ctx)
