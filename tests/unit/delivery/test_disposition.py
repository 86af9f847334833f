"""A document is saved as `<title>.pdf` (issue 14), with the title made safe as a file name and
carried as RFC 6266 / RFC 8187 allow."""

from __future__ import annotations

import pytest

from delivery.api.http.disposition import Disposition, content_disposition, safe_stem


@pytest.mark.parametrize(
    ("title", "stem"),
    [
        ("传票", "传票"),
        ("判决书/第1号", "判决书_第1号"),
        ("..\\..\\etc\\passwd", "_.._etc_passwd"),
        ("起诉状\r\n\x00", "起诉状"),
        ("file\u202egpj.pdf", "file gpj.pdf"),  # no right-to-left override to fake an extension
        ('a"b;c', "a_b;c"),
        ("...", "document"),
        ("", "document"),
        ("长" * 300, "长" * 120),
    ],
    ids=repr,
)
def test_safe_stem(title: str, stem: str) -> None:
    assert safe_stem(title) == stem


def test_header_names_the_file_by_its_title_in_utf8_with_an_ascii_fallback() -> None:
    assert content_disposition(Disposition.INLINE, "传票", ".pdf") == (
        "inline; filename=\"document.pdf\"; filename*=UTF-8''%E4%BC%A0%E7%A5%A8.pdf"
    )
    assert content_disposition(Disposition.ATTACHMENT, "Judgment 2026-1", ".pdf") == (
        "attachment; filename=\"Judgment 2026-1.pdf\"; filename*=UTF-8''Judgment%202026-1.pdf"
    )


def test_quotes_and_semicolons_cannot_break_the_header() -> None:
    header = content_disposition(Disposition.ATTACHMENT, 'x"; filename="evil.exe', ".pdf")
    assert header.count('"') == 2 and 'evil.exe"' not in header
    assert header.endswith(".pdf")
