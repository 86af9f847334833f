"""A refusal made far from its reader reads in the reader's language where it is shown."""

from __future__ import annotations

from delivery.vocabulary import DispatchState
from templates.texts import Code, wording


def test_a_text_is_english_in_logs_and_translated_with_its_codes_labelled() -> None:
    refusal = wording(
        "cancel is not allowed while the dispatch is %(state)s",
        state=Code("dispatch_state", DispatchState.SERVED),
    )
    assert str(refusal) == "cancel is not allowed while the dispatch is served"
    # The msgid is not in the catalogue (a test's own), so only the code is translated.
    assert refusal.in_locale("zh-CN") == "cancel is not allowed while the dispatch is 已送达"
