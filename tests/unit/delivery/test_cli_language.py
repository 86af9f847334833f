"""The CLI's language is the operator's locale, chosen as gettext chooses it."""

from __future__ import annotations

import pytest

from delivery.cli.language import locale_from


@pytest.mark.parametrize(
    ("env", "locale"),
    [
        ({}, "en"),
        ({"LANG": "zh_CN.UTF-8"}, "zh-CN"),
        ({"LANG": "zh_CN"}, "zh-CN"),
        ({"LANG": "zh"}, "zh-CN"),
        ({"LANG": "zh_CN.GB18030@stroke"}, "zh-CN"),
        ({"LANG": "en_GB.UTF-8"}, "en"),
        ({"LANG": "C.UTF-8"}, "en"),
        ({"LANG": "zh_TW.UTF-8"}, "en"),
        ({"LANG": "fr_FR.UTF-8"}, "en"),
        # The first that is set wins: LC_ALL, then LC_MESSAGES, then LANG.
        ({"LC_ALL": "C", "LC_MESSAGES": "zh_CN.UTF-8", "LANG": "zh_CN.UTF-8"}, "en"),
        ({"LC_MESSAGES": "zh_CN.UTF-8", "LANG": "en_US.UTF-8"}, "zh-CN"),
        ({"LC_ALL": "zh_CN.UTF-8", "LANG": "C"}, "zh-CN"),
        # Set but empty counts as unset, as in gettext.
        ({"LC_ALL": "", "LC_MESSAGES": "", "LANG": "zh_CN.UTF-8"}, "zh-CN"),
    ],
)
def test_the_locale_follows_gettexts_variables(env: dict[str, str], locale: str) -> None:
    assert locale_from(env) == locale
