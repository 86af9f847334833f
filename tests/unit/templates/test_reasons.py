"""Stored reasons read as labels in the page's language (templates/reasons.py)."""

from __future__ import annotations

from templates.reasons import reason_text


def test_a_known_code_reads_as_its_label() -> None:
    assert reason_text("zh-CN", "no_e_service_consent") == "未同意电子送达"
    assert reason_text("en", "no_e_service_consent") == "no consent to electronic service"
    assert reason_text("zh-CN", "round_robin") == "轮流分配"


def test_a_compound_reason_labels_each_known_part() -> None:
    assert reason_text("zh-CN", "returned: moved") == "退回：已迁离"
    assert reason_text("en", "returned: moved") == "returned: moved"
    assert reason_text("zh-CN", "rebuttal: read_by_someone_else") == "送达被推翻：他人阅读"
    assert reason_text("zh-CN", "refused by family") == "拒收人：与受送达人同住的成年家属"
    assert reason_text("zh-CN", "PM-7: signed by a minor") == "PM-7：由未成年人签收"


def test_words_from_outside_are_kept_as_they_came() -> None:
    # The adapter's own message after a labelled prefix: the prefix in Chinese, the rest as is.
    assert reason_text("zh-CN", "channel_unavailable: SMTP refused") == "渠道不可用：SMTP refused"
    assert reason_text("zh-CN", "550 mailbox unavailable") == "550 mailbox unavailable"
    assert reason_text("zh-CN", None) == ""
