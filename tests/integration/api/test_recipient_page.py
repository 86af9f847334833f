"""The recipient's page tells a person what is happening (issue 14): before the identity check,
that passing it and opening the documents is legal service on that date (OLR-31, CPL-90) and which
periods then run (CPL-128, CPL-85); after it, the date of service, the periods' end dates as
escalation/periods.py computed them, the hearing, and how to reach the court."""

from __future__ import annotations

import dataclasses
import re
from datetime import date
from typing import Any

import pytest
from api_client import Api, dispatch_body
from conftest import settled
from helpers import code_link, link_path

from delivery.config import Settings
from delivery.court_contact import CourtContact
from delivery.sandbox.pages import SmtpSink
from escalation.calendar import CourtDays
from escalation.periods import period_end

pytestmark = [pytest.mark.both_databases, pytest.mark.usefixtures("worker")]

CONTACT = CourtContact(
    phone="0571-87000000", address="杭州市西湖区文三路 1 号", hours="周一至周五 9:00–17:00"
)
HEARING = "2027-01-12T09:30:00+08:00"
NOTICE_CODE = re.compile(r"核验码：([2-9A-Z]{4}-[2-9A-Z]{4})")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, court_contact=CONTACT)


async def _document(api: Api, title: str, kind: str) -> str:
    response = await api.upload(title=title, kind=kind)
    assert response.status == 201, await response.text()
    return str((await response.json())["id"])


async def _served_link(api: Api, smtp_sink: SmtpSink, source: str) -> tuple[str, str, str]:
    """(dispatch id, link path, notice code) of a sent e-mail serving a complaint and a summons
    for a hearing."""
    documents = [
        await _document(api, "民事起诉状", "complaint"),
        await _document(api, "传票", "summons"),
    ]
    body = dispatch_body(documents, source=source) | {"hearing_at": HEARING}
    created = await api.create(body)
    await api.until_attempt(created["id"], "sent")
    await settled(api.ctx)
    text = smtp_sink.messages[-1].text
    code = NOTICE_CODE.search(text)
    assert code, text
    return created["id"], link_path(text), code.group(1)


async def _refused(api: Api, path: str, field: str, value: str) -> str:
    """The page answering a wrong ``field`` (``last4`` or ``code``): 401, the error announced
    (``role=alert``) and tied to the input (``aria-invalid``, ``aria-describedby``)."""
    response = await api.client.post(f"{path}/verify", data={field: value})
    assert response.status == 401
    page = await response.text()
    tag = re.search(rf'<input id="{field}"[^>]*>', page)
    assert tag, page
    assert 'aria-invalid="true"' in tag.group(0)
    assert f'aria-describedby="{field}-help {field}-error"' in tag.group(0)
    assert f'<p id="{field}-error" class="error" role="alert">' in page
    return page


async def _page(api: Api, path: str) -> str:
    response = await api.client.get(path)
    assert response.status == 200, await response.text()
    return await response.text()


async def test_before_the_check_the_page_says_that_opening_is_service_and_what_runs(
    api: Api, smtp_sink: SmtpSink
) -> None:
    dispatch_id, path, code = await _served_link(api, smtp_sink, "court_found")
    page = await _page(api, path)
    # OLR-31 for a court-found address: served only when read — dated by the check.
    assert "您通过下方身份核验并查阅文书，即视为依法送达。" in page
    assert "送达日期为您通过核验的当日" in page
    assert "答辩期 15 日（民事起诉状；《民事诉讼法》第一百二十八条）" in page
    assert "送达当日不计入期间" in page  # CPL-85
    # Which court, which case, what documents; the code to compare; where to check; the court.
    for shown in ("杭州市西湖区人民法院", "(2026)浙0106民初1234号", "传票", code, "/check"):
        assert shown in page
    for shown in (CONTACT.phone, CONTACT.address, CONTACT.hours):
        assert shown is not None and shown in page
    # Nothing of the service itself before the check: no date, no hearing, no fingerprints.
    assert "送达日期：" not in page and "2027-01-12" not in page and "SHA-256" not in page
    english = await _page(api, f"{path}?lang=en")
    assert "Passing the identity check below and opening the documents counts as legal" in english
    assert "Period to answer the complaint: 15 days (民事起诉状; Civil Procedure Law art. 128)" in (
        english
    )
    assert (await api.dispatch(dispatch_id))["state"] == "in_progress"


async def test_after_the_check_the_date_of_service_periods_and_hearing(
    api: Api, smtp_sink: SmtpSink
) -> None:
    dispatch_id, path, _code = await _served_link(api, smtp_sink, "court_found")
    checked = await api.client.post(f"{path}/verify", data={"last4": "123X"}, allow_redirects=False)
    assert checked.status == 303
    page = await _page(api, path)
    served = await api.until_state(dispatch_id, "served")
    assert served["service_date"] == "2026-11-23"
    assert (
        "送达日期：<strong>2026-11-23</strong>（电子送达（《人民法院在线诉讼规则》第三十一条））"
        in page
    )
    # The end date is escalation/periods.py's, as stored at service and sent to the case system.
    answer = next(p for p in served["periods"] if p["name"] == "answer")
    counted, _provisional = period_end(
        date(2026, 11, 23), 15, CourtDays(api.ctx.calendar, api.ctx.settings.zone).calendar
    )
    assert answer["ends_on"] == counted.isoformat() == "2026-12-08"
    assert "答辩期（15 日，民事起诉状）：至 <strong>2026-12-08</strong> 届满。" in page
    assert "开庭时间：<strong>2027-01-12 09:30</strong>（Asia/Shanghai）" in page
    assert f"开庭地点：以传票载明的为准；法院地址：{CONTACT.address}" in page
    assert f'<a href="tel:057187000000">{CONTACT.phone}</a>' in page
    # The fingerprints stay available, out of the way.
    assert "<details>" in page and "SHA-256" in page.split("<details>")[1]


async def test_an_address_the_recipient_confirmed_is_already_served(
    api: Api, smtp_sink: SmtpSink
) -> None:
    """CPL-INT-135: accepted by the court's mail server is served; the page must not claim that
    opening it now is the service."""
    dispatch_id, path, _code = await _served_link(api, smtp_sink, "recipient_confirmed")
    await api.until_state(dispatch_id, "served")
    page = await _page(api, path)
    assert "已经依法送达" in page and "查阅文书不会改变送达日期" in page
    assert "即视为依法送达" not in page


async def test_last4_check_form_errors_are_announced_and_tied_to_the_field(
    api: Api, smtp_sink: SmtpSink
) -> None:
    _dispatch_id, path, _code = await _served_link(api, smtp_sink, "court_found")
    first = await _page(api, path)
    # No second channel for a code here: one field and one button, no code field.
    assert 'name="code"' not in first and first.count("<button") == 1
    assert "还可输错 5 次" in first
    page = await _refused(api, path, "last4", "0000")
    assert 'role="alert">核对不一致，请重试。</p>' in page
    assert "还可输错 4 次" in page


async def test_documents_open_in_the_browser_and_save_under_their_title(
    api: Api, smtp_sink: SmtpSink
) -> None:
    response = await api.upload(title="判决书/第1号", kind="judgment")
    document_id = str((await response.json())["id"])
    created = await api.create(dispatch_body([document_id], source="court_found"))
    await api.until_attempt(created["id"], "sent")
    await settled(api.ctx)
    path = link_path(smtp_sink.messages[-1].text)
    checked = {"last4": "123X", "lang": "en"}
    verify = await api.client.post(f"{path}/verify", data=checked, allow_redirects=False)
    assert verify.status == 303
    assert verify.headers["Location"] == f"{path}?lang=en"  # the language the reader chose
    page = await _page(api, path)
    assert f'href="{path}/documents/{document_id}?download=1"' in page
    name = "%E5%88%A4%E5%86%B3%E4%B9%A6_%E7%AC%AC1%E5%8F%B7.pdf"  # 判决书_第1号.pdf
    shown = await api.client.get(f"{path}/documents/{document_id}")
    assert shown.status == 200
    assert shown.headers["Content-Disposition"] == (
        f"inline; filename=\"document.pdf\"; filename*=UTF-8''{name}"
    )
    assert shown.headers["Content-Type"] == "application/pdf"
    saved = await api.client.get(f"{path}/documents/{document_id}?download=1")
    assert saved.headers["Content-Disposition"] == (
        f"attachment; filename=\"document.pdf\"; filename*=UTF-8''{name}"
    )
    assert await saved.read() == await shown.read()


async def test_code_flow_asks_for_a_code_first_then_shows_one_field(
    api: Api, smtp_sink: SmtpSink, sms_standin: Any
) -> None:
    """Issue 14: no code field and no second button before a code was sent; after sending,
    one code field, one button and the tries left; a wrong code is announced on the field."""
    fake, _channel = sms_standin
    _dispatch_id, path = await code_link(api, sms_standin, smtp_sink)

    first = await _page(api, path)
    assert 'name="code"' not in first
    assert f'action="{path}/code"' in first and "发送验证码" in first
    assert 'name="last4"' in first  # the alternative stays offered

    sent = await api.client.post(f"{path}/code")
    assert sent.status == 200
    page = await sent.text()
    assert "一次性验证码已发送至 **********8000" in page
    assert page.count('name="code"') == 1 and 'name="last4"' not in page
    assert page.count("<button") == 1
    assert "还可输错 5 次" in page

    right = re.search(r"\d{6}", fake.messages[-1]["body"])
    assert right, fake.messages[-1]["body"]
    wrong_code = "000000" if right.group(0) != "000000" else "111111"
    page = await _refused(api, path, "code", wrong_code)
    assert 'role="alert">验证码不正确或已过期。</p>' in page
    assert "还可输错 4 次" in page and page.count("<button") == 1
