"""What the API tests share: reading an RFC 9457 problem response (errors and hostile input),
and the golden walk's recorder (each answer as the golden file keeps it, random values replaced
by numbered placeholders) for test_api_compat.py."""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from api_client import Api
from conftest import MINIMAL_PDF

PROBLEM = "application/problem+json"
# Headers that say when, not what.
UNPINNED_HEADERS = frozenset({"Date", "Content-Length"})
JSON_TYPES = frozenset({"application/json", "application/problem+json"})
TEXT_TYPES = frozenset({"text/html", "text/plain", "text/csv"})
# The recipient's visits record their user agent: one that is not aiohttp's version.
USER_AGENT = "songda-golden-walk"
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


async def problem(response: Any, status: int, slug: str) -> dict[str, Any]:
    assert response.status == status, await response.text()
    assert response.content_type == PROBLEM
    body = dict(await response.json())
    assert body["type"] == f"urn:songda:problem:{slug}"
    assert body["status"] == status
    return body


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
