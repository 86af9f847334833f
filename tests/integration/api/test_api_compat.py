"""The HTTP surface, pinned: the OpenAPI document and the README's walk-through, answer by answer.

Every answer the walk gets (status, content type, headers, body) is recorded and compared with
tests/integration/api/golden_walkthrough.json, so that moving code around can show it changed
nothing a case system or a recipient sees. Only what is random per run is replaced, each distinct
value by a numbered placeholder in order of first appearance (equal values stay equal); times
come from the manual clock and stay as they are. ``SONGDA_UPDATE_GOLDEN=1`` rewrites the file
instead.

This module imports nothing from the code it pins (whose modules may move): only the harness.
"""

from __future__ import annotations

import difflib
import hashlib
import io
import json
import os
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import FormData
from conftest import COURT, MINIMAL_PDF, settled
from helpers import Api, Receiver, link_path, receiving

pytestmark = [pytest.mark.both_databases, pytest.mark.usefixtures("worker")]

GOLDEN = Path(__file__).parent / "golden_walkthrough.json"
# Headers that say when, not what.
UNPINNED_HEADERS = frozenset({"Date", "Content-Length"})
JSON_TYPES = frozenset({"application/json", "application/problem+json"})
TEXT_TYPES = frozenset({"text/html", "text/plain", "text/csv"})
# The recipient's visits record their user agent: one that is not aiohttp's version.
USER_AGENT = "songda-golden-walk"
UNKNOWN_ID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"


@dataclass
class Walk:
    """The case system's and the recipient's requests, each answer recorded as it came."""

    api: Api
    steps: list[dict[str, Any]] = field(default_factory=list)

    async def call(
        self,
        step: str,
        method: str,
        template: str,
        path: dict[str, str] | None = None,
        *,
        key: bool = True,
        headers: dict[str, str] | None = None,
        **request: Any,
    ) -> Any:
        """Send one request (``template`` filled from ``path``), record its answer, return its
        decoded body."""
        url = template.format_map(path or {})
        sent = {"User-Agent": USER_AGENT, **(self.api.auth if key else {}), **(headers or {})}
        response = await self.api.client.request(
            method, url, headers=sent, allow_redirects=False, **request
        )
        raw = await response.read()
        record: dict[str, Any] = {"step": step, "request": f"{method} {template}"}
        if "params" in request:
            record["query"] = request["params"]
        record["status"] = response.status
        record["headers"] = {k: v for k, v in response.headers.items() if k not in UNPINNED_HEADERS}
        record.update(_body(response.content_type, raw))
        self.steps.append(record)
        return record.get("body")


def _body(content_type: str, raw: bytes) -> dict[str, Any]:
    """The body as the golden file keeps it: JSON as JSON when its text is exactly what
    ``json.dumps(..., ensure_ascii=False)`` writes (so the bytes are pinned too), else as text;
    PDFs and zips by what they hold."""
    if not raw:
        return {}
    if content_type in JSON_TYPES:
        parsed = json.loads(raw)
        if json.dumps(parsed, ensure_ascii=False).encode() == raw:
            return {"body": parsed}
        return {"body_text": raw.decode()}
    if content_type in TEXT_TYPES:
        return {"body_text": raw.decode()}
    if content_type == "application/pdf":
        return {
            "body_pdf": {"is_pdf": raw.startswith(b"%PDF-"), "same_as_upload": raw == MINIMAL_PDF}
        }
    if content_type == "application/zip":
        with zipfile.ZipFile(io.BytesIO(raw)) as bundle:
            return {"body_zip": {name: _entry(bundle.read(name)) for name in bundle.namelist()}}
    raise AssertionError(f"no golden form for {content_type}")


def _entry(data: bytes) -> Any:
    """A bundle's file: its JSON (``manifest.sig`` is JSON too), or whether it is a PDF."""
    if data.startswith(b"%PDF-"):
        return {"is_pdf": True}
    return json.loads(data)


ULID = r"(?<![0-9A-Za-z])[0-7][0-9A-HJKMNP-TV-Z]{25}(?![0-9A-Za-z])"
LOWER_ULID = r"(?<![0-9A-Za-z])[0-7][0-9a-hjkmnp-tv-z]{25}(?![0-9A-Za-z])"
SHA256 = r"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])"
# What is random per run, found in any string: (kind, pattern), tried in this order.
RANDOM_PATTERNS = (
    ("pem", r"-----BEGIN ([A-Z ]+)-----\n[A-Za-z0-9+/=\n]+?-----END \1-----\n?"),
    ("link", r"(?<=/r/)[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+"),
    ("cookie", r"(?<=songda_r_[0-9A-Z]{26}=)[A-Za-z0-9_-]+"),
    # A downloaded file's validators: its mtime, the machine's clock (not the injected one).
    ("file-etag", r'(?<=^")[0-9a-f]+(?=-[0-9a-f]+"$)'),
    ("file-mtime", r"^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$"),
    ("notice-code", r"(?<![0-9A-Za-z-])[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}(?![0-9A-Za-z-])"),
    ("sha256", SHA256),
    ("id", ULID),
)
# Random values found by the name of their field: (field, kind).
RANDOM_FIELDS = {
    "kid": "kid",
    "key_id": "kid",
    "public_key": "public-key",
    "signature": "signature",
    "secret": "secret",
}
# 64-hex values that are the same on every run: the chain's genesis, the uploaded PDF's
# SHA-256; an ``address_hmac`` is keyed with the tests' fixed secret key.
STABLE_FIELDS = frozenset({"address_hmac"})


class Placeholders:
    """Replaces each random value by ``<kind:n>``, n counting distinct values of that kind in
    order of first appearance, so equal values stay equal and everything else stays exact.

    A ULID written in lower case (as in a Message-ID) is the same id: ``<id:n:lower>``. A
    file's ``size`` is random when its ``sha256`` is (a signed certificate's length varies
    with its signature)."""

    def __init__(self, receiver_url: str) -> None:
        self.stable = {"0" * 64, hashlib.sha256(MINIMAL_PDF).hexdigest()}
        self.literals: dict[str, str] = {receiver_url: "webhook-receiver"}
        self.numbers: dict[str, dict[str, int]] = {}

    def apply(self, record: Any) -> Any:
        self._collect(record)
        return self._replace(record)

    def _collect(self, value: Any, name: str = "") -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                self._collect(item, key)
        elif isinstance(value, list):
            for item in value:
                self._collect(item, name)
        elif isinstance(value, str) and name in STABLE_FIELDS:
            self.stable.add(value)
        elif isinstance(value, str) and name in RANDOM_FIELDS:
            self.literals[value] = RANDOM_FIELDS[name]

    def _placeholder(self, kind: str, value: str) -> str:
        seen = self.numbers.setdefault(kind, {})
        number = seen.setdefault(value, len(seen) + 1)
        return f"<{kind}:{number}>"

    def _replace(self, value: Any) -> Any:
        if isinstance(value, dict):
            replaced = {self._text(key): self._replace(item) for key, item in value.items()}
            if "size" in value and replaced.get("sha256") != value.get("sha256"):
                replaced["size"] = "<size of a random file>"
            return replaced
        if isinstance(value, list):
            return [self._replace(item) for item in value]
        if isinstance(value, str):
            return self._text(value)
        return value

    def _text(self, text: str) -> str:
        for literal in sorted(self.literals, key=len, reverse=True):
            if literal in text:
                kind = self.literals[literal]
                text = text.replace(literal, self._placeholder(kind, literal))
        for kind, pattern in RANDOM_PATTERNS:
            text = re.sub(pattern, self._matcher(kind), text)
        return re.sub(LOWER_ULID, lambda m: self._lower_id(m.group(0)), text)

    def _matcher(self, kind: str) -> Callable[[re.Match[str]], str]:
        def replace(match: re.Match[str]) -> str:
            value = match.group(0)
            return value if value in self.stable else self._placeholder(kind, value)

        return replace

    def _lower_id(self, value: str) -> str:
        return self._placeholder("id", value.upper())[:-1] + ":lower>"


def _upload(title: str, kind: str, content: bytes = MINIMAL_PDF) -> FormData:
    form = FormData()
    form.add_field("title", title)
    form.add_field("kind", kind)
    form.add_field("file", content, filename="summons.pdf", content_type="application/pdf")
    return form


def readme_dispatch(document_id: str, reference: str = "demo-1") -> dict[str, Any]:
    """Step 2 of the README's walk-through (on the tests' court)."""
    return {
        "court": COURT,
        "case_number": "(2026)浙0106民初1234号",
        "reference": reference,
        "documents": [document_id],
        "recipient": {
            "name": "张三",
            "role": "defendant",
            "id_number": "33010619900101123X",
            "e_service_consent": {"given": True, "basis": "express"},
            "emails": [{"address": "zhangsan@example.com", "source": "court_found"}],
        },
    }


async def _case_system_sets_up(walk: Walk, receiver_url: str) -> tuple[str, str]:
    """The OpenAPI document, health, a webhook endpoint, the README's upload: the document's
    and the endpoint's ids."""
    await walk.call("the OpenAPI document", "GET", "/api/v1/openapi.json")
    await walk.call("health", "GET", "/healthz", key=False)
    endpoint = await walk.call(
        "register a webhook endpoint",
        "POST",
        "/api/v1/webhook-endpoints",
        json={"url": receiver_url},
    )
    await walk.call("list webhook endpoints", "GET", "/api/v1/webhook-endpoints")
    document = await walk.call(
        "1. upload the document", "POST", "/api/v1/documents", data=_upload("传票", "summons")
    )
    return str(document["id"]), str(endpoint["id"])


async def _dispatch_is_created(walk: Walk, document_id: str) -> str:
    body = readme_dispatch(document_id)
    created = await walk.call("2. create the dispatch", "POST", "/api/v1/dispatches", json=body)
    dispatch = {"id": str(created["id"])}
    await settled(walk.api.ctx)  # the e-mail is sent: the answers below show it so
    await walk.call(
        "2. the same again, with its Idempotency-Key",
        "POST",
        "/api/v1/dispatches",
        json=body,
        headers={"Idempotency-Key": "demo-1"},
    )
    await walk.call(
        "the same reference with another body",
        "POST",
        "/api/v1/dispatches",
        json={**body, "case_number": "(2026)浙0106民初9999号"},
    )
    await walk.call("read it (e-mail sent)", "GET", "/api/v1/dispatches/{id}", dispatch)
    await walk.call(
        "list dispatches of the case",
        "GET",
        "/api/v1/dispatches",
        params={"case_number": "(2026)浙0106民初1234号", "limit": "10"},
    )
    return dispatch["id"]


async def _recipient_reads(walk: Walk, document_id: str) -> None:
    """Steps 3-4: the e-mail in the sandbox mailbox, a day later its link, the identity check
    (once wrong), the documents page and the download."""
    mailbox = await walk.call("3. the sandbox mailbox", "GET", "/sandbox/api/messages", key=False)
    await walk.call(
        "a day later (sandbox clock)",
        "POST",
        "/sandbox/api/clock",
        key=False,
        json={"advance": "P1DT3H"},
    )
    await settled(walk.api.ctx)
    link = {"token": link_path(mailbox["items"][0]["text"]).removeprefix("/r/")}
    await walk.call("4. open the link", "GET", "/r/{token}", link, key=False)
    await walk.call(
        "4. a wrong identity check",
        "POST",
        "/r/{token}/verify",
        link,
        key=False,
        data={"last4": "0000"},
    )
    await walk.call(
        "4. the identity check",
        "POST",
        "/r/{token}/verify",
        link,
        key=False,
        data={"last4": "123X"},
    )
    await walk.call("4. the documents page", "GET", "/r/{token}", link, key=False)
    await walk.call(
        "4. download the summons",
        "GET",
        "/r/{token}/documents/{document_id}",
        {**link, "document_id": document_id},
        key=False,
    )
    await settled(walk.api.ctx)


async def _proof_is_read(walk: Walk, dispatch_id: str) -> None:
    """Step 5 and *Proof and verification*: the served dispatch, its certificate, its bundle,
    the court's published keys and the QR page."""
    dispatch = {"id": dispatch_id}
    served = await walk.call("5. the served dispatch", "GET", "/api/v1/dispatches/{id}", dispatch)
    await walk.call("the proof of service", "GET", "/api/v1/dispatches/{id}/proof.pdf", dispatch)
    await walk.call("the evidence bundle", "GET", "/api/v1/dispatches/{id}/evidence.zip", dispatch)
    await walk.call("the court keys", "GET", "/.well-known/songda-keys.json", key=False)
    await walk.call(
        "the court certificates", "GET", "/.well-known/songda-court-certificates.json", key=False
    )
    head = next(e for e in served["events"] if e["type"] == "dispatch_served")["hash"]
    await walk.call("the QR page", "GET", "/verify/{id}", dispatch, key=False, params={"h": head})


async def _second_dispatch_is_cancelled(walk: Walk, document_id: str) -> None:
    created = await walk.call(
        "another dispatch",
        "POST",
        "/api/v1/dispatches",
        json=readme_dispatch(document_id, "demo-2"),
    )
    await settled(walk.api.ctx)
    await walk.call(
        "cancel it",
        "POST",
        "/api/v1/dispatches/{id}/cancel",
        {"id": str(created["id"])},
        json={"reason": "撤诉"},
    )
    await settled(walk.api.ctx)
    await walk.call("list all dispatches", "GET", "/api/v1/dispatches")
    await walk.call(
        "list served dispatches", "GET", "/api/v1/dispatches", params={"state": "served"}
    )


async def _reports_are_read(walk: Walk) -> None:
    period = {"from": "2026-11-01", "to": "2026-11-30"}
    await walk.call(
        "the report by channel",
        "GET",
        "/api/v1/reports/service",
        params={**period, "group_by": "channel"},
    )
    await walk.call(
        "the report by month, as CSV",
        "GET",
        "/api/v1/reports/service.csv",
        params={**period, "group_by": "month"},
    )
    await walk.call("webhook deliveries", "GET", "/api/v1/webhook-deliveries")


async def _errors_are_answered(walk: Walk, document_id: str, endpoint_id: str) -> None:
    missing = readme_dispatch(document_id, "demo-3")
    del missing["case_number"]
    await walk.call("422: a field missing", "POST", "/api/v1/dispatches", json=missing)
    unknown = {"id": UNKNOWN_ID}
    await walk.call("404: an unknown dispatch", "GET", "/api/v1/dispatches/{id}", unknown)
    await walk.call(
        "404: an unknown dispatch's bundle", "GET", "/api/v1/dispatches/{id}/evidence.zip", unknown
    )
    await walk.call("401: no key", "POST", "/api/v1/dispatches", key=False, json={})
    await walk.call(
        "415: not JSON",
        "POST",
        "/api/v1/dispatches",
        data=b"{}",
        headers={"Content-Type": "text/plain"},
    )
    await walk.call(
        "400: broken JSON",
        "POST",
        "/api/v1/dispatches",
        data=b'{"court": ',
        headers={"Content-Type": "application/json"},
    )
    await walk.call(
        "415: an upload that is not a PDF",
        "POST",
        "/api/v1/documents",
        data=_upload("传票", "summons", b"GIF89a not a pdf"),
    )
    await walk.call(
        "422: a bad list parameter", "GET", "/api/v1/dispatches", params={"state": "lost"}
    )
    await walk.call(
        "422: a bad webhook endpoint",
        "POST",
        "/api/v1/webhook-endpoints",
        json={"url": "ftp://x", "event_types": ["nope"]},
    )
    await walk.call(
        "delete the webhook endpoint",
        "DELETE",
        "/api/v1/webhook-endpoints/{id}",
        {"id": endpoint_id},
    )


async def test_the_http_surface_is_unchanged(sandbox_api: Api) -> None:
    walk = Walk(sandbox_api)
    async with receiving(Receiver()) as receiver:
        document_id, endpoint_id = await _case_system_sets_up(walk, receiver.url)
        dispatch_id = await _dispatch_is_created(walk, document_id)
        await _recipient_reads(walk, document_id)
        await _proof_is_read(walk, dispatch_id)
        await _second_dispatch_is_cancelled(walk, document_id)
        await _reports_are_read(walk)
        await _errors_are_answered(walk, document_id, endpoint_id)
    text = (
        json.dumps(Placeholders(receiver.url).apply(walk.steps), ensure_ascii=False, indent=2)
        + "\n"
    )
    _compare_with_golden(text)


def _compare_with_golden(text: str) -> None:
    if os.environ.get("SONGDA_UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(text, encoding="utf-8")
        return
    golden = GOLDEN.read_text(encoding="utf-8")
    diff = difflib.unified_diff(
        golden.splitlines(keepends=True), text.splitlines(keepends=True), str(GOLDEN), "this run"
    )
    if text != golden:
        pytest.fail(
            "the HTTP surface changed (SONGDA_UPDATE_GOLDEN=1 rewrites the golden file):\n"
            + "".join(diff),
            pytrace=False,
        )
