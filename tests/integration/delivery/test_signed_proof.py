"""CPL-87: the proof of service signed by the recipient, recorded with the date they wrote on it
and the scan of the paper — through the API and through the staff dispatch page. Service is
dated by the written date (in the court's zone) and the periods run from it; the certificate
shows the written date and when the clerk recorded it; bad input is a 422 naming the field and
stores nothing."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp import FormData
from api_client import Api
from helpers import log_in, proof_form, staff_account
from pdf_checks import PDF_THEN_HTML, scan_image, scan_pdf

from delivery.storage.schema import media_files
from escalation.periods import period_end
from integration.channels.in_person.support import JPEG, PNG
from integration.delivery.support import postal_dispatch
from integration.tracking.support import issued, proof, text_of

pytestmark = [pytest.mark.usefixtures("worker")]
NOTE = "回证已寄回 / the signed proof came back"
WRITTEN = date(2026, 11, 25)


def _fields(attempt_id: str, **changes: str | None) -> dict[str, str]:
    fields: dict[str, str | None] = {
        "action": "record_outcome",
        "note": NOTE,
        "attempt_id": attempt_id,
        "outcome": "proof_signed",
        "written_date": WRITTEN.isoformat(),
        **changes,
    }
    return {k: v for k, v in fields.items() if v is not None}


async def _act(api: Api, dispatch_id: str, form: FormData | dict[str, Any]) -> Any:
    url = f"/api/v1/dispatches/{dispatch_id}/actions"
    if isinstance(form, dict):
        return await api.client.post(url, json=form, headers=api.auth)
    return await api.client.post(url, data=form, headers=api.auth)


async def _scans(api: Api, dispatch_id: str) -> list[dict[str, Any]]:
    async with api.ctx.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(media_files).where(
                media_files.c.dispatch_id == dispatch_id, media_files.c.purpose == "signed_proof"
            )
        )
        return [dict(r) for r in rows.mappings()]


@pytest.mark.both_databases
async def test_cpl_87_serves_on_the_date_the_recipient_wrote(api: Api) -> None:
    dispatch_id, attempt_id = await postal_dispatch(api)
    scan = scan_pdf()
    response = await _act(api, dispatch_id, proof_form(_fields(attempt_id), scan))
    assert response.status == 200, await response.text()
    served = await response.json()

    # CPL-87: dated as written, in the court's zone — not the day the clerk recorded it.
    assert (served["state"], served["legal_basis"]) == ("served", "CPL-87")
    assert served["service_date"] == "2026-11-25"
    assert served["served_at"] == "2026-11-24T16:00:00.000000Z"  # 00:00 in Asia/Shanghai
    # The periods run from the written date.
    calendar = api.ctx.calendar
    counted = [p for p in served["periods"] if p["days"]]
    assert counted
    for period in counted:
        assert period["ends_on"] == period_end(WRITTEN, period["days"], calendar)[0].isoformat()

    [event] = [e for e in served["events"] if e["type"] == "proof_signed"]
    assert event["attempt_id"] == attempt_id and event["actor"].startswith("api_key:")
    assert event["occurred_at"] == served["served_at"]
    recorded = datetime.fromisoformat(event["recorded_at"])
    assert recorded == api.ctx.clock.now()
    assert recorded.astimezone(UTC).date() > WRITTEN
    sha = hashlib.sha256(scan).hexdigest()
    assert event["data"]["written_date"] == "2026-11-25"
    assert event["data"]["scan"]["sha256"] == sha
    assert event["data"]["scan"]["media_type"] == "application/pdf"
    [row] = await _scans(api, dispatch_id)
    assert (row["id"], row["sha256"], row["attempt_id"]) == (
        event["data"]["scan"]["media_id"],
        sha,
        attempt_id,
    )
    assert api.ctx.documents.read(sha) == scan  # content-addressed in the document store


@pytest.mark.both_databases
async def test_a_photo_of_the_proof_is_recognised_by_its_bytes(api: Api) -> None:
    dispatch_id, attempt_id = await postal_dispatch(api)
    png = scan_image()
    form = proof_form(_fields(attempt_id), png, filename="p.txt", content_type="text/plain")
    response = await _act(api, dispatch_id, form)
    assert response.status == 200, await response.text()
    [row] = await _scans(api, dispatch_id)
    assert row["media_type"] == "image/png"  # not what the name or the part's header said


BAD_DATES = [
    (None, "required"),
    ("2026/11/25", "YYYY-MM-DD"),
    ("25.11.2026", "YYYY-MM-DD"),
    ("2026-02-30", "not a date"),
    ("2026-11-30", "future"),  # the proof is recorded on 2026-11-29
    ("2026-11-22", "before the dispatch was created"),
    ("２０２６-11-25", "YYYY-MM-DD"),  # full-width digits are not a date here
]


@pytest.mark.both_databases
async def test_bad_input_is_a_422_naming_the_field_and_stores_nothing(api: Api) -> None:
    """CPL-87's details: the written date and the scan; each refusal names its field and
    leaves every table as it was."""
    dispatch_id, attempt_id = await postal_dispatch(api)
    before = await api.table_counts()
    big = scan_pdf() + b"%" + b"0" * (api.ctx.settings.max_upload_bytes + 1)
    cases: list[tuple[FormData | dict[str, Any], str, str]] = [
        *(
            (proof_form(_fields(attempt_id, written_date=value), scan_pdf()), "written_date", why)
            for value, why in BAD_DATES
        ),
        (proof_form(_fields(attempt_id)), "scan", "required"),
        (_fields(attempt_id), "scan", "multipart/form-data"),  # JSON: no file can come
        (proof_form(_fields(attempt_id), b"just some text"), "scan", "not a PDF, JPEG or PNG"),
        (proof_form(_fields(attempt_id), big), "scan", "exceeds the limit"),
        (proof_form(_fields(attempt_id), b""), "scan", "empty"),
        (proof_form(_fields(attempt_id), PDF_THEN_HTML), "scan", "not a readable PDF"),
        (proof_form(_fields(attempt_id), JPEG, content_type="image/jpeg"), "scan", "image"),
        (proof_form(_fields(attempt_id), PNG, content_type="image/png"), "scan", "image"),
        (proof_form(_fields(attempt_id), scan_image()[:-20]), "scan", "not a readable image"),
    ]
    two = proof_form(_fields(attempt_id), scan_pdf())
    two.add_field("scan", scan_pdf(), filename="again.pdf", content_type="application/pdf")
    cases.append((two, "scan", "one file"))
    escalate = proof_form({"action": "escalate", "note": NOTE}, scan_pdf())
    cases.append((escalate, "scan", "only record_outcome"))
    for form, field, why in cases:
        response = await _act(api, dispatch_id, form)
        assert response.status == 422, (field, why, await response.text())
        assert response.content_type == "application/problem+json"
        problem = await response.json()
        [error] = [e for e in problem["errors"] if e["field"] == field]
        assert why in error["message"], (why, error)
    assert await api.table_counts() == before
    assert (await api.dispatch(dispatch_id))["state"] == "in_progress"


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        (
            "en",
            (
                "Dateofservice2026-11-25",
                "datewrittenontheproofbytherecipient2026-11-25",
                "recordedbytheclerkat2026-11-2910:00:00UTC+08:00",
                "signedproofscanSHA-256",
            ),
        ),
        (
            "zh-CN",
            (
                "送达日期2026-11-25",
                "受送达人在回证上填写的签收日期2026-11-25",
                "书记员登记时间2026-11-2910:00:00UTC+08:00",
            ),
        ),
    ],
)
async def test_the_certificate_shows_the_written_date_and_when_it_was_recorded(
    api: Api, locale: str, expected: tuple[str, ...]
) -> None:
    """CPL-87, in both languages (the bundled fonts draw the Chinese labels anywhere)."""
    dispatch_id, attempt_id = await postal_dispatch(api, locale)
    scan = scan_pdf()
    response = await _act(api, dispatch_id, proof_form(_fields(attempt_id), scan))
    assert response.status == 200, await response.text()
    await issued(api, dispatch_id)
    text = text_of(await (await proof(api, dispatch_id)).read())
    assert "CPL-87" in text and hashlib.sha256(scan).hexdigest() in text
    for line in expected:
        assert line in text, line


async def _clerk_page(api: Api, dispatch_id: str) -> tuple[str, str]:
    """A clerk of the court logged in: (the session's CSRF token, the dispatch page)."""
    user, password = await staff_account(api.ctx)
    csrf = await log_in(api.client, user.username, password)
    page = await api.client.get(f"/staff/dispatches/{dispatch_id}")
    assert page.status == 200
    return csrf, await page.text()


@pytest.mark.both_databases
async def test_the_dispatch_page_records_a_signed_proof(api: Api) -> None:
    dispatch_id, attempt_id = await postal_dispatch(api)
    csrf, page = await _clerk_page(api, dispatch_id)
    start = page.rindex("<form", 0, page.index('data-action="record_outcome"'))
    form = page[start : page.index("</form>", start)]
    assert 'enctype="multipart/form-data"' in form
    assert 'type="date" name="written_date" required min="2026-11-23" max="2026-11-29"' in form
    assert 'type="file" name="scan" required accept="application/pdf,image/jpeg,image/png"' in form
    assert "<label>受送达人在回证上填写的签收日期 <input" in form  # labelled inputs

    fields = {"csrf_token": csrf, **_fields(attempt_id)}
    response = await api.client.post(
        f"/staff/dispatches/{dispatch_id}/actions",
        data=proof_form(fields, scan_image("JPEG"), filename="scan.jpg"),
        allow_redirects=False,
    )
    assert response.status == 303, await response.text()
    served = await api.dispatch(dispatch_id)
    assert (served["legal_basis"], served["service_date"]) == ("CPL-87", "2026-11-25")
    [event] = [e for e in served["events"] if e["type"] == "proof_signed"]
    assert event["actor"].startswith("staff:")
    assert event["data"]["scan"]["media_type"] == "image/jpeg"
    page = await (await api.client.get(f"/staff/dispatches/{dispatch_id}")).text()
    assert "2026-11-25" in page  # the timeline shows the written date


@pytest.mark.both_databases
async def test_the_dispatch_page_refuses_a_bad_proof_and_stores_nothing(api: Api) -> None:
    dispatch_id, attempt_id = await postal_dispatch(api)
    csrf, _page = await _clerk_page(api, dispatch_id)
    url = f"/staff/dispatches/{dispatch_id}/actions"
    before = await api.table_counts()
    future = {"csrf_token": csrf, **_fields(attempt_id, written_date="2026-12-01")}
    refused = await api.client.post(url, data=proof_form(future, scan_pdf()))
    assert refused.status == 422
    html = await refused.text()
    assert "written_date: 2026-12-01 is in the future" in html
    assert NOTE in html and 'value="2026-12-01"' in html  # the form comes back filled in
    # Said in the page's language, and the field itself is marked for assistive technology.
    assert "签收日期未被接受" in html
    assert 'name="written_date" aria-invalid="true" aria-describedby="action-error"' in html

    for scan, why in ((PNG, "not a readable image"), (b"plain text", "not a PDF, JPEG or PNG")):
        fields = {"csrf_token": csrf, **_fields(attempt_id)}
        refused = await api.client.post(url, data=proof_form(fields, scan))
        assert refused.status == 422
        html = await refused.text()
        assert f"scan: {why}" in html and "扫描件未被接受" in html
        assert 'name="scan" aria-invalid="true"' in html

    no_scan = {"csrf_token": csrf, **_fields(attempt_id)}
    refused = await api.client.post(url, data=proof_form(no_scan))
    assert refused.status == 422 and "scan: required" in await refused.text()

    forged = proof_form({"csrf_token": "forged", **_fields(attempt_id)}, scan_pdf())
    assert (await api.client.post(url, data=forged)).status == 403
    assert await api.table_counts() == before
