"""A notice's blanks, cut out of its text by the rule that also refuses the approval."""

from __future__ import annotations

from templates.notices import blank_segments, has_blanks


def test_a_blank_whose_bracket_was_deleted_is_still_a_blank() -> None:
    text = "被告：【请填写：住所地】\n诉讼请求：[To fill in: claims\n本院"
    assert blank_segments(text) == [
        ("被告：", False),
        ("【请填写：住所地】", True),
        ("\n诉讼请求：", False),
        ("[To fill in: claims", True),
        ("\n本院", False),
    ]
    assert has_blanks(text)
    assert blank_segments("没有空白") == [("没有空白", False)] and not has_blanks("没有空白")
