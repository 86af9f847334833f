"""The text of a public notice (CPL-INT-139), composed from the documents' kinds.

One template per document kind and locale (``notice/<kind>.<locale>.txt``: complaint, summons,
judgment, ruling, mediation statement, and ``other`` for the rest) inside a frame naming the
recipient, the case, the legal basis and the notice period. Facts the dispatch does not carry
(the claim's main points, the hearing's place, the court of appeal…) appear as clearly marked
blanks, :data:`BLANKS`, for the clerk to fill in before a supervisor approves the notice.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from templates import locale_or_default, render

KIND_TEMPLATES = frozenset({"complaint", "summons", "judgment", "ruling", "mediation_statement"})
BLANKS = {"zh-CN": "【请填写：{}】", "en": "[To fill in: {}]"}
# A blank (:data:`BLANKS`) runs from its marker to its closing bracket, or to the end of the
# line when the bracket was deleted: whatever still holds a marker is still a blank.
BLANK = re.compile(r"【请填写[^】\n]*】?|\[To fill in[^\]\n]*\]?")


@dataclass(frozen=True)
class NoticeFacts:
    """What the notice says, as far as the dispatch knows it."""

    locale: str
    court: str
    case_number: str
    recipient_name: str
    documents: Sequence[tuple[str, str]]  # (kind, title)
    article: int  # of the Civil Procedure Law: 95, or 283 for a party abroad
    period_days: int
    answer_days: int
    appeal_days: dict[str, int]  # by document kind (judgment, ruling)
    hearing_time: str | None = None  # already in the court's zone and the locale's format


def compose_notice(facts: NoticeFacts) -> tuple[str, str]:
    """(title, body) of a notice draft in ``facts.locale``."""
    locale = locale_or_default(facts.locale)

    def blank(what: str) -> str:
        return BLANKS[locale].format(what)

    sections = [
        render(
            f"notice/{kind if kind in KIND_TEMPLATES else 'other'}.{locale}.txt",
            title=title,
            blank=blank,
            answer_days=facts.answer_days,
            appeal_days=facts.appeal_days.get(kind, 0),
            hearing_time=facts.hearing_time,
        ).strip()
        for kind, title in facts.documents
    ]
    common = {
        "court": facts.court,
        "case_number": facts.case_number,
        "recipient_name": facts.recipient_name,
    }
    title = render(f"notice/title.{locale}.txt", **common).strip()
    body = render(
        f"notice/frame.{locale}.txt",
        **common,
        sections=sections,
        article=facts.article,
        period_days=facts.period_days,
    )
    return title, body.strip() + "\n"


def has_blanks(text: str) -> bool:
    """True while the text still holds a blank the clerk must fill in."""
    return BLANK.search(text) is not None


def blank_segments(text: str) -> list[tuple[str, bool]]:
    """``text`` cut into (piece, is_blank) in order, so a page can highlight what remains to be
    filled in by the same rule that refuses the approval (:func:`has_blanks`)."""
    pieces: list[tuple[str, bool]] = []
    end = 0
    for found in BLANK.finditer(text):
        if found.start() > end:
            pieces.append((text[end : found.start()], False))
        pieces.append((found.group(), True))
        end = found.end()
    if end < len(text):
        pieces.append((text[end:], False))
    return pieces
