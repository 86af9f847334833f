"""Every code of the vocabulary that reaches a person has a label, in both languages."""

from __future__ import annotations

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
from templates.labels import LABELS, label, reason_label

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
    """The codes each new table must cover, read from where the code defines them."""
    from channels.in_person import visits
    from channels.postal import outcomes
    from channels.public_notice import publications
    from delivery.api.staff.dispatch_page import SHOWN_DETAILS
    from delivery.sandbox.pages import CARRIER_STATUSES
    from delivery.services import ownership
    from delivery.services.clerk_action_handlers import REBUTTALS
    from escalation.policy import shipped_policies

    exhausted = {p.exhausted_reason for p in shipped_policies().values()}
    return {
        "owner_reason": frozenset(
            {ownership.NAMED, ownership.CASE, ownership.ROUND_ROBIN, ownership.NONE}
        ),
        "return_reason": outcomes.RETURN_REASONS,
        "carrier_status": outcomes.ON_THE_WAY | frozenset(CARRIER_STATUSES),
        "relation": outcomes.RELATIONS | frozenset(visits.RELATIONS),
        "visit_outcome": frozenset(visits.OUTCOMES),
        "visit_failure": frozenset(visits.FAILURE_REASONS),
        "refusal_place": frozenset(visits.FILMED_PLACES),
        "notice_place": frozenset(publications.PLACES),
        "notice_reason": frozenset(publications.REASONS),
        "rebuttal": REBUTTALS,
        "detail": frozenset(SHOWN_DETAILS),
        "reason": frozenset(
            {
                "no_e_service_consent",
                "no_address",
                "skipped_by_clerk",
                "window_elapsed",
                "escalated_by_clerk",
                "channel_unavailable",
                "dispatch_cancelled",
                "cancelled_by_case_system",
                "service_completed",
                *exhausted,
                *RESUMABLE_FAILURES,
            }
        ),
    }


@pytest.mark.parametrize("kind", sorted(_codes()))
def test_every_code_a_person_reads_has_a_label(kind: str) -> None:
    assert sorted(_codes()[kind] - set(LABELS[kind])) == []


def test_a_recorded_reason_reads_from_its_events_table() -> None:
    assert label("zh-CN", "owner_reason", "round_robin") == "轮流分配"
    assert reason_label("zh-CN", "round_robin", EventType.OWNER_ASSIGNED) == "轮流分配"
    assert reason_label("zh-CN", "moved", EventType.POSTAL_RETURNED) == "迁移未告知"
    assert reason_label("zh-CN", "moved", EventType.VISIT_FAILED) == "已搬离"
    assert reason_label("zh-CN", "no_e_service_consent") == "未同意电子送达"
    assert reason_label("en", "no_e_service_consent") == "no consent to e-service"


def test_a_composed_reason_reads_as_a_sentence() -> None:
    assert reason_label("zh-CN", "returned: moved") == "退回：迁移未告知"
    assert reason_label("zh-CN", "refused by family") == "拒收人：同住成年家属"
    assert reason_label("zh-CN", "rebuttal: system_error") == "推翻送达：系统错误"
    assert reason_label("zh-CN", "channel_unavailable: no SMTP host") == (
        "送达渠道不可用: no SMTP host"
    )
    # A provider's own words are evidence: shown as they came.
    assert reason_label("zh-CN", "550 5.1.1 mailbox unavailable") == "550 5.1.1 mailbox unavailable"
