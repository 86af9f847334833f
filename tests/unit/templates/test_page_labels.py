"""Every code the public, report and field pages show has a label in the table they read it from.

The pages call ``label(kind, code)``, which shows an unknown code raw rather than break the page:
these tests catch a new grouping, place, receiver, outcome or refusal added without its words.
"""

from __future__ import annotations

import pytest

from channels.in_person import visits
from channels.public_notice.pages import place_choices
from channels.public_notice.publications import FIRST_PLACE, PLACES
from delivery.services.report_figures import DEFINITIONS
from delivery.services.reports import GROUPINGS
from delivery.vocabulary import Channel
from templates.labels import LABELS, label

CODES: list[tuple[str, tuple[str, ...]]] = [
    ("report_grouping", GROUPINGS),
    ("report_measure", tuple(DEFINITIONS)),
    ("service_method", tuple(Channel)),
    ("notice_place", PLACES),
    ("visit_choice", visits.OUTCOMES),
    ("receiver_relation", visits.RELATIONS),
    ("refusal_place", visits.FILMED_PLACES),
    ("attempt_reason", visits.FAILURE_REASONS),
]


@pytest.mark.parametrize(("kind", "codes"), CODES, ids=[kind for kind, _ in CODES])
def test_every_code_a_page_shows_has_a_label(kind: str, codes: tuple[str, ...]) -> None:
    assert sorted(set(codes) - set(LABELS[kind])) == []


def test_the_publication_form_offers_the_courts_website_first_in_the_readers_language() -> None:
    choices = place_choices("zh-CN")
    assert choices[0][0] == FIRST_PLACE
    assert sorted(code for code, _name in choices) == sorted(PLACES)
    assert dict(choices)["residence"] == "受送达人住所地张贴"
    assert dict(place_choices("en"))["residence"] == "posted at the residence"


def test_a_channel_on_the_verification_page_reads_as_a_method_of_service() -> None:
    assert label("zh-CN", "service_method", Channel.POSTAL) == "邮寄送达（法院专递）"
    assert label("en", "service_method", Channel.SMS) == "electronic service (SMS)"
