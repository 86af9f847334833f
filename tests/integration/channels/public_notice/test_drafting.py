"""Public notice (公告送达): the draft composed from the documents' kinds, in Chinese or English,
and a simplified case that reaches the notice once it converts.

The ladder reaches the notice step here by a recipient with no usable address for the earlier
steps (no e-service consent, no postal address), or by the clerk actions ``skip_step`` and
``escalate``; the whole-ladder test (e-mail, post, in person, notice) comes with the in-person
channel.
"""

from __future__ import annotations

import pytest
from api_client import Api
from conftest import COURT, settled

from delivery.services.sweep import sweep
from integration.channels.public_notice.support import (
    EMAIL,
    ID_NUMBER,
    PHONE,
    act,
    drafted,
    notice_dispatch,
)

pytestmark = [pytest.mark.both_databases, pytest.mark.usefixtures("worker")]


async def test_the_draft_is_composed_from_the_documents_kinds(api: Api) -> None:
    """CPL-INT-139: complaint (main points, answer period, consequence), summons (time, place,
    consequence), judgment (main content, appeal right, period, court) — zh-CN."""
    created = await notice_dispatch(
        api,
        kinds=[("complaint", "民事起诉状"), ("summons", "传票"), ("judgment", "民事判决书")],
        hearing_at="2027-03-02T09:30:00+08:00",
    )
    dispatch = await api.until_state(created["id"], "notice_pending")
    assert [a["channel"] for a in dispatch["attempts"]] == ["public_notice"]
    notice = await drafted(api, created["id"])
    text = notice["body"]
    assert notice["state"] == "draft" and notice["locale"] == "zh-CN"
    assert notice["title"] == f"{COURT}公告（(2026)浙0106民初1234号）"
    assert text.startswith("张三：") and "第95条" in text and "经过30日，即视为送达" in text
    assert "《民事起诉状》" in text and "15日内向本院提交答辩状" in text
    assert "2027年3月2日09:30" in text and "缺席判决" in text
    assert "《民事判决书》" in text and "15日内" in text and "上诉于【请填写：上诉法院】" in text
    assert "【请填写：原告的诉讼请求及主要事实和理由】" in text
    assert ID_NUMBER not in text and PHONE not in text and EMAIL not in text
    [attempt] = (await api.dispatch(created["id"]))["attempts"]
    assert (attempt["state"], attempt["provider_ref"]) == ("pending", notice["id"])
    assert notice["attempt_id"] == attempt["id"]
    # A second run of the opener (jobs are at least once) changes nothing.
    await sweep(api.ctx)
    await settled(api.ctx)
    assert (await api.event_types(created["id"])).count("notice_drafted") == 1


async def test_an_english_draft_for_a_party_abroad(api: Api) -> None:
    """en templates; without domicile in China: CPL-283, 60 days, appeal against a ruling 30
    days (CPL-286), answer 30 days (CPL-285)."""
    created = await notice_dispatch(
        api,
        kinds=[("ruling", "Civil ruling"), ("complaint", "Complaint"), ("evidence", "Exhibits")],
        policy="cn-foreign",
        locale="en",
        domicile_in_china=False,
    )
    notice = await drafted(api, created["id"])
    text = notice["body"]
    assert notice["locale"] == "en" and text.startswith("To 张三:")
    assert "Article 283" in text and "deemed served 60 days after" in text
    assert '"Civil ruling"' in text and "within 30 days after the notice period ends" in text
    assert "[To fill in: whether this ruling may be appealed" in text
    assert '"Exhibits". Main content: [To fill in: the main content of the document]' in text


async def test_a_simplified_case_reaches_notice_once_it_converts(api: Api) -> None:
    """CPL-INT-140: simplified procedure fails requires_ordinary_procedure; change_policy to
    cn-civil when the case converts, and the ladder goes on to public notice."""
    created = await notice_dispatch(api, policy="cn-simplified")
    failed = await api.until_state(created["id"], "failed")
    assert failed["state_reason"] == "requires_ordinary_procedure"
    assert failed["allowed_actions"] == ["change_policy", "reassign_owner"]
    response = await act(api, created["id"], "change_policy", policy="cn-civil")
    assert response.status == 200, await response.text()
    assert (await response.json())["state"] == "notice_pending"
    notice = await drafted(api, created["id"])
    assert notice["state"] == "draft"
    dispatch = await api.dispatch(created["id"])
    assert {"edit_notice", "approve_notice", "record_publication"} <= set(
        dispatch["allowed_actions"]
    )
