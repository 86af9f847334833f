"""Every code of the vocabulary that reaches a person has a label, in both languages."""

from __future__ import annotations

import re
from enum import StrEnum

import pytest

from delivery.domain import DOCUMENT_KINDS, RESUMABLE_FAILURES
from delivery.staff import Role
from delivery.vocabulary import (
    AttemptState,
    Channel,
    ContactKind,
    ContactSource,
    DispatchState,
    EventType,
    FieldTaskState,
    NoticeState,
    RecipientRole,
)
from templates.labels import LABELS, label
from templates.reasons import reason_text

ENUMS: list[tuple[str, type[StrEnum]]] = [
    ("dispatch_state", DispatchState),
    ("attempt_state", AttemptState),
    ("channel", Channel),
    ("contact_kind", ContactKind),
    ("source", ContactSource),
    ("event", EventType),
    ("staff_role", Role),
    ("field_task_state", FieldTaskState),
    ("notice_state", NoticeState),
    ("recipient_role", RecipientRole),
]


@pytest.mark.parametrize(("kind", "enum"), ENUMS, ids=[kind for kind, _ in ENUMS])
def test_every_enum_value_has_a_label(kind: str, enum: type[StrEnum]) -> None:
    assert sorted(set(enum) - set(LABELS[kind])) == []


def test_every_document_kind_has_a_label() -> None:
    assert sorted(DOCUMENT_KINDS - set(LABELS["document_kind"])) == []


@pytest.mark.parametrize("kind", sorted(LABELS))
def test_chinese_labels_are_chinese_and_differ_from_the_code(kind: str) -> None:
    for code in LABELS[kind]:
        zh = label("zh-CN", kind, code)
        assert zh != code and any("\u4e00" <= ch <= "\u9fff" for ch in zh), (kind, code, zh)
        assert label("en", kind, code) == LABELS[kind][code]


def test_the_same_english_word_reads_by_its_context() -> None:
    assert label("zh-CN", "dispatch_state", DispatchState.SERVED) == "已送达"
    assert label("zh-CN", "event", EventType.DISPATCH_SERVED) == "送达完成"


def _codes() -> dict[str, frozenset[str]]:
    """The codes each table must cover, read from where the code defines them."""
    from channels.in_person import visits
    from channels.postal import outcomes
    from channels.public_notice import publications
    from delivery.api.staff.dispatch_page import SHOWN_DETAILS
    from delivery.sandbox.pages import CARRIER_STATUSES
    from delivery.services import ownership
    from delivery.services.clerk_action_handlers import REBUTTALS
    from escalation.policy import shipped_policies

    exhausted = {p.exhausted_reason for p in shipped_policies().values()}
    ladder = {
        "no_e_service_consent",
        "no_address",
        "skipped_by_clerk",
        "window_elapsed",
        "escalated_by_clerk",
        "channel_unavailable",
        "dispatch_cancelled",
        "cancelled_by_case_system",
        "service_completed",
        "bounce",
        "lost",
        "no_field_server_in_court",
    }
    owners = {ownership.NAMED, ownership.CASE, ownership.ROUND_ROBIN, ownership.NONE}
    return {
        "reason": frozenset(
            ladder
            | owners
            | exhausted
            | RESUMABLE_FAILURES
            | outcomes.RETURN_REASONS
            | set(visits.FAILURE_REASONS)
            | set(publications.REASONS)
            | REBUTTALS
        ),
        "carrier_status": outcomes.ON_THE_WAY | frozenset(CARRIER_STATUSES),
        "relation": outcomes.RELATIONS | frozenset(visits.RELATIONS),
        "visit_outcome": frozenset(visits.OUTCOMES),
        "refusal_place": frozenset(visits.FILMED_PLACES),
        "notice_place": frozenset(publications.PLACES),
        "detail": frozenset(SHOWN_DETAILS),
    }


@pytest.mark.parametrize("kind", sorted(_codes()))
def test_every_code_a_person_reads_has_a_label(kind: str) -> None:
    assert sorted(_codes()[kind] - set(LABELS[kind])) == []


@pytest.mark.parametrize(
    "recorded",
    ["returned: moved", "refused by family", "rebuttal: system_error", "round_robin", "lost"],
)
def test_a_recorded_reason_reads_in_chinese(recorded: str) -> None:
    zh = reason_text("zh-CN", recorded)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in zh) and not re.search(r"[a-z]{3}", zh), zh
