"""Problem titles speak the caller's language: English for a program that asks for none,
Chinese for ``Accept-Language: zh-CN`` (or ``?lang=zh-CN``), from the message catalogue."""

from __future__ import annotations

import pytest
from api_client import Api

from delivery.ids import new_id
from integration.api.support import problem


@pytest.mark.parametrize(
    ("headers", "query", "title"),
    [
        ({}, "", "Not found"),
        ({"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}, "", "未找到"),
        ({"Accept-Language": "fr-FR, zh;q=0.5"}, "", "未找到"),
        ({"Accept-Language": "en-GB, zh-CN;q=0.5"}, "", "Not found"),
        ({"Accept-Language": "zh-CN"}, "?lang=en", "Not found"),
        ({}, "?lang=zh-CN", "未找到"),
    ],
)
async def test_a_problem_title_is_in_the_language_asked_for(
    api: Api, headers: dict[str, str], query: str, title: str
) -> None:
    response = await api.client.get(
        f"/api/v1/dispatches/{new_id()}{query}", headers={**api.auth, **headers}
    )
    details = await problem(response, 404, "not-found")
    assert details["title"] == title
    # The type slug is the same in every language: programs branch on it, not on the title.
    assert details["type"] == "urn:songda:problem:not-found"


async def test_a_problem_detail_is_in_the_language_asked_for_too(api: Api) -> None:
    response = await api.client.get(
        f"/api/v1/dispatches/{new_id()}", headers={"Accept-Language": "zh-CN"}
    )
    details = await problem(response, 401, "unauthorized")
    assert details["title"] == "需要 API 密钥"
    assert details["detail"].startswith("请发送 Authorization: Bearer")
    english = await problem(
        await api.client.get(f"/api/v1/dispatches/{new_id()}"), 401, "unauthorized"
    )
    assert english["detail"].startswith("send Authorization: Bearer")
