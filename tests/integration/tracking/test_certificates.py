"""The proof of service (送达回证 / 电子送达凭证) end to end: dispatches served through the API and
the worker (e-mail, post, in person, public notice), the certificate issued by the job after
service, its PDF's text (extracted with pypdf, Chinese included), the preview of a dispatch not
served, a reversed service's certificate superseded by the next one, and the job's idempotence
and the sweep's safety net."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from api_client import RECIPIENT_EMAIL, Api, visit_task
from conftest import COURT, OTHER_COURT, settled
from pdf_checks import court_root, validate_signature
from standins import Post

from delivery.jobs.worker import render_certificate
from delivery.services.api_keys import create_api_key
from delivery.services.certificates import issue_certificates
from delivery.services.sweep import sweep
from integration.channels.in_person.support import JPEG, VISIT_LOCAL, in_person_dispatch
from integration.channels.public_notice.support import advance, published_notice
from integration.tracking.support import certificate_rows, issued, proof, text_of

pytestmark = [pytest.mark.usefixtures("worker")]
CASE_NUMBER = "(2026)浙0106民初1234号"
POSTAL = {
    "lines": "浙江省杭州市西湖区文三路1号",
    "postcode": "310012",
    "source": "recipient_confirmed",
}


def served_event(dispatch: dict[str, Any], index: int = -1) -> dict[str, Any]:
    return [e for e in dispatch["events"] if e["type"] == "dispatch_served"][index]


@pytest.mark.both_databases
async def test_an_e_served_dispatch_gets_its_certificate(api: Api) -> None:
    created = await api.new_dispatch()
    dispatch_id = created["id"]
    served = await api.until_state(dispatch_id, "served")
    [row] = await issued(api, dispatch_id)
    event = served_event(await api.dispatch(dispatch_id))
    assert (row["chain_head"], row["chain_seq"]) == (event["hash"], event["seq"])
    assert row["legal_basis"] == "OLR-31" and row["locale"] == "zh-CN"
    assert row["service_date"].isoformat() == served["service_date"]
    assert row["superseded_at"] is None and row["supersedes_id"] is None
    [issue] = [e for e in await api.events(dispatch_id) if e.type == "certificate_issued"]
    assert issue.data["certificate_id"] == row["id"] and issue.data["sha256"] == row["sha256"]

    response = await proof(api, dispatch_id)
    assert response.content_type == "application/pdf"
    assert response.headers["Songda-Certificate"] == row["id"]
    pdf = await response.read()
    assert hashlib.sha256(pdf).hexdigest() == row["sha256"] == issue.data["sha256"]
    assert api.ctx.documents.path_for(row["sha256"]).read_bytes() == pdf  # content-addressed
    text = text_of(pdf)
    detail = await api.dispatch(dispatch_id)
    for expected in (
        COURT,  # Chinese renders: the court name comes back out of the PDF
        CASE_NUMBER,
        detail["documents"][0]["sha256"],
        "民事起诉状",
        "OLR-31",
        served["service_date"],
        event["hash"],
        "送达回证",
        "电子送达凭证",
        "张三",
        "zh***@example.com",  # the address, masked
        "受送达人提供/确认",
        "法院电子送达系统",  # e-service: the court system served
        event["data"]["completing_event_id"],
        row["id"],
    ):
        assert expected in text, expected
    assert "zhang.san@example.com" not in text
    assert "未送达" not in text  # no watermark on a certificate

    # Court scope: another court's key sees no such dispatch.
    _key, other = await create_api_key(api.ctx.engine, api.ctx.clock, "other", [OTHER_COURT])
    foreign = await api.client.get(
        f"/api/v1/dispatches/{dispatch_id}/proof.pdf", headers={"Authorization": f"Bearer {other}"}
    )
    assert foreign.status == 404
    unknown = await proof(api, dispatch_id, f"?certificate={dispatch_id}", status=404)
    assert unknown.content_type == "application/problem+json"


async def test_an_english_certificate(api: Api) -> None:
    body = await api.new_dispatch_body()
    body["locale"] = "en"
    dispatch_id = (await api.create(body))["id"]
    served = await api.until_state(dispatch_id, "served")
    await issued(api, dispatch_id)
    text = text_of(await (await proof(api, dispatch_id)).read())
    for expected in ("Proofofservice", "Dateofservice", COURT, CASE_NUMBER, "OLR-31"):
        assert expected in text, expected
    assert served["service_date"] in text
    assert served_event(await api.dispatch(dispatch_id))["hash"] in text


async def test_a_dispatch_not_served_gets_a_watermarked_preview_never_stored(api: Api) -> None:
    created = await api.new_dispatch(source="court_found")  # served only once read
    dispatch_id = created["id"]
    await api.until_attempt(dispatch_id, "sent")
    await settled(api.ctx)
    before_counts, before_events = await api.table_counts(), await api.events(dispatch_id)
    files = sorted(p for p in api.ctx.documents.root.rglob("*") if p.is_file())

    response = await proof(api, dispatch_id)
    assert response.headers["Songda-Certificate"] == "preview"
    assert response.headers["Cache-Control"] == "no-store"
    text = text_of(await response.read())
    assert "未送达/NOTSERVED" in text and COURT in text and CASE_NUMBER in text
    detail = await api.dispatch(dispatch_id)
    assert detail["chain_head"] in text  # the record as it stands

    assert await api.table_counts() == before_counts
    assert await api.events(dispatch_id) == before_events
    assert sorted(p for p in api.ctx.documents.root.rglob("*") if p.is_file()) == files


@pytest.mark.both_databases
async def test_a_bounce_supersedes_the_certificate_and_the_next_one_says_so(
    api: Api, post: Post, bounce_processor: dict[str, str]
) -> None:
    body = await api.new_dispatch_body()
    body["recipient"]["postal_addresses"] = [POSTAL]
    dispatch_id = (await api.create(body))["id"]
    served = await api.until_state(dispatch_id, "served")
    [first] = await issued(api, dispatch_id)

    response = await api.client.post(
        "/api/v1/bounces",
        json={
            "message_id": served["attempts"][0]["provider_ref"],
            "recipient": RECIPIENT_EMAIL,
            "diagnostic": "550 5.1.1",
        },
        headers=bounce_processor,
    )
    assert (await response.json())["unserved"] is True
    [superseded] = await certificate_rows(api, dispatch_id)
    assert superseded["superseded_at"] == api.ctx.clock.now()
    preview = await proof(api, dispatch_id)  # not served any more: a preview again
    assert preview.headers["Songda-Certificate"] == "preview"

    tracking = await post.posted(dispatch_id)
    post.later(timedelta(days=2))
    status = await post.fake.report(
        tracking, "delivered", signed_by="张三", signer_id="33010619900101123X", relation="self"
    )
    assert status == 200
    again = await api.until_state(dispatch_id, "served")
    assert again["legal_basis"] == "CPL-91"
    old, new = await issued(api, dispatch_id, 2)
    assert old["id"] == first["id"] and old["superseded_at"] is not None
    assert new["supersedes_id"] == first["id"] and new["superseded_at"] is None
    assert new["chain_head"] == served_event(await api.dispatch(dispatch_id))["hash"]

    current = await proof(api, dispatch_id)
    assert current.headers["Songda-Certificate"] == new["id"]
    current_pdf = await current.read()
    text = text_of(current_pdf)
    assert f"本凭证取代凭证{first['id']}（送达日期{first['service_date'].isoformat()}）" in text
    for expected in ("CPL-91", "法院专递", tracking, "本人", again["service_date"]):
        assert expected in text, expected

    kept = await proof(api, dispatch_id, f"?certificate={first['id']}")
    assert kept.headers["Songda-Superseded-At"]
    kept_pdf = await kept.read()
    assert hashlib.sha256(kept_pdf).hexdigest() == first["sha256"]
    # Superseded, the first certificate still validates as what it was: signed by the court,
    # unchanged since (PAdES); the new one too.
    root = court_root(api.ctx.settings.keys_dir)
    for pdf in (kept_pdf, current_pdf):
        status = await validate_signature(pdf, root)
        assert status.bottom_line and status.coverage.name == "ENTIRE_FILE"


async def test_issuing_is_idempotent_and_the_sweep_is_the_safety_net(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def lost(dispatch_id: str, served_seq: int) -> None:
        return None  # Redis lost the job

    monkeypatch.setattr(api.ctx.queue, "render_certificate", lost)
    dispatch_id = (await api.new_dispatch())["id"]
    await api.until_state(dispatch_id, "served")
    await settled(api.ctx)
    assert await certificate_rows(api, dispatch_id) == []
    monkeypatch.undo()

    report = await sweep(api.ctx)
    assert report.certificates == 1
    [row] = await issued(api, dispatch_id)
    assert (await sweep(api.ctx)).certificates == 0

    # The job again, twice at once, and the service itself: still one certificate, one event.
    job = {"songda": api.ctx}
    await asyncio.gather(render_certificate(job, dispatch_id), render_certificate(job, dispatch_id))
    assert await issue_certificates(api.ctx, dispatch_id) == []
    assert [r["id"] for r in await certificate_rows(api, dispatch_id)] == [row["id"]]
    types = await api.event_types(dispatch_id)
    assert types.count("certificate_issued") == 1


async def test_a_served_dispatch_whose_job_has_not_run_is_issued_on_request(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def lost(dispatch_id: str, served_seq: int) -> None:
        return None

    monkeypatch.setattr(api.ctx.queue, "render_certificate", lost)
    dispatch_id = (await api.new_dispatch())["id"]
    await api.until_state(dispatch_id, "served")
    await settled(api.ctx)
    response = await proof(api, dispatch_id)
    [row] = await certificate_rows(api, dispatch_id)
    assert response.headers["Songda-Certificate"] == row["id"]


async def test_a_notice_certificate_lists_the_publications_and_the_deemed_date(api: Api) -> None:
    dispatch_id, _headers = await published_notice(api)
    advance(api, timedelta(days=30))
    await sweep(api.ctx)
    served = await api.until_state(dispatch_id, "served")
    await issued(api, dispatch_id)
    text = text_of(await (await proof(api, dispatch_id)).read())
    published = [e for e in served["events"] if e["type"] == "notice_published"]
    first_day = "2026-11-23"  # published at the start, 10:00 in Shanghai
    for expected in (
        "CPL-95",
        "公告送达",
        "法院网站",  # the place of publication
        "首次公告",
        "最后一次公告",
        first_day,
        "公告期（日）30",
        f"视为送达日期{served['service_date']}",
        "下落不明",  # the reason approved
        "李法官",  # the supervisor who approved
        COURT,
        CASE_NUMBER,
    ):
        assert expected in text, expected
    assert len(published) == 1


async def test_an_in_person_cpl89_certificate_lists_the_witness_and_media(
    api: Api, browser: Callable[..., Any]
) -> None:
    server = await browser(name="李送达")
    dispatch_id = await in_person_dispatch(api)
    task_id = await visit_task(api, dispatch_id)
    api.ctx.clock.advance(timedelta(days=1, hours=2))  # type: ignore[attr-defined]
    await server.log_in()
    fields = {
        "outcome": "refused_left",
        "witness_name": "王主任",
        "witness_org": "文三路社区居委会",
        "visited_at": VISIT_LOCAL,
    }
    response = await server.post(task_id, fields, [("media", JPEG, "a.jpg", "image/jpeg")])
    assert response.status == 303, await response.text()
    served = await api.until_state(dispatch_id, "served")
    assert served["legal_basis"] == "CPL-89"
    await issued(api, dispatch_id)
    text = text_of(await (await proof(api, dispatch_id)).read())
    for expected in (
        "CPL-89",
        "直接送达",
        "拒收，留置送达",
        "王主任",
        "文三路社区居委会",
        hashlib.sha256(JPEG).hexdigest(),
        "李送达",  # the field server served
        "2026-11-24",
    ):
        assert expected in text, expected
