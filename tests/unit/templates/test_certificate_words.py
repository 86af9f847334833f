"""The proof of service speaks the dispatch's language: its facts, coded values and the rule's
reading from the catalogue — a zh-CN certificate shows no English words, an en one no Chinese."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from integration.templates.page_text import findings

import tracking.proof_sections
from templates.certificate import certificate_html
from templates.certificate_words import FACTS, fact_label, reading
from templates.fonts import font_set
from templates.i18n import ptranslate
from tracking.certificate import AttemptRow, Section
from tracking.proof_sections import Line, reply_fact
from unit.builders import a_certificate_view

# What escalation/rules.py records as the reading of each completing rule.
RECORDED_READINGS = (
    "recipient-confirmed address; accepted by the court's mail server (CPL-INT-135)",
    "recipient-confirmed number; carrier: delivered",
    "court_found address; read after the identity check",
    "court_found address; recipient replied",
    "proof of service signed by the recipient",
    "handed to: family",
    "refused to sign; recorded",
    "left at the residence after a refusal",
    "return receipt signed by: self",
    "returned: refused",
    "public notice, 30 days",
    "public notice abroad, 90 days",
    "posted abroad, no receipt in 3 months",
    "e-mail service complete on sending",
    "mail service complete on mailing",
)
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.mark.parametrize("recorded", RECORDED_READINGS)
def test_every_reading_reads_in_chinese(recorded: str) -> None:
    zh = reading("zh-CN", recorded)
    assert CJK.search(zh), zh
    assert not re.search(r"\b[a-z]{3,}\b", zh), zh  # no English left, codes included


def test_an_unknown_reading_shows_as_recorded() -> None:
    assert reading("zh-CN", "a rule added later") == "a rule added later"


def test_every_fact_a_section_lists_has_its_words() -> None:
    source = Path(tracking.proof_sections.__file__).read_text(encoding="utf-8")
    used = set(re.findall(r'Line\(\s*"(\w+)"', source))
    assert used and sorted(used - set(FACTS)) == []
    for name in FACTS:
        assert CJK.search(fact_label("zh-CN", name)), name


@pytest.mark.parametrize(
    ("data", "fact", "zh"),
    [
        ({"automatic": False, "answers": "service"}, "reply_received", "受送达人已回复"),
        ({"automatic": False}, "reply_received", "受送达人已回复"),  # before 0015: no answers
        ({"automatic": True}, "auto_reply_received", "自动回复（不构成送达）"),
        ({"automatic": False, "answers": "code"}, "other_reply_received", "不构成送达"),
        ({"automatic": False, "answers": "confirmation_request"}, "other_reply_received", "确认"),
    ],
)
def test_a_reply_to_a_code_or_a_confirmation_request_reads_as_no_service(
    data: dict[str, object], fact: str, zh: str
) -> None:
    assert reply_fact(data) == fact
    assert zh in fact_label("zh-CN", fact)


def _every_kind_of_fact(locale: str) -> object:
    """A certificate with a line of every kind: coded values, a publication, a reading."""
    lines = (
        Line("relation", "family", term=True),
        Line("refused_by", "recipient", term=True),
        Line("return_reason", "moved", term=True),
        Line("visit_outcome", "visit_refused_left", term=True),
        Line("refusal_place", "court", term=True),
        Line("notice_reason", "whereabouts_unknown", term=True),
        Line("publication", "court_website|2026-11-23 10:00:00 UTC+08:00", term=True),
        Line("tracking_number", "EMS1234567890CN", mono=True),
    )
    view = a_certificate_view()
    attempt = AttemptRow(
        "postal", "******100号", "court_found", "returned", "returned: moved", "x", None
    )
    return dataclasses.replace(
        view,
        locale=locale,
        reading="return receipt signed by: entity_mailroom",
        sections=(*view.sections, Section("postal", lines)),
        attempts=(*view.attempts, attempt),
    )


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_the_certificate_shows_words_not_codes(locale: str) -> None:
    view = _every_kind_of_fact(locale)
    html = certificate_html(view, font_set())  # type: ignore[arg-type]
    data = ["杭州市西湖区人民法院", "(2026)浙0106民初1234号", "张三之妻", "张三", "传票", "李送达"]
    data += ["浙江省杭州市西湖区文三路100号", "******100号", "Asia/Shanghai", "UTC+08:00"]
    # By design the subtitle (and a preview's watermark) repeat the title in the other language.
    other = "en" if locale == "zh-CN" else "zh-CN"
    titles = ("Proof of service", "Electronic service certificate")
    data += [ptranslate(other, "certificate", t) for t in titles]
    found = findings("certificate", locale, html, data)
    assert not found, "\n".join(str(f) for f in found)
