"""The service e-mail shows the link's address in full, not behind a button text, and the notice
code to compare with the page (issue 14), in both languages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from templates import render_service_email

LINK = "http://songda.test/r/eyJhIjoiMDFBUlozTkRFS1RTVjRSUkZGUTY5RzVGQVYifQ.c2lnbmF0dXJl"


def _email(locale: str) -> tuple[str, str, str]:
    return render_service_email(
        locale,
        court="杭州市西湖区人民法院",
        case_number="(2026)浙0106民初1234号",
        recipient_name="张三",
        document_titles=("民事起诉状", "传票"),
        link_url=LINK,
        link_expires_at=datetime(2026, 12, 23, tzinfo=UTC),
        time_zone="Asia/Shanghai",
        notice_code="ABCD-2345",
        check_url="http://songda.test/check",
    )


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_the_link_address_is_shown_in_full_with_the_notice_code(locale: str) -> None:
    subject, text, html = _email(locale)
    assert f'<a href="{LINK}" style="word-break: break-all;">{LINK}</a>' in html
    assert html.count("<a ") == 1  # no other link to click instead
    assert f"\n{LINK}\n" in text
    for body in (text, html):
        assert "ABCD-2345" in body and "http://songda.test/check" in body
        assert "民事起诉状" in body and "传票" in body
    assert "(2026)浙0106民初1234号" in subject


def test_each_language_reads_its_own() -> None:
    subject, text, html = _email("zh-CN")
    assert subject == "【杭州市西湖区人民法院】(2026)浙0106民初1234号 电子送达通知"
    assert "本通知的核验码：ABCD-2345" in text and '<html lang="zh-CN">' in html
    subject, text, html = _email("en")
    assert (
        subject
        == "[杭州市西湖区人民法院] Service of court documents in case (2026)浙0106民初1234号"
    )
    assert "Notice code: ABCD-2345" in text and '<html lang="en">' in html
