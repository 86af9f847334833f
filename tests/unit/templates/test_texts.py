"""A refusal made far from its reader reads in the reader's language where it is shown."""

from __future__ import annotations

from delivery.vocabulary import DispatchState
from templates.texts import Code, shown, wording


def test_a_text_is_english_in_logs_and_translated_with_its_codes_labelled() -> None:
    refusal = wording(
        "cancel is not allowed while the dispatch is %(state)s",
        state=Code("dispatch_state", DispatchState.SERVED),
    )
    assert str(refusal) == "cancel is not allowed while the dispatch is served"
    assert refusal.in_locale("zh-CN") == "送达任务当前为“已送达”，不能撤销"


def test_shown_translates_a_text_or_a_plain_msgid_and_leaves_other_words_alone() -> None:
    assert shown("zh-CN", wording("that clerk already owns the dispatch")) != (
        "that clerk already owns the dispatch"
    )
    assert shown("zh-CN", "Not found") == "未找到"
    assert shown("zh-CN", "a carrier's own words") == "a carrier's own words"
